"""Where the host's control group hierarchies are, and this process's own group in each."""

from __future__ import annotations

import os
from pathlib import Path


def hierarchies() -> dict[str, Path]:
    """controller → this process's own group in that hierarchy ("" for cgroup v2)."""
    mounts: dict[str, Path] = {}
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
        with open("/proc/self/cgroup") as f:
            own = f.read().splitlines()
    except OSError:
        return {}
    roots: dict[str, tuple[Path, str]] = {}
    for line in lines:
        fields = line.split()
        dash = fields.index("-")
        kind, options = fields[dash + 1], fields[dash + 3].split(",")
        if kind == "cgroup2":
            roots.setdefault("", (Path(fields[4]), fields[3]))
        elif kind == "cgroup":
            for option in options:
                roots.setdefault(option, (Path(fields[4]), fields[3]))
    for line in own:
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        for controller in controllers.split(",") if controllers else [""]:
            if controller in roots:
                mount, root = roots[controller]
                relative = os.path.relpath(path, root) if path.startswith(root) else None
                if relative is not None:
                    mounts[controller] = (mount / relative).resolve()
    return mounts


def v2_mount() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted, if it is."""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if fields[fields.index("-") + 1] == "cgroup2":
                    return Path(fields[4])
    except (OSError, ValueError, IndexError):
        pass
    return None


def v2_controllers(own: Path) -> set[str]:
    """Controllers the v2 group can hand to a child; enables them where it can."""
    try:
        offered = set((own / "cgroup.controllers").read_text().split())
    except OSError:
        return set()
    enabled = set()
    for controller in offered & {"memory", "pids", "cpu"}:
        try:
            (own / "cgroup.subtree_control").write_text(f"+{controller}")
            enabled.add(controller)
        except OSError:
            pass
    return enabled
