"""Choosing where a batch runs: Ray when asked and installed, else local processes."""

from __future__ import annotations

import os

from agent.batch.local import local_pool
from agent.batch.pool import Pool
from agent.batch.ray_cluster import RAY_EXTRA, ray_available, ray_pool
from agent.batch.work import Loader


def open_pool(loader: Loader, *, workers: int | None = None, cpus: int = 1, ray: bool = False,
              address: str | None = None) -> tuple[Pool, str]:
    """The pool, and a note for the user when Ray was asked for but is not installed.
    Each worker holds `cpus` CPUs and runs as many llama.cpp threads; `workers` defaults
    to as many as the machine's cores (or the Ray cluster's CPUs) hold."""
    wants_ray = ray or address is not None
    if wants_ray and ray_available():
        return ray_pool(loader, workers=workers, cpus=cpus, address=address), ""
    note = f"Ray is not installed ({RAY_EXTRA}): running on local processes instead" if wants_ray else ""
    return local_pool(loader, workers=workers or max(1, (os.cpu_count() or 1) // cpus), cpus=cpus), note

