"""A long-lived child process for the operations that can run long (solve, integrate, …).

The child is forked on first use and serves one request at a time over a pipe. A request
that outlives its time limit gets the child killed, and a fresh child is forked at once.
Before the first fork this process runs a few fixed, quick computations (`WARM_UP`) so
that sympy's lazily built tables are inherited rather than rebuilt in every child. The
child's address space is capped, so a runaway computation ends in a MemoryError there
instead of exhausting the machine.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess

from agent.errors import ToolError

Job = Callable[[str, int], str]
STARTUP_SECONDS = 30.0
QUEUE_SECONDS = 30.0
MEMORY_HEADROOM = 1024 * 1024 * 1024
WARM_UP = (
    "solve(x^2 - 4)", "integrate(x sin(x), x)", "integrate(exp(-x^2), x, 0, oo)", "simplify(sin(x)^2 + cos(x)^2)",
)


class Worker:
    """Runs `job(expression, digits)` in a child process under a time limit."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._warm = False
        self._owner = os.getpid()

    def run(self, expression: str, digits: int, time_limit: float) -> str:
        self._forget_if_forked()
        if not self._lock.acquire(timeout=QUEUE_SECONDS):
            raise ToolError("the calculator is busy; try again")
        try:
            return self._run(expression, digits, time_limit)
        finally:
            self._lock.release()

    def close(self) -> None:
        """Stop the child process, if one is running."""
        with self._lock:
            self._stop()

    def _run(self, expression: str, digits: int, time_limit: float) -> str:
        conn = self._ready_connection()
        try:
            conn.send((expression, digits))
            if not conn.poll(time_limit):
                self._restart()
                raise ToolError(f"the computation took longer than {time_limit:g} s and was stopped")
            status, text = conn.recv()
        except (EOFError, OSError):
            self._restart()
            raise ToolError("the computation ran out of memory") from None
        if status != "ok":
            raise ToolError(text)
        return str(text)

    def _ready_connection(self) -> Connection:
        if self._conn is None or self._process is None or not self._process.is_alive():
            self._restart()
        conn = self._conn
        assert conn is not None
        if not self._ready:
            try:
                if not conn.poll(STARTUP_SECONDS):
                    raise EOFError
                conn.recv()
            except (EOFError, OSError):
                self._stop()
                raise ToolError("the calculator's worker process did not start") from None
            self._ready = True
        return conn

    def _restart(self) -> None:
        """Replace the child with a fresh one, which warms up while no request waits."""
        self._stop()
        if not self._warm:
            for expression in WARM_UP:
                _reply(self._job, expression, 6)
            self._warm = True
        if "fork" in multiprocessing.get_all_start_methods():
            context: ForkContext | SpawnContext = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self._job), daemon=True, name="calculator")
        process.start()
        child.close()
        self._process, self._conn, self._ready = process, parent, False

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._ready = False
        if process is not None and process.is_alive():
            process.kill()
        if process is not None:
            process.join(timeout=5)
        if conn is not None:
            conn.close()

    def _forget_if_forked(self) -> None:
        """In a forked copy of this process, the child belongs to the original."""
        if os.getpid() != self._owner:
            self._owner = os.getpid()
            self._lock = threading.Lock()
            self._process = self._conn = None
            self._ready = False


def _serve(conn: Connection, job: Job) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_memory()
    conn.send(("ready", ""))
    while True:
        try:
            expression, digits = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(_reply(job, expression, digits))


def _reply(job: Job, expression: str, digits: int) -> tuple[str, str]:
    try:
        return "ok", job(expression, digits)
    except ToolError as exc:
        return "error", str(exc)
    except MemoryError:
        return "error", "the computation ran out of memory"
    except RecursionError:
        return "error", "the expression is too complex"
    except Exception as exc:
        return "error", f"the computation failed: {type(exc).__name__}: {exc}"


def _limit_memory() -> None:
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = used + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft == resource.RLIM_INFINITY or cap < soft:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
