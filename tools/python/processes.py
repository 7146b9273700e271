"""One running sandbox as the host holds it: the process, its pipes, and how to end it."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from contextlib import suppress

from tools.python.cgroups import Cgroups
from tools.python.containment import Containment, descendants, live_threads
from tools.python.limits import SandboxLimits
from tools.python.protocol import Channel, ChannelTimeout, ProtocolError
from tools.python.reaper import Watch


class Process:
    """A started sandbox. `kill` ends every process in it; it may be called many times."""

    def __init__(
        self, popen: subprocess.Popen[bytes], limits: SandboxLimits, *, isolated: bool,
        info_fd: int | None = None, scratch: tempfile.TemporaryDirectory[str] | None = None,
        containment: Containment | None = None, attach: Callable[[], Cgroups] | None = None,
        reaper: Watch | None = None,
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
        self.containment = containment
        self._attach = attach
        """Finds the sandbox's control groups once it runs (those of a systemd scope)."""
        self._signal_lock = threading.Lock()
        self._stderr = ""
        self._dead = False
        self._reaper = reaper
        """Ends the sandbox if the host dies without ending it."""

    def handshake(self, deadline: float) -> None:
        """Wait until the interpreter is ready, and take hold of the sandbox's PID 1."""
        hello = self.channel.receive(deadline)
        if not hello.get("ready"):
            raise ProtocolError("the sandbox did not announce itself")
        if self._attach is not None and self.containment is not None:
            try:
                self.containment.cgroups = self._attach()
                if self._reaper is not None:
                    for group in self.containment.cgroups.groups:
                        self._reaper.control_group(str(group.path), group.version)
            except OSError as exc:
                raise ProtocolError(f"the sandbox's control groups were not found: {exc}") from None
        if self._info_fd is not None:
            self._pidfd = self._hold_init(deadline)
        problem = self.settle(hello.get("pid"))
        if problem:
            raise ProtocolError(problem)

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
        if self._reaper is not None:
            self._reaper.process(pid)
        return pidfd

    def resume(self) -> None:
        """Thaw the sandbox for a call."""
        if self.containment is not None:
            self.containment.resume()

    def settle(self, interpreter: object) -> str | None:
        """Freeze the sandbox and clear out all but the supervisor and the interpreter
        (`interpreter` is the pid the interpreter gave, in its namespace); None if that
        worked, else what went wrong. Judged from the host, whatever the code did."""
        if self.containment is None or self.init_pid is None:
            return None
        return self.containment.settle(self.init_pid, interpreter if isinstance(interpreter, int) else None)

    def interrupt(self) -> None:
        """Kill the sandbox from another thread while a call waits on it; the waiting
        call then ends as if the sandbox had died."""
        with self._signal_lock:
            if self._dead:
                return
            if self._pidfd is not None:
                with suppress(OSError):
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            elif not self.isolated:
                with suppress(OSError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
            if self.containment is not None:
                self.containment.kill_all()

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
        with self._signal_lock:
            self._dead = True
            self._kill_now()
        for pipe in (self.popen.stdin, self.popen.stdout):  # PID 1 also exits on this
            if pipe is not None:
                with suppress(OSError):
                    pipe.close()
        if self.wait(5.0) is None:  # bubblewrap exits once it has reaped PID 1
            self.popen.kill()
            self.wait(10.0)
        if self.containment is not None:
            self.containment.close()
        self._stderr = self._drain_stderr()
        if self._info_fd is not None:
            os.close(self._info_fd)
            self._info_fd = None
        if self._scratch is not None:
            self._scratch.cleanup()
        if self._reaper is not None:
            self._reaper.done()
        return self._stderr

    def _kill_now(self) -> None:
        if self.containment is not None:  # everything, wherever in the tree, thawed to die
            self.containment.kill_all()
        if self._pidfd is not None:  # PID 1's death ends every process in the namespace
            with suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            os.close(self._pidfd)
            self._pidfd = None
        elif not self.isolated and self.popen.returncode is None:
            with suppress(OSError):
                os.killpg(self.popen.pid, signal.SIGKILL)

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


def describe_exit(code: int | None, limits: SandboxLimits, isolated: bool) -> str:
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


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def find_processes(root: int) -> dict[int, int]:
    """Every descendant of `root` with a live thread, as the host sees it: pid → number
    of live threads (a zombie leader whose other threads still run is counted)."""
    counted = {pid: live_threads(pid) for pid in descendants(root)}
    return {pid: n for pid, n in counted.items() if n}
