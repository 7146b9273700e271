"""What the sandbox sees of the host: the interpreter, its standard library, the system's
shared libraries and the allowed packages, all read-only; a private work directory and /tmp.

Everything else of the host (home directories, /etc, /tmp, /run, /sys, /proc) is absent,
because the sandbox starts from an empty root. Nothing in the sandbox is at a path that
names the host's folders: the packages are at /opt/packages, a bound work directory at
/work, an interpreter of the host's own at /opt/python.
"""

from __future__ import annotations

import functools
import glob
import importlib.metadata as metadata
import importlib.util
import os
import re
import sys
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.errors import ConfigError

WORKER_DIR = "/opt/interleaf"
PACKAGES_DIR = "/opt/packages"
PYTHON_DIR = "/opt/python"
WORK_DIR = "/work"
_WORKER_FILES = ("worker.py", "repl.py")
_LIBRARY_DIRS = ("/lib", "/lib32", "/lib64", "/libx32", "/usr/lib", "/usr/lib32", "/usr/lib64")
_SYSTEM_FILES = ("/etc/ld.so.cache", "/usr/share/zoneinfo")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class PythonInstall:
    """The files of the host's base interpreter that the sandbox needs."""

    executable: str
    stdlib: tuple[str, ...]
    """Directories of the standard library and its extension modules."""
    libraries: tuple[str, ...]
    """libpython, for an interpreter built as a shared library."""


def find_python() -> PythonInstall:
    """The base interpreter this process runs on (outside any virtual environment)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    executable = os.path.realpath(base)
    stdlib = os.path.realpath(os.path.dirname(os.__file__))
    dirs = [stdlib]
    for entry in sys.path:
        if entry.endswith("lib-dynload") and os.path.isdir(entry):
            real = os.path.realpath(entry)
            if not _inside(real, stdlib):
                dirs.append(real)
    libs: list[str] = []
    libdir = sysconfig.get_config_var("LIBDIR")
    if sysconfig.get_config_var("Py_ENABLE_SHARED") and isinstance(libdir, str):
        libs = sorted(glob.glob(os.path.join(libdir, "libpython3*.so*")))
    return PythonInstall(executable, tuple(dirs), tuple(libs))


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def package_entries(names: Iterable[str]) -> list[Path]:
    """The top-level files and folders of the named distributions and their dependencies.

    Raises ConfigError for a name that is neither an installed distribution nor an
    importable module.
    """
    return list(_package_entries(tuple(names)))


@functools.lru_cache(maxsize=32)
def _package_entries(names: tuple[str, ...]) -> tuple[Path, ...]:
    entries: dict[str, Path] = {}
    seen: set[str] = set()
    queue = [(name, True) for name in names]
    while queue:
        name, required = queue.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if required:
                for path in _module_paths(name):
                    entries.setdefault(path.name, path)
            continue
        for path in _distribution_paths(dist):
            entries.setdefault(path.name, path)
        queue.extend((dep, False) for dep in _dependencies(dist))
    return tuple(sorted(entries.values()))


def _distribution_paths(dist: metadata.Distribution) -> list[Path]:
    root = Path(str(dist.locate_file("")))
    tops = {f.parts[0] for f in dist.files or () if f.parts and f.parts[0] not in ("..", "__pycache__")}
    return [root / top for top in sorted(tops) if not Path(top).is_absolute() and (root / top).exists()]


def _dependencies(dist: metadata.Distribution) -> list[str]:
    names = []
    for requirement in dist.requires or ():
        name, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        found = _REQUIREMENT_NAME.match(name)
        if found:
            names.append(found.group(1))
    return names


def _module_paths(name: str) -> list[Path]:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        raise ConfigError(f"package {name!r} is not installed, so the sandbox cannot import it")
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    origin = Path(str(spec.origin))
    if _inside(str(origin.resolve()), find_python().stdlib[0]):
        return []  # part of the standard library, which the sandbox has anyway
    return [origin]


@dataclass(frozen=True)
class SandboxPython:
    """The interpreter as the sandbox sees it: where its files are bound, and where from."""

    executable: str
    """The interpreter's path inside the sandbox."""
    binds: tuple[tuple[str, str], ...]
    """(host path, path inside the sandbox) of its files and folders."""
    library_path: str | None
    """Where its shared libraries are, when they moved (for LD_LIBRARY_PATH)."""
    rewritten: tuple[tuple[str, bytes], ...] = ()
    """Files copied in over the bound ones, (path inside the sandbox, content): the build
    configuration (`sysconfig`), with the host's prefix replaced by PYTHON_DIR."""


def sandbox_python(python: PythonInstall) -> SandboxPython:
    """An interpreter installed in a folder of the host's own (pyenv, uv, a build of
    one's own: often in a home directory) is bound at PYTHON_DIR, laid out as under its
    prefix, so no host path shows in the sandbox (sys.executable, sys.path, PATH, module
    files); a system interpreter stays at its own, neutral, paths."""
    stdlib = python.stdlib[0]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = any(_inside(stdlib, lib) for lib in _LIBRARY_DIRS)
    if system or os.path.basename(stdlib) != version or not os.path.isfile(os.path.join(stdlib, "os.py")):
        own = [python.executable, *python.libraries, *python.stdlib]
        return SandboxPython(python.executable, tuple((path, path) for path in own), None)
    binds = [(python.executable, f"{PYTHON_DIR}/bin/{os.path.basename(python.executable)}")]
    binds += [(lib, f"{PYTHON_DIR}/lib/{os.path.basename(lib)}") for lib in python.libraries]
    binds.append((stdlib, f"{PYTHON_DIR}/lib/{version}"))
    binds += [(tree, tree) for tree in python.stdlib[1:] if not _inside(tree, stdlib)]
    rewritten = _build_configuration(stdlib, f"{PYTHON_DIR}/lib/{version}")
    return SandboxPython(binds[0][1], tuple(binds), f"{PYTHON_DIR}/lib" if python.libraries else None, rewritten)


@functools.lru_cache(maxsize=4)
def _build_configuration(stdlib: str, target: str) -> tuple[tuple[str, bytes], ...]:
    """`_sysconfigdata_*.py` with the host's prefix replaced: `sysconfig.get_config_var`
    would name it otherwise."""
    prefixes = sorted({sys.base_prefix, os.path.realpath(sys.base_prefix)}, key=len, reverse=True)
    found = []
    for path in sorted(glob.glob(os.path.join(stdlib, "_sysconfigdata_*.py"))):
        with open(path, "rb") as f:
            data = f.read()
        for prefix in prefixes:
            if prefix not in ("/", "/usr", "/usr/local"):
                data = data.replace(prefix.encode(), PYTHON_DIR.encode())
        found.append((f"{target}/{os.path.basename(path)}", data))
    return tuple(found)


def _hidden_package_dirs(binds: Sequence[tuple[str, str]]) -> list[str]:
    """Package folders inside the bound trees (their paths in the sandbox), masked so
    only the allowed ones import."""
    found = set()
    for source, target in binds:
        for pattern in ("*-packages", "python3*/*-packages"):
            for path in glob.glob(os.path.join(source, pattern)):
                if os.path.isdir(path) and not os.path.islink(path):
                    found.add(target + path[len(source):])
    return sorted(found)


def filesystem_args(
    python: SandboxPython, packages: Sequence[Path], files: Mapping[str, int], *,
    workdir: Path | None, disk_mb: int,
) -> list[str]:
    """bubblewrap arguments that build the sandbox's file system; `files` maps paths in
    the sandbox to file descriptors holding what is copied in there (see `data_files`).

    The sandbox has no /proc: a bind mount's line in /proc/self/mountinfo names the
    folder it came from on the host, whatever path it is bound at."""
    args: list[str] = []
    trees: list[tuple[str, str]] = []
    for lib in _LIBRARY_DIRS:
        if os.path.islink(lib):
            args += ["--symlink", os.readlink(lib), lib]
        elif os.path.isdir(lib):
            args += ["--ro-bind", lib, lib]
            trees.append((lib, lib))
    for file in _SYSTEM_FILES:
        if os.path.exists(file) and not any(_inside(file, t) for t, _ in trees):
            args += ["--ro-bind", file, file]
    for source, target in python.binds:
        if os.path.exists(source) and not (source == target and any(_inside(source, t) for t, _ in trees)):
            args += ["--ro-bind", source, target]
            if os.path.isdir(source):
                trees.append((source, target))
    if python.executable.startswith(PYTHON_DIR + "/"):
        for alias in {"python3", "python"} - {os.path.basename(python.executable)}:
            args += ["--symlink", os.path.basename(python.executable), f"{PYTHON_DIR}/bin/{alias}"]
    for hidden in _hidden_package_dirs(trees):
        args += ["--tmpfs", hidden, "--remount-ro", hidden]
    for path in packages:
        args += ["--ro-bind", str(path), f"{PACKAGES_DIR}/{path.name}"]
    for target, fd in files.items():  # copied in: the worker's files, not bound from the repository
        args += ["--perms", "0644", "--ro-bind-data", str(fd), target]
    size = str(disk_mb * 1024 * 1024)
    args = _parent_dirs(args) + args
    args += ["--dev", "/dev"]
    for scratch in ("/tmp", "/dev/shm"):
        args += ["--perms", "1777", "--size", size, "--tmpfs", scratch]
    if workdir is None:
        args += ["--perms", "1777", "--size", size, "--tmpfs", WORK_DIR]
    else:
        args += ["--bind", str(workdir), WORK_DIR]
    return args + ["--chdir", WORK_DIR, "--remount-ro", "/"]


def _parent_dirs(args: Sequence[str]) -> list[str]:
    """Create the folders above each mount point readable by all (bubblewrap's own are
    private to root, which the unprivileged code could not enter)."""
    targets = [args[i + 2] for i, a in enumerate(args) if a in ("--ro-bind", "--symlink", "--ro-bind-data")]
    out: list[str] = []
    made: set[str] = set()
    for target in targets:
        parents = Path(target).parents
        for parent in reversed(list(parents)[:-1]):
            name = str(parent)
            if name not in made:
                made.add(name)
                out += ["--perms", "0755", "--dir", name]
    return out


@functools.lru_cache(maxsize=1)
def _worker_sources() -> tuple[tuple[str, bytes], ...]:
    here = Path(__file__).resolve().parent
    return tuple((name, (here / name).read_bytes()) for name in _WORKER_FILES)


def data_files(python: SandboxPython) -> dict[str, int]:
    """The worker's files and the rewritten ones of the interpreter, each in a fresh
    in-memory file for bubblewrap to copy in: path in the sandbox → descriptor. The
    caller closes the descriptors."""
    files = {}
    sources = [(f"{WORKER_DIR}/{name}", data) for name, data in _worker_sources()]
    for target, data in [*python.rewritten, *sources]:
        fd = os.memfd_create(os.path.basename(target), 0)  # no close-on-exec: bubblewrap reads it
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
        files[target] = fd
    return files


def worker_script() -> str:
    return f"{WORKER_DIR}/worker.py"
