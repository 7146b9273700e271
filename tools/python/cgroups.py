"""Control groups for one sandbox: limits for the sandbox as a whole, freezing, killing.

The sandbox gets a group of its own under the host process's own group, in each
hierarchy it needs: cgroup v2 where the host's unified hierarchy offers the controller,
cgroup v1 where a v1 hierarchy does (a host may mix both). What it uses:

- memory: `memory.max` (v2) or `memory.limit_in_bytes` (v1); either counts tmpfs,
  shared memory and memfd pages, so files in the sandbox's in-memory folders count too;
- tasks: `pids.max`, processes and threads together;
- CPU: `cpu.max` (v2) or `cpu.cfs_quota_us` (v1), a share of the machine's cores;
- freezing: `cgroup.freeze` (v2, frozen tasks can still be killed) or `freezer.state`
  (v1, where a killed task dies only once thawed).

`Cgroups.create` returns None where nothing is writable (an unprivileged user without a
delegated subtree); the sandbox then asks systemd for a scope (`scopes`), or falls back to
signals and seccomp.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tools.python.hierarchies import hierarchies, v2_controllers, v2_mount
from tools.python.limits import MIB, SandboxLimits
from tools.python.reaper import remove_group, shared_memory

Mode = Literal["auto", "v1", "off"]
"""Which hierarchies to use: the best the host offers, cgroup v1 only, or none."""

_CPU_PERIOD_US = 100_000
_SETTLE_SECONDS = 2.0


@dataclass
class _Group:
    path: Path
    version: int

    def write(self, name: str, value: str) -> None:
        with open(self.path / name, "w") as f:
            f.write(value)

    def read(self, name: str) -> str:
        with open(self.path / name) as f:
            return f.read()


@dataclass
class Cgroups:
    """The sandbox's groups, one per hierarchy; `roles` says which group does what."""

    groups: list[_Group]
    roles: dict[str, _Group] = field(default_factory=dict)
    """memory, tasks, cpu, freeze → the group that holds that guarantee."""
    _frozen: bool = False
    _fds: dict[str, int] = field(default_factory=dict)
    """Files of the freezer's group kept open: opening a cgroup file costs more than
    reading or writing it."""
    scope: dict[str, str] = field(default_factory=dict)
    """For the groups of a systemd scope (see `scopes`): the properties that set its limits."""

    @classmethod
    def create(cls, limits: SandboxLimits, mode: Mode = "auto") -> Cgroups | None:
        if mode == "off":
            return None
        found = hierarchies()
        own_v2 = found.get("") if mode == "auto" else None
        offered = v2_controllers(own_v2) if own_v2 is not None else set()
        name = f"interleaf-{os.getpid()}-{secrets.token_hex(4)}"
        made: dict[Path, _Group] = {}

        def group(parent: Path, version: int) -> _Group | None:
            if parent not in made:
                try:
                    (parent / name).mkdir()
                except OSError:
                    return None
                made[parent] = _Group(parent / name, version)
            return made[parent]

        roles: dict[str, _Group] = {}
        for role, controller in (("memory", "memory"), ("tasks", "pids"), ("cpu", "cpu"), ("freeze", "freezer")):
            chosen = None
            if own_v2 is not None and (controller in offered or role == "freeze"):
                chosen = group(own_v2, 2)
            if chosen is None and controller in found:
                chosen = group(found[controller], 1)
            if chosen is not None:
                roles[role] = chosen
        cgroups = cls(list(made.values()), roles)
        try:
            cgroups._apply(limits)
        except OSError:
            cgroups.remove()
            return None
        if "freeze" not in cgroups.roles:  # without a freezer the groups are of no use
            cgroups.remove()
            return None
        cgroups._open()
        return cgroups

    @classmethod
    def in_scope(cls, leaf: Path, scope: Path, properties: dict[str, str]) -> Cgroups:
        """The groups of a sandbox started in a systemd scope: it freezes, counts and
        kills through `leaf` (its own, made inside the delegated scope) and holds the
        limits systemd set on the scope, those that took effect."""
        inner, outer = _Group(leaf, 2), _Group(scope, 2)
        roles = {"freeze": inner}
        for role, knob in (("memory", "memory.max"), ("tasks", "pids.max"), ("cpu", "cpu.max")):
            try:
                if not outer.read(knob).startswith("max"):
                    roles[role] = outer
            except OSError:
                pass
        cgroups = cls([inner], roles, scope=properties)
        cgroups._open()
        return cgroups

    def _open(self) -> None:
        g = self.roles["freeze"]
        names = {
            "freeze": ("cgroup.freeze" if g.version == 2 else "freezer.state", os.O_WRONLY),
            "state": ("cgroup.events" if g.version == 2 else "freezer.state", os.O_RDONLY),
        }
        if g.version == 2:
            names.update(procs=("cgroup.procs", os.O_RDONLY), threads=("cgroup.threads", os.O_RDONLY))
        for key, (name, flags) in names.items():
            self._fds[key] = os.open(g.path / name, flags | os.O_CLOEXEC)
        if "tasks" in self.roles:
            self._fds["count"] = os.open(self.roles["tasks"].path / "pids.current", os.O_RDONLY | os.O_CLOEXEC)

    def _read(self, key: str) -> bytes:
        if key in ("procs", "threads") and self.roles["freeze"].version == 1:
            name = "cgroup.procs" if key == "procs" else "tasks"  # v1 caches these lists
            with open(self.roles["freeze"].path / name, "rb") as f:  # per open file: reopen
                return f.read()
        data = b""
        while True:  # a file of the cgroup file system reads from its start at offset 0
            chunk = os.pread(self._fds[key], 65536, len(data))
            data += chunk
            if len(chunk) < 65536:
                return data

    def _apply(self, limits: SandboxLimits) -> None:
        for role in list(self.roles):
            g = self.roles[role]
            try:
                _LIMITS[role](g, limits)
            except OSError:
                if role == "freeze":
                    raise
                del self.roles[role]  # the group exists but this knob is not ours to set

    def join_fds(self) -> list[int]:
        """Open `cgroup.procs` of every group, for the child to write "0" into (joining
        before bubblewrap starts, so everything in the sandbox is counted)."""
        return [os.open(g.path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for g in self.groups]

    def join_paths(self) -> list[str]:
        """The `cgroup.procs` files a process writes "0" into to join the groups."""
        return [str(g.path / "cgroup.procs") for g in self.groups]

    def guarantees(self) -> dict[str, str]:
        names = {
            "memory": "memory of the sandbox as a whole, counting tmpfs, shared memory and memfd",
            "tasks": "processes and threads of the sandbox as a whole",
            "cpu": "CPU share of the sandbox as a whole",
            "freeze": "frozen between calls",
        }
        if self.scope:
            knobs = {"memory": "MemoryMax", "tasks": "TasksMax", "cpu": "CPUQuota"}
            held = {names["memory"]: "not held: systemd did not set MemoryMax on the scope; memory is "
                    "bounded per process and per in-memory folder only (memfd and shared memory are not refused)"}
            held.update({names[r]: f"systemd scope {knobs[r]}={self.scope[knobs[r]]}" if r in knobs
                         else "cgroup v2 cgroup.freeze of a delegated group in a systemd scope" for r in self.roles})
            return held
        return {names[r]: f"cgroup v{g.version} {_KNOBS[r, g.version]}" for r, g in self.roles.items()}

    # --- freezing ----------------------------------------------------------------

    def freeze(self, *, wait: bool = True) -> bool:
        """Freeze the group. From the moment this is asked no task in it returns to user
        space and tasks forked meanwhile are born frozen; `wait` waits until every task
        has actually stopped (which needs each to be scheduled once)."""
        if not self._frozen:
            os.write(self._fds["freeze"], b"1" if self.roles["freeze"].version == 2 else b"FROZEN")
            self._frozen = True
        return self._wait_frozen(time.monotonic() + _SETTLE_SECONDS) if wait else True

    @property
    def frozen(self) -> bool:
        """Whether a freeze was asked for and not undone."""
        return self._frozen

    def thaw(self) -> None:
        if self._frozen:
            os.write(self._fds["freeze"], b"0" if self.roles["freeze"].version == 2 else b"THAWED")
            self._frozen = False

    def is_frozen(self) -> bool:
        """Whether every task has actually stopped (read only: asks for nothing)."""
        state = self._read("state")
        return b"frozen 1" in state or state.strip() == b"FROZEN"

    def _wait_frozen(self, deadline: float) -> bool:
        while True:
            if self.is_frozen():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0002)

    @property
    def kill_needs_thaw(self) -> bool:
        """cgroup v1: a frozen task that is sent SIGKILL dies only once thawed."""
        return self.roles["freeze"].version == 1

    # --- what runs ---------------------------------------------------------------

    def processes(self) -> list[int]:
        """Thread-group ids in the sandbox, zombie leaders with live threads included."""
        try:
            return [int(p) for p in self._read("procs").split()]
        except (OSError, KeyError):
            return []

    def task_count(self) -> int | None:
        """Tasks of the sandbox, counted from the moment a fork begins (`pids.current`),
        so a fork still under way is counted too; None without the pids controller."""
        if "count" not in self._fds:
            return None
        return int(self._read("count"))

    def threads(self) -> list[int]:
        """Thread ids in the sandbox (live threads; a zombie leader is not among them)."""
        try:
            return [int(t) for t in self._read("threads").split()]
        except (OSError, KeyError):
            return []

    def kill_all(self) -> None:
        """SIGKILL everything in the sandbox and wait (briefly) until it is gone."""
        g = self.roles["freeze"]
        deadline = time.monotonic() + _SETTLE_SECONDS
        if g.version == 2:
            with suppress(OSError):
                g.write("cgroup.kill", "1")
        while True:
            left = self.processes()
            if not left or time.monotonic() > deadline:
                break
            for pid in left:
                with suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if g.version == 1:
                self.thaw()
            time.sleep(0.002)
        self.thaw()

    def oom_kills(self) -> int:
        g = self.roles.get("memory")
        if g is None:
            return 0
        try:
            text = g.read("memory.events" if g.version == 2 else "memory.oom_control")
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def _wait_released(self) -> None:
        """Wait (briefly) until the shared memory charged to the group is freed: the kernel
        frees an emptied sandbox's SysV segments a little after its last process is gone,
        and a group removed sooner leaves them charged to the host's own group."""
        g = self.roles.get("memory")
        if g is None or g not in self.groups:  # a systemd scope's
            return
        deadline = time.monotonic() + _SETTLE_SECONDS
        while shared_memory(str(g.path)) and time.monotonic() < deadline:
            time.sleep(0.002)

    def remove(self) -> None:
        """Remove the groups; anything still in them is killed first."""
        if self.groups and "freeze" in self.roles and self._fds:
            self.kill_all()
            self._wait_released()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        for g in self.groups:
            remove_group(str(g.path), time.monotonic() + _SETTLE_SECONDS, pause=0.002)
        self.groups = []


def _memory(g: _Group, limits: SandboxLimits) -> None:
    size = str(limits.sandbox_memory_mb * MIB)
    if g.version == 2:
        g.write("memory.max", size)
        with suppress(OSError):
            g.write("memory.swap.max", "0")
        return
    g.write("memory.limit_in_bytes", size)
    with suppress(OSError):  # only with swap accounting
        g.write("memory.memsw.limit_in_bytes", size)


def _tasks(g: _Group, limits: SandboxLimits) -> None:
    g.write("pids.max", str(limits.processes + 1))  # and bubblewrap's own waiting process


def _cpu(g: _Group, limits: SandboxLimits) -> None:
    quota = max(1000, int(limits.cpus * _CPU_PERIOD_US))
    if g.version == 2:
        g.write("cpu.max", f"{quota} {_CPU_PERIOD_US}")
    else:
        g.write("cpu.cfs_period_us", str(_CPU_PERIOD_US))
        g.write("cpu.cfs_quota_us", str(quota))


def _freeze(g: _Group, limits: SandboxLimits) -> None:
    g.read("cgroup.events" if g.version == 2 else "freezer.state")


_KNOBS = {
    ("memory", 1): "memory.limit_in_bytes", ("memory", 2): "memory.max",
    ("tasks", 1): "pids.max", ("tasks", 2): "pids.max",
    ("cpu", 1): "cpu.cfs_quota_us", ("cpu", 2): "cpu.max",
    ("freeze", 1): "freezer.state", ("freeze", 2): "cgroup.freeze",
}
_LIMITS = {"memory": _memory, "tasks": _tasks, "cpu": _cpu, "freeze": _freeze}


__all__ = ["Cgroups", "Mode", "hierarchies", "v2_mount"]
