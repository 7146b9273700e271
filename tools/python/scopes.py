"""Where the sandbox's control groups come from, and a transient systemd scope when the
host process cannot make them itself.

On a cgroup-v2-only host an unprivileged user's process usually sits in a group it may
not write to (a login session's scope): it cannot make a child group. systemd can: the
sandbox is started through `systemd-run --user --scope -p Delegate=yes` with the limits as
the scope's properties (MemoryMax, MemorySwapMax, TasksMax, CPUQuota); a shell started in
the scope moves itself into a leaf group of its own (`sandbox`, writable by the user as
the scope is delegated) and becomes bubblewrap. The host freezes, counts and kills
through that leaf and reads the scope's counters; systemd removes the scope once empty.

`place` decides, in this order: groups made directly (`Cgroups.create`); a scope, where
cgroup v2 is mounted, `systemd-run` exists and a trial scope starts; else none, with the
reason, and the sandbox falls back to signals and seccomp (see `ExecResult.guarantees`).
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.python.cgroups import Cgroups, Mode, hierarchies, v2_mount
from tools.python.limits import SandboxLimits

LEAF = "sandbox"
_SHELL = "/bin/sh"
_PROBE_SECONDS = 10.0
_MOVE_INTO_LEAF = (
    'own=; while IFS= read -r line; do case "$line" in 0::*) own="${line#0::}";; esac; '
    'done < /proc/self/cgroup; [ -n "$own" ] && leaf="$0$own/' + LEAF + '" && '
    'mkdir "$leaf" && echo 0 > "$leaf/cgroup.procs" && exec "$@"'
)


@dataclass(frozen=True)
class Scope:
    """A transient systemd scope to start each sandbox in."""

    systemd_run: str
    user: bool
    mount: Path
    """Where the cgroup v2 hierarchy is mounted."""
    env: tuple[tuple[str, str], ...] = ()
    """What systemd-run needs of the environment to reach the manager."""

    def command(self, limits: SandboxLimits) -> list[str]:
        """The prefix that starts a command in a new scope, moved into its leaf group."""
        unit = f"interleaf-{os.getpid()}-{secrets.token_hex(4)}.scope"
        args = [self.systemd_run, *(["--user"] if self.user else []), "--scope", "--quiet", "--collect",
                f"--unit={unit}", "-p", "Delegate=yes"]
        for name, value in scope_properties(limits).items():
            args += ["-p", f"{name}={value}"]
        return [*args, "--", _SHELL, "-c", _MOVE_INTO_LEAF, str(self.mount)]

    def attach(self, pid: int, limits: SandboxLimits) -> Cgroups:
        """The groups of the sandbox whose outermost process is `pid` (already started).
        Raises OSError where it is not in a leaf of a scope."""
        own = _own_v2_path(Path(f"/proc/{pid}/cgroup").read_text())
        if own is None or Path(own).name != LEAF:
            raise OSError(f"process {pid} is not in a scope's leaf group ({own})")
        leaf = self.mount / own.lstrip("/")
        return Cgroups.in_scope(leaf, leaf.parent, scope_properties(limits))


@dataclass(frozen=True)
class Placement:
    """How one sandbox gets its control groups: made directly, through a scope, or not
    at all (`statement` says which, and why)."""

    cgroups: Cgroups | None
    scope: Scope | None
    statement: str

    @property
    def memory_bounded(self) -> bool:
        return self.scope is not None or (self.cgroups is not None and "memory" in self.cgroups.roles)


def scope_properties(limits: SandboxLimits) -> dict[str, str]:
    return {
        "MemoryMax": str(limits.sandbox_memory_mb * 1024 * 1024), "MemorySwapMax": "0",
        "TasksMax": str(limits.processes + 1),  # and bubblewrap's own waiting process
        "CPUQuota": f"{max(1, round(limits.cpus * 100))}%",
    }


def place(limits: SandboxLimits, mode: Mode, *, environ: Mapping[str, str] | None = None,
          scope_finder: Callable[[Mapping[str, str]], Scope | str] | None = None) -> Placement:
    """Control groups for one sandbox; `environ` and `scope_finder` stand in for the
    host's in tests."""
    if mode == "off":
        return Placement(None, None, "none: turned off (cgroups=\"off\")")
    cgroups = Cgroups.create(limits, mode)
    if cgroups is not None:
        versions = sorted({g.version for g in cgroups.groups})
        return Placement(cgroups, None, "groups made under the host process's own (cgroup " +
                         " and ".join(f"v{v}" for v in versions) + ")")
    direct = _why_not_direct(mode)
    if mode != "auto":
        return Placement(None, None, f"none: {direct}")
    found = (scope_finder or find_scope)(os.environ if environ is None else environ)
    if isinstance(found, Scope):
        return Placement(None, found, f"a transient systemd scope ({direct}); "
                         f"{'systemd-run --user' if found.user else 'systemd-run'} --scope -p Delegate=yes")
    return Placement(None, None, f"none: {direct}, and no systemd scope: {found}")


def _why_not_direct(mode: Mode) -> str:
    found = hierarchies()
    if not found:
        return "no control group hierarchy is mounted"
    wanted = {k: v for k, v in found.items() if mode == "auto" or k}
    places = ", ".join(sorted({str(p) for p in wanted.values()})) or "no cgroup v1 hierarchy"
    return f"no group can be made under this process's own ({places})"


def find_scope(environ: Mapping[str, str], *, user: bool | None = None) -> Scope | str:
    """A scope this host can start (a user's, unless root), or why not."""
    user = os.geteuid() != 0 if user is None else user
    return _find_scope(user, environ.get("XDG_RUNTIME_DIR", ""),
                       environ.get("DBUS_SESSION_BUS_ADDRESS", ""), environ.get("PATH", os.defpath))


def _find_scope(user: bool, runtime_dir: str, bus: str, path: str) -> Scope | str:
    mount = v2_mount()
    if mount is None:
        return "cgroup v2 is not mounted"
    systemd_run = shutil.which("systemd-run", path=path)
    if systemd_run is None:
        return "systemd-run is not installed"
    if user and not bus and not (runtime_dir and os.path.exists(os.path.join(runtime_dir, "bus"))):
        return "no user session bus (XDG_RUNTIME_DIR/bus or DBUS_SESSION_BUS_ADDRESS) for systemd-run --user"
    if not user and not os.path.isdir("/run/systemd/system"):
        return "systemd is not the init system"
    env = {"PATH": path, **({"XDG_RUNTIME_DIR": runtime_dir} if runtime_dir else {}),
           **({"DBUS_SESSION_BUS_ADDRESS": bus} if bus else {})}
    scope = Scope(systemd_run, user, mount, tuple(sorted(env.items())))
    problem = _trial(scope)
    return scope if problem is None else f"systemd-run could not start a scope ({problem})"


@functools.lru_cache(maxsize=8)
def _trial(scope: Scope) -> str | None:
    """Start a scope that runs `true`, once per process and way of asking."""
    trial = [scope.systemd_run, *(["--user"] if scope.user else []), "--scope", "--quiet", "--collect",
             "-p", "Delegate=yes", "true"]
    try:
        done = subprocess.run(trial, capture_output=True, text=True, timeout=_PROBE_SECONDS, env=dict(scope.env))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
    return None


def _own_v2_path(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("0::"):
            return line[3:].strip()
    return None
