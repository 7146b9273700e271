"""Scheduling units over workers, whatever runs them (local processes or Ray actors):
each worker takes one unit at a time; a unit whose worker died or raised goes back to
the queue once, for another worker; a second failure is final."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.batch.work import Unit

ATTEMPTS = 2
"""Tries a unit gets in all: its first and one retry elsewhere."""


@dataclass(frozen=True)
class Finished:
    value: object


@dataclass(frozen=True)
class Errored:
    """The unit raised in the worker; the worker lives on."""

    reason: str


@dataclass(frozen=True)
class Died:
    """The worker ended (killed, crashed, its node lost) while it held the unit."""

    reason: str


WorkerEvent = Finished | Errored | Died


class Worker(Protocol):
    @property
    def name(self) -> str: ...


class Backend(Protocol):
    """What runs units: workers it starts and stops, and a wait for their answers."""

    description: str

    def start_worker(self) -> Worker: ...

    def submit(self, worker: Worker, unit: Unit) -> None: ...

    def wait(self, busy: Sequence[Worker], timeout: float) -> list[tuple[Worker, WorkerEvent]]:
        """Answers of busy workers that came in within `timeout` seconds."""
        ...

    def stop_worker(self, worker: Worker) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class UnitDone:
    key: str
    value: object
    attempts: int
    seconds: float
    worker: str


@dataclass(frozen=True)
class UnitFailed:
    key: str
    reason: str
    attempts: int


@dataclass(frozen=True)
class UnitRetried:
    key: str
    reason: str
    worker: str


PoolEvent = UnitDone | UnitFailed | UnitRetried


class Pool:
    """`workers` workers of `backend`; `run(units)` yields each unit's end as it comes."""

    def __init__(self, backend: Backend, *, workers: int) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.backend = backend
        self.size = workers
        self.description = f"{backend.description}, {workers} worker{'s' if workers != 1 else ''}"

    def run(self, units: Sequence[Unit], cancel: threading.Event | None = None) -> Iterator[PoolEvent]:
        """Every unit ends once, as `UnitDone` or `UnitFailed`, unless `cancel` is set first:
        then, as when the iterator is closed early, the workers are stopped and what they
        held is dropped."""
        queue: deque[Unit] = deque(units)
        attempts: dict[str, int] = {}
        tried_on: dict[str, set[str]] = {}
        started: dict[str, float] = {}
        busy: dict[str, tuple[Worker, Unit]] = {}
        idle = [self.backend.start_worker() for _ in range(min(self.size, len(queue)))]
        try:
            while (queue or busy) and not (cancel is not None and cancel.is_set()):
                while idle and queue:
                    worker = idle.pop()
                    unit = _pick(queue, tried_on, worker.name)
                    attempts[unit.key] = attempts.get(unit.key, 0) + 1
                    started[unit.key] = time.monotonic()
                    self.backend.submit(worker, unit)
                    busy[worker.name] = (worker, unit)
                for worker, event in self.backend.wait([w for w, _ in busy.values()], timeout=0.25):
                    _, unit = busy.pop(worker.name)
                    if isinstance(event, Died):
                        self.backend.stop_worker(worker)
                        worker = self.backend.start_worker()
                    idle.append(worker)
                    yield from self._ended(unit, event, worker.name, queue, attempts, tried_on, started)
        finally:
            for worker in [*idle, *(w for w, _ in busy.values())]:
                self.backend.stop_worker(worker)

    def _ended(self, unit: Unit, event: WorkerEvent, worker: str, queue: deque[Unit], attempts: dict[str, int],
               tried_on: dict[str, set[str]], started: dict[str, float]) -> Iterator[PoolEvent]:
        if isinstance(event, Finished):
            yield UnitDone(unit.key, event.value, attempts[unit.key], time.monotonic() - started[unit.key], worker)
            return
        tried_on.setdefault(unit.key, set()).add(worker)
        if attempts[unit.key] >= ATTEMPTS:
            yield UnitFailed(unit.key, event.reason, attempts[unit.key])
            return
        queue.appendleft(unit)
        yield UnitRetried(unit.key, event.reason, worker)

    def close(self) -> None:
        self.backend.close()


def _pick(queue: deque[Unit], tried_on: dict[str, set[str]], worker: str) -> Unit:
    """The first unit this worker has not already failed; else the first unit."""
    for unit in queue:
        if worker not in tried_on.get(unit.key, ()):
            queue.remove(unit)
            return unit
    return queue.popleft()
