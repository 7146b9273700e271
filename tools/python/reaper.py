"""Ending a sandbox whose host process died without ending it (SIGKILL, a crash).

The host has a small watcher process, started with its first sandbox, outside the
sandboxes' control groups (so it is never frozen) and in a session of its own (so signals
meant for the host's terminal do not reach it). The host holds the write end of a pipe
to it and tells it, line by line, what to end of each sandbox: its processes (held by
pidfd, so a pid used again by another process is never hit), its process group where it
has no namespace of its own, and its control groups; and when the host has ended a
sandbox itself, that it is done. When the pipe closes, the host has died: the watcher
kills every process it still holds, thaws the groups (a cgroup v1 task dies only once
thawed; a process stopped with SIGSTOP dies of SIGKILL anyway), waits until they are
empty and their shared memory is freed, and removes them. A child forked from the host
closes its copy of the pipe at once.

This file runs as the watcher's script too (`python -I -S reaper.py`): it imports only the
standard library.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress

_SETTLE_SECONDS = 5.0


class Reaper:
    """The host's end of its watcher: one process for all of the host's sandboxes,
    started with the first one."""

    def __init__(self) -> None:
        self._popen = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", os.path.abspath(__file__)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
            start_new_session=True, cwd="/", env={},
        )
        self.pid = self._popen.pid
        self._lock = threading.Lock()
        self._count = 0

    @property
    def alive(self) -> bool:
        return self._popen.poll() is None and self._popen.stdin is not None

    def watch(self) -> Watch:
        with self._lock:
            self._count += 1
            return Watch(self, self._count)

    def tell(self, line: str) -> None:
        with self._lock:
            if self._popen.stdin is not None:
                with suppress(OSError, ValueError):
                    self._popen.stdin.write(line.encode() + b"\n")
                    self._popen.stdin.flush()

    def _forget(self) -> None:
        """In a forked child: let the parent's watcher see its parent die."""
        if self._popen.stdin is not None:
            with suppress(OSError):
                self._popen.stdin.close()
            self._popen.stdin = None


_reaper: Reaper | None = None
_reaper_lock = threading.Lock()


def watch() -> Watch:
    """A new sandbox's entry with this host's watcher (started if there is none)."""
    global _reaper
    with _reaper_lock:
        if _reaper is None or not _reaper.alive:
            _reaper = Reaper()
        return _reaper.watch()


def _after_fork() -> None:
    global _reaper
    if _reaper is not None:
        _reaper._forget()
        _reaper = None


os.register_at_fork(after_in_child=_after_fork)


class Watch:
    """What the watcher ends of one sandbox if the host dies."""

    def __init__(self, reaper: Reaper, key: int) -> None:
        self._reaper: Reaper | None = reaper
        self._key = key

    @property
    def pid(self) -> int | None:
        return self._reaper.pid if self._reaper is not None else None

    def process(self, pid: int) -> None:
        """End this process (alive now, and not yet waited for)."""
        self._tell(f"pid {pid}")

    def process_group(self, pgid: int) -> None:
        """End this process group (its leader alive now)."""
        self._tell(f"pgroup {pgid}")

    def control_group(self, path: str, version: int) -> None:
        """Kill what is in this control group and remove it."""
        self._tell(f"group {version} {path}")

    def done(self) -> None:
        """The host has ended the sandbox itself: nothing of it is left to end."""
        self._tell("done")
        self._reaper = None

    def _tell(self, line: str) -> None:
        if self._reaper is not None:
            self._reaper.tell(f"{self._key} {line}")


# --- the watcher ---------------------------------------------------------------


def _alive(pidfd: int) -> bool:
    return not select.select([pidfd], [], [], 0)[0]


def _tasks(path: str) -> list[int]:
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def _write(path: str, name: str, value: str) -> None:
    with suppress(OSError):
        with open(os.path.join(path, name), "w") as f:
            f.write(value)


def shared_memory(path: str) -> int:
    """Bytes of shared memory still charged to a memory control group (0 when unknown)."""
    try:
        with open(os.path.join(path, "memory.stat")) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "shmem":
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _has_members(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


def _end(pidfds: list[int], groups: list[tuple[int, str]], pgroups: list[int]) -> None:
    deadline = time.monotonic() + _SETTLE_SECONDS
    while True:
        for pgid in pgroups:  # a group's id is not given to a new process while it has members
            with suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
        for version, path in groups:
            if version == 2:
                _write(path, "cgroup.kill", "1")
            for pid in _tasks(path):
                with suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        for pidfd in pidfds:
            with suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        for version, path in groups:  # the killed die once thawed
            _write(path, "cgroup.freeze" if version == 2 else "freezer.state", "0" if version == 2 else "THAWED")
        busy = any(_alive(fd) for fd in pidfds) or any(_tasks(path) for _, path in groups) or any(
            _has_members(pgid) for pgid in pgroups)
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    while any(shared_memory(path) for _, path in groups) and time.monotonic() < deadline:
        time.sleep(0.005)  # freed a little after the last process: then uncharged
    for _, path in groups:
        remove_group(path, deadline)


def remove_group(path: str, deadline: float, *, pause: float = 0.005) -> None:
    """Remove an emptied control group, trying again until `deadline` while the kernel
    still counts it busy."""
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(pause)


def _watch() -> None:
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE):
        signal.signal(number, signal.SIG_IGN)
    pidfds: dict[str, list[int]] = {}
    groups: dict[str, list[tuple[int, str]]] = {}
    pgroups: dict[str, list[int]] = {}
    for raw in sys.stdin.buffer:
        key, _, line = raw.decode("utf-8", "surrogateescape").rstrip("\n").partition(" ")
        kind, _, rest = line.partition(" ")
        if kind == "done":
            for fd in pidfds.pop(key, []):
                os.close(fd)
            groups.pop(key, None)
            pgroups.pop(key, None)
        elif kind == "pid":
            with suppress(OSError, ValueError):
                pidfds.setdefault(key, []).append(os.pidfd_open(int(rest)))
        elif kind == "pgroup":
            with suppress(ValueError):
                pgroups.setdefault(key, []).append(int(rest))
        elif kind == "group":
            version, _, path = rest.partition(" ")
            groups.setdefault(key, []).append((int(version), path))
    _end([fd for fds in pidfds.values() for fd in fds], [g for gs in groups.values() for g in gs],
         [p for ps in pgroups.values() for p in ps])


if __name__ == "__main__":
    _watch()
