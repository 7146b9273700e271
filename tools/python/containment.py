"""Keeping a sandbox still between calls and clearing out what a call left, from the host.

After each call the sandbox is frozen (cgroup freezer, or SIGSTOP to every process
without cgroups), then the host counts what runs in it by threads, not processes: only
the supervisor (PID 1) and the interpreter, one thread each, may stay. Everything else,
zombie leaders whose other threads still run included, is killed. The interpreter is
thawed only for the next call.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import suppress

from tools.python.cgroups import Cgroups

_ROUNDS = 4
_WAIT_SECONDS = 1.0

WITHOUT_CGROUPS = {
    "memory of the sandbox as a whole, counting tmpfs, shared memory and memfd":
        "not held: memory is bounded per process and per in-memory folder; memfd_create and shmget are refused",
    "processes and threads of the sandbox as a whole": "RLIMIT_NPROC (per uid)",
    "CPU share of the sandbox as a whole": "not held: CPU time is bounded per process and per call",
    "frozen between calls": "SIGSTOP to every process of the sandbox",
}


def live_threads(pid: int) -> int:
    """Threads of `pid` that are not dead (a zombie leader's live threads count)."""
    count = 0
    for tid in _listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        count += state not in (b"Z", b"X")
    return count


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def descendants(root: int) -> list[int]:
    """Every descendant of `root`, as the host's /proc shows them."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    parent = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(name))
    found: list[int] = []
    queue = list(children.get(root, []))
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


class Containment:
    """Freeze, count and clear one sandbox. `outside` is bubblewrap's own process on the
    host, which waits for the sandbox and is no part of it."""

    def __init__(self, cgroups: Cgroups | None, outside: int, placement: str = "") -> None:
        self.cgroups = cgroups
        self.outside = outside
        self.placement = placement
        """Where the control groups come from, or why there are none."""
        self._stopped: set[int] = set()
        self._init: int | None = None
        self._kept: tuple[int, int] | None = None
        """The interpreter: its namespace pid and its host pid."""
        self._guard = threading.Lock()
        self._unconfirmed = False
        self._wake = threading.Event()
        self._confirmer: threading.Thread | None = None
        self._closed = False

    def guarantees(self) -> dict[str, str]:
        held = dict(WITHOUT_CGROUPS)
        if self.placement:
            held["control groups"] = self.placement
        if self.cgroups is not None:
            held.update(self.cgroups.guarantees())
        return held

    def census(self) -> dict[int, int]:
        """Thread-group id → live threads, for everything in the sandbox."""
        if self.cgroups is None:
            pids = descendants(self.outside)
        else:  # v1 leaves a zombie leader out of cgroup.procs: find it from its threads
            pids = self.cgroups.processes()
            seen = {int(t) for pid in pids for t in _listdir(f"/proc/{pid}/task")}
            for tid in set(self.cgroups.threads()) - seen:
                leader = _status(tid).get("Tgid", "").strip()
                if leader.isdigit() and int(leader) not in pids:
                    pids.append(int(leader))
        counted = {pid: live_threads(pid) for pid in pids if pid != self.outside}
        return {pid: n for pid, n in counted.items() if n}

    def freeze(self) -> bool:
        if self.cgroups is not None:
            return self.cgroups.freeze()
        for _ in range(_ROUNDS * 4):  # stopped processes cannot fork: this converges
            fresh = [pid for pid in self.census() if pid not in self._stopped]
            if not fresh:
                return self._all_stopped()
            for pid in fresh:
                with suppress(OSError):
                    os.kill(pid, signal.SIGSTOP)
                self._stopped.add(pid)
        return False

    def _all_stopped(self) -> bool:
        """Whether every process sent SIGSTOP has stopped (or is gone), waiting up to
        `_WAIT_SECONDS`: a signal takes effect only when its process is next scheduled."""
        deadline = time.monotonic() + _WAIT_SECONDS
        while True:
            running = [pid for pid in self._stopped if _status(pid).get("State", "T")[:1] not in "TtZX"]
            if not running:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)

    def thaw(self) -> None:
        if self.cgroups is not None:
            self.cgroups.thaw()
            return
        for pid in self._stopped:
            with suppress(OSError):
                os.kill(pid, signal.SIGCONT)
        self._stopped.clear()

    def settle(self, init_pid: int, interpreter: int | None) -> str | None:
        """Freeze the sandbox and kill all but the supervisor and the interpreter (its
        PID-namespace pid is `interpreter`). None if that worked, else what is wrong.

        With a cgroup freezer the usual case does not wait for the freeze to complete:
        once it is asked no task returns to user space, so a count from the group's own
        lists of exactly bubblewrap, the supervisor and the interpreter, one thread each,
        stands but for a fork under way in that moment, whose child is born frozen. A
        thread of the host's counts again once the freeze is complete, and kills such a
        child; `resume` does the same if the next call comes first."""
        self._init = init_pid
        if self.cgroups is not None:
            self.cgroups.freeze(wait=False)
            if self._kept is None or self._kept[0] != interpreter:  # a new interpreter
                self._interpreter(self.census(), init_pid, interpreter)
            if self._only_kept(interpreter):
                self._confirm_later()
                return None
        for _ in range(_ROUNDS):
            if not self.freeze():
                return "the sandbox could not be frozen"
            found = self.census()
            keep = self._interpreter(found, init_pid, interpreter)
            if keep is None:
                return "the interpreter could not be found"
            if found.get(init_pid) != 1 or found[keep] != 1:
                return "threads would not stop"
            extra = [pid for pid in found if pid not in (init_pid, keep)]
            if not extra:
                return None
            self._kill(extra)
        return "background processes would not stop"

    def resume(self) -> None:
        """Thaw the sandbox for a call, first killing what the last count could not see."""
        with self._guard:
            self._confirm()
            self.thaw()

    def _confirm(self) -> None:
        """Kill what a fork under way while the freeze was asked left (call with the guard)."""
        kept = self._kept
        if self._unconfirmed and self.cgroups is not None and self.cgroups.frozen and kept is not None:
            if not self._only_kept(kept[0]):
                extra = [pid for pid in self.census() if pid not in (self._init, kept[1])]
                if extra:
                    self._kill(extra)
        self._unconfirmed = False

    def _confirm_later(self) -> None:
        with self._guard:
            self._unconfirmed = True
        if self._confirmer is None:
            self._confirmer = threading.Thread(target=self._confirm_loop, name="interleaf-freeze", daemon=True)
            self._confirmer.start()
        self._wake.set()

    def _confirm_loop(self) -> None:
        assert self.cgroups is not None
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            deadline = time.monotonic() + _WAIT_SECONDS
            with suppress(OSError, KeyError):  # KeyError: closed meanwhile
                while self._unconfirmed and not self.cgroups.is_frozen() and time.monotonic() < deadline:
                    time.sleep(0.001)
                with self._guard:
                    if not self._closed and self.cgroups.frozen and self.cgroups.is_frozen():
                        self._confirm()

    def _only_kept(self, interpreter: int | None) -> bool:
        """From the group's own lists, without /proc: nothing but bubblewrap, the
        supervisor and the remembered interpreter, one thread each."""
        if self.cgroups is None or self._kept is None or self._kept[0] != interpreter:
            return False
        if self.cgroups.task_count() != 3:  # first: read after the freeze was asked
            return False
        expected = {self.outside, self._init, self._kept[1]}
        procs = self.cgroups.processes()
        return len(procs) == 3 and set(procs) == expected and sorted(self.cgroups.threads()) == sorted(procs)

    def _interpreter(self, found: dict[int, int], init_pid: int, interpreter: int | None) -> int | None:
        """The interpreter's host pid, remembered while its namespace pid stays the same."""
        if self._kept is not None and self._kept[0] == interpreter and self._kept[1] in found:
            return self._kept[1]
        keep = _find_interpreter(found, init_pid, interpreter)
        self._kept = None if keep is None or interpreter is None else (interpreter, keep)
        return keep

    def _kill(self, pids: list[int]) -> None:
        for pid in pids:
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        held: list[int] = []
        if self.cgroups is not None and self.cgroups.kill_needs_thaw and self.cgroups.frozen:
            # v1: the killed die only once thawed; the supervisor and the interpreter are
            # stopped first, so the thaw lets nothing else run
            held = [pid for pid in (self._init, self._kept[1] if self._kept else None) if pid]
            for pid in held:
                with suppress(OSError):
                    os.kill(pid, signal.SIGSTOP)
            self.cgroups.thaw()
        deadline = time.monotonic() + _WAIT_SECONDS
        while any(live_threads(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.001)
        self._stopped.difference_update(pids)
        if held and self.cgroups is not None:
            self.cgroups.freeze()
            for pid in held:
                with suppress(OSError):
                    os.kill(pid, signal.SIGCONT)

    def kill_all(self) -> None:
        """SIGKILL everything in the sandbox, thawed so it dies now. Bubblewrap's own
        process is left to reap PID 1, so its exit still means the sandbox is gone."""
        for pid in self.census():
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if self.cgroups is not None:
            self.cgroups.thaw()
        self._stopped.clear()

    def oom_kills(self) -> int:
        return self.cgroups.oom_kills() if self.cgroups is not None else 0

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        with self._guard:
            if self.cgroups is not None:
                self.cgroups.remove()
            self._stopped.clear()


def _find_interpreter(found: dict[int, int], init_pid: int, interpreter: int | None) -> int | None:
    """The host pid of the interpreter: the process of the sandbox with that namespace pid
    (its parent may not be PID 1 yet: a renewed interpreter's old process may still be
    on its way out)."""
    if interpreter is None:
        return None
    for pid in found:
        ids = _status(pid).get("NSpid", "").split()
        if pid != init_pid and ids and ids[-1] == str(interpreter):
            return pid
    return None
