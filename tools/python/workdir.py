"""What the code leaves in a folder of the host's that is bound into the sandbox.

After every call (the sandbox is frozen then, or killed if the call reset it, so nothing
changes underneath) the host walks the folder without following links: set-user-ID and set-group-ID bits of files are
cleared, and symbolic links that lead out of the folder are removed, but for those that were there
before the sandbox started (the host's own, by path and target). Hard links cannot reach out:
the folder is a mount of its own in the sandbox, and links do not cross mounts.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Set as AbstractSet
from contextlib import suppress
from pathlib import Path

_SPECIAL = stat.S_ISUID | stat.S_ISGID


def links(folder: Path) -> set[tuple[str, str]]:
    """The symbolic links in `folder` now: (path, target) pairs."""
    found = set()
    for current, dirs, files in os.walk(os.path.realpath(folder)):
        for name in dirs + files:
            path = os.path.join(current, name)
            if os.path.islink(path):
                with suppress(OSError):
                    found.add((path, os.readlink(path)))
    return found


def sanitize(folder: Path, kept: AbstractSet[tuple[str, str]] = frozenset()) -> list[str]:
    """Clear what could hurt the host in `folder`, leaving the links in `kept` alone; the
    paths changed, relative to it."""
    changed: list[str] = []
    root = os.path.realpath(folder)
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                if not _inside(os.path.realpath(entry.path), root) and not _kept(entry.path, kept):
                    with suppress(OSError):
                        os.unlink(entry.path)
                        changed.append(os.path.relpath(entry.path, root))
                continue
            if info.st_mode & _SPECIAL and stat.S_ISREG(info.st_mode):
                with suppress(OSError):
                    os.chmod(entry.path, stat.S_IMODE(info.st_mode) & ~_SPECIAL, follow_symlinks=False)
                    changed.append(os.path.relpath(entry.path, root))
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
    return changed


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _kept(path: str, kept: AbstractSet[tuple[str, str]]) -> bool:
    try:
        return (path, os.readlink(path)) in kept
    except OSError:
        return False
