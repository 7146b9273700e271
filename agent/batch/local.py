"""Workers as local processes (spawned, so no state of the driver leaks in): each keeps
its models between units and answers over a pipe. A worker ignores Ctrl-C: the driver
decides what stops."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from agent.batch.pool import Backend, Died, Errored, Finished, Pool, Worker, WorkerEvent
from agent.batch.work import Loader, Unit, WorkerState


@dataclass
class _Process:
    name: str
    process: BaseProcess
    conn: Connection


class LocalBackend:
    """Worker processes on this machine, `threads` llama.cpp threads each."""

    def __init__(self, loader: Loader, *, threads: int) -> None:
        self.loader = loader
        self.threads = threads
        self.description = f"a local process pool ({threads} thread{'s' if threads != 1 else ''} per worker)"
        self._context = multiprocessing.get_context("spawn")
        self._count = 0

    def start_worker(self) -> Worker:
        self._count += 1
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(theirs, self.loader, self.threads),
                                        name=f"interleaf-worker-{self._count}", daemon=True)
        process.start()
        theirs.close()
        return _Process(process.name or f"worker-{self._count}", process, ours)

    def submit(self, worker: Worker, unit: Unit) -> None:
        assert isinstance(worker, _Process)
        try:
            worker.conn.send(unit)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            pass  # its death shows in `wait`

    def wait(self, busy: Sequence[Worker], timeout: float) -> list[tuple[Worker, WorkerEvent]]:
        workers = [w for w in busy if isinstance(w, _Process)]
        ready = set(wait([w.conn for w in workers] + [w.process.sentinel for w in workers], timeout))
        answers: list[tuple[Worker, WorkerEvent]] = []
        for worker in workers:
            if worker.conn in ready:
                try:
                    answers.append((worker, worker.conn.recv()))
                    continue
                except (EOFError, ConnectionResetError):
                    pass
            if worker.conn in ready or worker.process.sentinel in ready:
                worker.process.join(timeout=5)
                answers.append((worker, Died(_exit_reason(worker.process.exitcode))))
        return answers

    def stop_worker(self, worker: Worker) -> None:
        assert isinstance(worker, _Process)
        worker.conn.close()
        if worker.process.is_alive():
            worker.process.terminate()
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()

    def close(self) -> None:
        pass


def local_pool(loader: Loader, *, workers: int, cpus: int | None = None) -> Pool:
    """`workers` local processes sharing this machine's cores (or `cpus` threads each)."""
    threads = cpus or max(1, (os.cpu_count() or 1) // workers)
    backend: Backend = LocalBackend(loader, threads=threads)
    return Pool(backend, workers=workers)


def _serve(conn: Connection, loader: Loader, threads: int) -> None:
    """A worker process: run each unit it is sent, answer with what became of it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    state = WorkerState(loader, threads)
    try:
        while True:
            try:
                unit = conn.recv()
            except (EOFError, OSError):
                return
            conn.send(run_unit(state, unit))
    finally:
        state.close()


def run_unit(state: WorkerState, unit: Unit) -> WorkerEvent:
    """What became of `unit` on this worker: its value, or the error it raised."""
    try:
        return Finished(unit.execute(state))
    except Exception as exc:
        return Errored(f"{type(exc).__name__}: {exc}")


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"the worker process was killed ({signal.Signals(-code).name})"
        except ValueError:
            return f"the worker process was killed (signal {-code})"
    return f"the worker process ended (exit code {code})"


__all__ = ["LocalBackend", "local_pool", "run_unit"]
