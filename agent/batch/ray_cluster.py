"""Workers as Ray actors, one per worker, each holding `cpus` CPUs of the cluster and
as many llama.cpp threads; each keeps its models between units. The only module that
imports Ray (an optional extra: `pip install 'interleaf[ray]'`)."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.batch.local import run_unit
from agent.batch.pool import Died, Errored, Pool, Worker, WorkerEvent
from agent.batch.work import Loader, Unit, WorkerState

RAY_EXTRA = "pip install 'interleaf[ray]'"
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Set to 0, Ray binds a cluster it starts to 127.0.0.1 (its default on a laptop)."""


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


class _Actor:
    """The body of a Ray worker: a `WorkerState` that lives as long as the actor."""

    def __init__(self, loader: Loader, threads: int) -> None:
        self.state = WorkerState(loader, threads)

    def execute(self, unit: Unit) -> WorkerEvent:
        return run_unit(self.state, unit)


@dataclass
class _ActorWorker:
    name: str
    handle: Any
    ref: Any = None


class RayBackend:
    """Actors on the Ray cluster at `address`; without one, a cluster of this machine
    alone, started here (on 127.0.0.1) and stopped at `close()`."""

    def __init__(self, loader: Loader, *, cpus: int, address: str | None = None) -> None:
        if address is None:
            os.environ.setdefault(LOOPBACK_ENV, "0")
        import ray

        self._ray: Any = ray
        self._owned = not ray.is_initialized()
        if self._owned:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        self.loader = loader
        self.cpus = cpus
        self._class = ray.remote(num_cpus=cpus, max_restarts=0, max_task_retries=0)(_Actor)
        self._count = 0
        where = f"the Ray cluster at {address}" if address else "a Ray cluster on this machine"
        self.description = f"{where} ({cpus} CPU{'s' if cpus != 1 else ''} per worker)"

    def cluster_cpus(self) -> int:
        return int(self._ray.cluster_resources().get("CPU", 1))

    def start_worker(self) -> Worker:
        self._count += 1
        return _ActorWorker(f"ray-worker-{self._count}", self._class.remote(self.loader, self.cpus))

    def submit(self, worker: Worker, unit: Unit) -> None:
        assert isinstance(worker, _ActorWorker)
        worker.ref = worker.handle.execute.remote(unit)

    def wait(self, busy: Sequence[Worker], timeout: float) -> list[tuple[Worker, WorkerEvent]]:
        by_ref = {w.ref: w for w in busy if isinstance(w, _ActorWorker)}
        if not by_ref:
            return []
        ready, _ = self._ray.wait(list(by_ref), num_returns=1, timeout=timeout)
        return [(by_ref[ref], self._answer(ref)) for ref in ready]

    def _answer(self, ref: Any) -> WorkerEvent:
        from ray.exceptions import RayActorError, RayError

        try:
            event: WorkerEvent = self._ray.get(ref)
        except RayActorError as exc:
            return Died(f"the Ray worker died ({type(exc).__name__})")
        except RayError as exc:
            return Errored(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return event

    def stop_worker(self, worker: Worker) -> None:
        assert isinstance(worker, _ActorWorker)
        try:
            self._ray.kill(worker.handle, no_restart=True)
        except Exception:
            pass

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()


def ray_pool(loader: Loader, *, workers: int | None = None, cpus: int = 1, address: str | None = None) -> Pool:
    """A pool of Ray actors; `workers` defaults to as many as the cluster's CPUs hold."""
    backend = RayBackend(loader, cpus=cpus, address=address)
    count = workers or max(1, backend.cluster_cpus() // cpus)
    return Pool(backend, workers=count)


__all__ = ["RAY_EXTRA", "RayBackend", "ray_available", "ray_pool"]
