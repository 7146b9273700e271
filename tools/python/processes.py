"""One running sandbox as the host holds it: the process, its pipes, and how to end it."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import tempfile
import time
from contextlib import suppress

from tools.python.limits import Limits
from tools.python.protocol import Channel, ChannelTimeout, ProtocolError


class Process:
    """A started sandbox. `kill` ends every process in it; it may be called many times."""

    def __init__(
        self, popen: subprocess.Popen[bytes], limits: Limits, *, isolated: bool,
        info_fd: int | None = None, scratch: tempfile.TemporaryDirectory[str] | None = None,
    ) -> None:
        assert popen.stdin is not None and popen.stdout is not None
        self.popen = popen
        self.pid = popen.pid
        self.isolated = isolated
        self.channel = Channel(
            popen.stdout.fileno(), popen.stdin.fileno(), max_message=32 * limits.max_output + 65536,
        )
        self._info_fd = info_fd
        self._pidfd: int | None = None
        self.init_pid: int | None = None
        """The host pid of the sandbox's PID 1, once known."""
        self._scratch = scratch
        self._stderr = ""
        self._dead = False

    def handshake(self, deadline: float) -> None:
        """Wait until the interpreter is ready, and take hold of the sandbox's PID 1."""
        if not self.channel.receive(deadline).get("ready"):
            raise ProtocolError("the sandbox did not announce itself")
        if self._info_fd is not None:
            self._pidfd = self._hold_init(deadline)

    def _hold_init(self, deadline: float) -> int | None:
        """A pidfd of the namespace's PID 1, the sure way to end the whole sandbox."""
        assert self._info_fd is not None
        data = b""
        try:
            while True:
                Channel._wait(self._info_fd, select.POLLIN, deadline)
                chunk = os.read(self._info_fd, 4096)
                if not chunk:
                    break
                data += chunk
        except ChannelTimeout:
            return None
        finally:
            os.close(self._info_fd)
            self._info_fd = None
        try:
            pid = int(json.loads(data)["child-pid"])
            pidfd = os.pidfd_open(pid)
        except (ValueError, KeyError, TypeError, OSError):
            return None
        if _parent_of(pid) != self.pid:  # not the process bubblewrap started
            os.close(pidfd)
            return None
        self.init_pid = pid
        return pidfd

    def stray(self, seconds: float = 1.0) -> bool:
        """Whether anything but the supervisor and the single-threaded interpreter is
        still running in the sandbox: checked from the host, whatever the code did to the
        interpreter. Processes on their way out get `seconds` to finish."""
        if self.init_pid is None:
            return False
        deadline = time.monotonic() + seconds
        while not self._tidy():
            if time.monotonic() > deadline:
                return True
            time.sleep(0.005)
        return False

    def _tidy(self) -> bool:
        assert self.init_pid is not None
        kids = _live_children(self.init_pid)
        if kids is None:  # no /proc/PID/task/TID/children here: walk the whole tree
            return len(_live(list(find_processes(self.pid)))) == 2
        if len(kids) != 1:
            return False
        return _live_children(kids[0]) == [] and _threads(kids[0]) == 1 == _threads(self.init_pid)

    def alive(self) -> bool:
        if self._dead or self.popen.poll() is not None:
            return False
        if self._pidfd is not None:  # readable once PID 1 has exited
            return not select.select([self._pidfd], [], [], 0)[0]
        return True

    def wait(self, seconds: float = 5.0) -> int | None:
        try:
            return self.popen.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> str:
        """End the sandbox and everything in it; returns what it wrote to stderr."""
        if self._dead:
            return self._stderr
        self._dead = True
        if self._pidfd is not None:  # PID 1's death ends every process in the namespace
            with suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            os.close(self._pidfd)
            self._pidfd = None
        elif not self.isolated and self.popen.returncode is None:
            with suppress(OSError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        for pipe in (self.popen.stdin, self.popen.stdout):  # PID 1 also exits on this
            if pipe is not None:
                with suppress(OSError):
                    pipe.close()
        if self.wait(5.0) is None:  # bubblewrap exits once it has reaped PID 1
            self.popen.kill()
            self.wait(10.0)
        self._stderr = self._drain_stderr()
        if self._info_fd is not None:
            os.close(self._info_fd)
            self._info_fd = None
        if self._scratch is not None:
            self._scratch.cleanup()
        return self._stderr

    def _drain_stderr(self) -> str:
        stream = self.popen.stderr
        if stream is None:
            return ""
        data = b""
        with suppress(OSError):
            os.set_blocking(stream.fileno(), False)
            while len(data) < 65536:
                chunk = os.read(stream.fileno(), 65536)
                if not chunk:
                    break
                data += chunk
        stream.close()
        return data.decode("utf-8", "replace").strip()


def describe_exit(code: int | None, limits: Limits, isolated: bool) -> str:
    """Why the interpreter ended, from the exit status the host saw."""
    if code is None:
        return "the sandbox stopped responding"
    number = code - 128 if isolated and code > 128 else -code if code < 0 else 0
    if number == signal.SIGXCPU:
        return f"the call used more than {limits.cpu_seconds} s of CPU time"
    if number == signal.SIGKILL:
        return "the interpreter was killed (SIGKILL), for example past its CPU time limit"
    if number:
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"the interpreter was killed by {name}"
    return f"the interpreter exited with code {code}"


def _stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name: state, ppid, ..."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _parent_of(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def _live(pids: list[int]) -> list[int]:
    """Those not dead yet (zombies are dead, only waiting to be reaped)."""
    alive = []
    for pid in pids:
        fields = _stat(pid)
        if fields and fields[0] not in (b"Z", b"X"):
            alive.append(pid)
    return alive


def _live_children(pid: int) -> list[int] | None:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
            return _live([int(c) for c in f.read().split()])
    except FileNotFoundError:
        return None if os.path.exists(f"/proc/{pid}") else []
    except OSError:
        return []


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def find_processes(root: int) -> dict[int, int]:
    """Every descendant of `root`, as the host sees it: pid → number of threads."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            parent = _parent_of(int(name))
            if parent is not None:
                children.setdefault(parent, []).append(int(name))
    found: dict[int, int] = {}
    queue = list(children.get(root, []))
    while queue:
        pid = queue.pop()
        try:
            found[pid] = len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
        queue.extend(children.get(pid, []))
    return found

