"""Daemon threads that run a sync tool while its caller waits, under a time limit.

The caller hands a call over through a socket pair and waits on another. Such a wake-up
tells the kernel that the waker is about to wait, and on Linux the worker is first placed on the
caller's CPU: the call then runs where its caller was, instead of waking an idle CPU for
it (on a virtual machine that costs tens of µs a call, more than the rest of the call's
path). The worker gives itself back its CPUs before it runs the tool, so the threads and
processes a tool starts are placed freely. A call past its limit is abandoned: its worker
finishes it unwatched and is then free again; a worker never keeps the process alive."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any


_FOREVER = 10**6
"""Seconds past which a limit is no limit."""


class CallTimeout(Exception):
    """The call did not end within its time limit; it goes on, unwatched."""


class Workers:
    """A pool of worker threads, one per call at a time: a call takes an idle worker or
    starts one, and gives it back when it ends."""

    def __init__(self, *, place: bool = True) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self.place = place
        """Whether a worker is placed on its caller's CPU before each call."""

    def call(self, fn: Callable[..., Any], arguments: Mapping[str, Any], timeout: float) -> Any:
        """`fn(**arguments)` on a worker: its value, or the exception it raised; raises
        `CallTimeout` after `timeout` seconds."""
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        return (worker or _Worker(self)).call(fn, arguments, timeout)

    def give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def forget(self) -> None:
        """Drop every idle worker: in a child made by `fork` their threads do not exist."""
        self._idle = []
        self._lock = threading.Lock()


class _Worker:
    def __init__(self, pool: Workers) -> None:
        self._pool = pool
        self._wake_read, self._wake = socket.socketpair()
        self._done_read, self._done = socket.socketpair()
        for end in (self._wake_read, self._done_read):
            end.settimeout(None)  # whatever `socket.setdefaulttimeout` says
        self._limit: float | None = None
        self._lock = threading.Lock()
        self._job: tuple[Callable[..., Any], Mapping[str, Any]] | None = None
        self._outcome: tuple[bool, Any] | None = None
        self._abandoned = False
        thread = threading.Thread(target=self._work, name="interleaf-tool", daemon=True)
        thread.start()
        self._thread_id = thread.native_id

    def call(self, fn: Callable[..., Any], arguments: Mapping[str, Any], timeout: float) -> Any:
        self._job = (fn, arguments)
        if self._pool.place:
            _PLACER.place(self._thread_id)
        self._wake.send(b"\0")
        try:
            self._wait(None if timeout >= _FOREVER else max(timeout, 1e-6))
        except TimeoutError:
            if self._abandon():
                raise CallTimeout from None
            self._wait(None)  # it has just ended: its word is on its way
        except BaseException:  # a Ctrl-C while waiting: the call goes on unwatched
            if not self._abandon():
                self._wait(None)
                self._take()
            raise
        ok, value = self._take()
        if ok:
            return value
        raise value

    def _wait(self, limit: float | None) -> None:
        """Until the worker says the call ended; `TimeoutError` after `limit` seconds."""
        if limit != self._limit:
            self._done_read.settimeout(limit)
            self._limit = limit
        self._done_read.recv(1)

    def _take(self) -> tuple[bool, Any]:
        """The call's outcome; the worker is free again."""
        outcome, self._outcome = self._outcome, None
        self._pool.give_back(self)
        assert outcome is not None
        return outcome

    def _abandon(self) -> bool:
        """Leave the call to end unwatched, unless it has just ended (then False)."""
        with self._lock:
            self._abandoned = self._outcome is None
            return self._abandoned

    def _work(self) -> None:
        home = _PLACER.home()
        while True:
            self._wake_read.recv(1)
            _PLACER.restore(home)
            job, self._job = self._job, None
            assert job is not None
            fn, arguments = job
            try:
                outcome: tuple[bool, Any] = (True, fn(**arguments))
            except BaseException as exc:  # handed to the waiting caller
                outcome = (False, exc)
            del job, fn, arguments
            with self._lock:
                abandoned, self._abandoned = self._abandoned, False
                if not abandoned:
                    self._outcome = outcome
            del outcome
            if abandoned:
                self._pool.give_back(self)
            else:
                self._done.send(b"\0")


class _Placer:
    """Places a worker on the CPU its caller runs on (Linux with glibc's `sched_getcpu`);
    elsewhere, or once the system refuses, it does nothing."""

    def __init__(self) -> None:
        self._getcpu: Callable[[], int] | None = None
        self._tried = False
        self._placed = False

    def place(self, thread_id: int | None) -> None:
        getcpu = self._getcpu if self._tried else self._load()
        if getcpu is None or thread_id is None:
            return
        try:
            os.sched_setaffinity(thread_id, (getcpu(),))
            self._placed = True
        except OSError:
            self._getcpu = None

    def home(self) -> set[int] | None:
        """The CPUs the calling thread may run on, to give back after each placement."""
        return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None

    def restore(self, home: set[int] | None) -> None:
        if home is not None and self._placed:
            try:
                os.sched_setaffinity(0, home)
            except OSError:
                self._getcpu = None

    def _load(self) -> Callable[[], int] | None:
        self._tried = True
        if hasattr(os, "sched_setaffinity"):
            try:
                import ctypes

                getcpu = ctypes.CDLL(None, use_errno=True).sched_getcpu
                if getcpu() >= 0:
                    self._getcpu = getcpu
            except (OSError, AttributeError):
                pass
        return self._getcpu


_PLACER = _Placer()
WORKERS = Workers()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WORKERS.forget)
