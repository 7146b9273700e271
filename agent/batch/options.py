"""The command-line options of whatever runs on a pool (`agent batch`, `agent eval`); light
to import, as every command's parser is built at start-up."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_pool_options(parser: argparse.ArgumentParser, positive: Callable[[str], int]) -> None:
    """The options of a command that runs on a pool: --workers, --cpus-per-worker, --ray, --ray-address."""
    group = parser.add_argument_group("workers (default: local processes, one per core)")
    group.add_argument("--workers", type=positive, default=None, metavar="N",
                       help="workers, each loading its models once (default: as many as the cores, or the Ray "
                       "cluster's CPUs, hold)")
    group.add_argument("--cpus-per-worker", type=positive, default=1, metavar="N",
                       help="CPUs each worker holds, and its llama.cpp threads (default: 1)")
    group.add_argument("--ray", action="store_true",
                       help="run on Ray (a cluster of this machine alone unless --ray-address is given)")
    group.add_argument("--ray-address", metavar="ADDRESS", default=None,
                       help="the Ray cluster to join (e.g. HEAD:6379, or auto for the one `ray start` made here)")
