"""No host path reaches the sandboxed code: not in /proc (the sandbox has none), its
environment, the interpreter's own paths and build configuration, module files or a
traceback. Judged by
looking, from the host, for the host's folders in everything the code could gather."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.python import SandboxLimits, Sandbox

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parent.parent
PACKAGES = [name for name in ("numpy", "sympy") if importlib.util.find_spec(name) is not None]

PROBE = r'''
import os, sys, traceback
seen = {}
def gather(path):
    try:
        with open(path, "rb") as f:
            seen[path] = f.read(1 << 20).decode("latin-1")
    except OSError as exc:
        seen[path] = type(exc).__name__
for name in ("mountinfo", "mounts", "mountstats", "environ", "cmdline", "maps", "smaps",
             "status", "cgroup", "cwd", "exe", "root", "fd", "task"):
    gather("/proc/self/" + name)
    gather("/proc/1/" + name)
    gather("/proc/thread-self/" + name)
gather("/proc/mounts")
for top in ("/proc/self", "/proc/1", "/sys", "/run", "/etc", "/dev"):  # whatever of these exists
    for folder, dirs, files in os.walk(top):
        seen[folder] = " ".join(dirs + files)
        for name in files:
            path = os.path.join(folder, name)
            try:
                seen[path + " ->"] = os.readlink(path) if os.path.islink(path) else ""
            except OSError:
                pass
            if os.path.isfile(path) and not os.path.islink(path):
                gather(path)
seen["environ"] = repr(dict(os.environ))
seen["sys"] = repr((sys.executable, sys.path, sys.prefix, sys.exec_prefix, sys.base_prefix, sys.argv, sys.orig_argv))
seen["cwd"] = os.getcwd() + " " + repr(os.listdir("/")) + repr(os.listdir("/opt"))
seen["modules"] = repr(sorted(str(getattr(m, "__file__", "")) for m in list(sys.modules.values())))
import sysconfig
seen["sysconfig"] = repr((sysconfig.get_config_vars(), sysconfig.get_paths()))
try:
    import json; json.loads("{")
except ValueError:
    seen["traceback"] = traceback.format_exc()
print(len(seen))
'''


def host_paths(workdir: Path) -> dict[str, str]:
    """The host's folders no code in the sandbox may learn of."""
    found = {
        "the virtual environment": sys.prefix, "the repository": str(REPO),
        "the work directory": str(workdir), "the home directory": str(Path.home()),
        "the interpreter's installation": sys.base_prefix,
    }
    return {what: path for what, path in found.items() if path not in ("/", "/usr", "/usr/local")}


@pytest.mark.skipif(not PACKAGES, reason="neither numpy nor sympy is installed")
def test_no_host_path_is_visible_in_the_sandbox(isolation: None, tmp_path: Path) -> None:
    workdir = tmp_path / "host-work"
    workdir.mkdir()
    workdir.chmod(0o777)
    with Sandbox(packages=PACKAGES, workdir=workdir, limits=SandboxLimits(max_output=4_000_000, timeout=60)) as sb:
        imported = sb.run("\n".join(f"import {name}" for name in PACKAGES) + "\nimport sys; sorted(sys.modules)")
        assert imported.ok and all(repr(name) in (imported.value or "") for name in PACKAGES)
        gathered = sb.run(PROBE + "\nseen")
        failed = sb.run(f"import {PACKAGES[0]}\nimport json\njson.loads('{{')")
    assert gathered.ok and gathered.value is not None and len(gathered.value) > 5000
    assert "JSONDecodeError" in (failed.error or "")
    everything = "\n".join(filter(None, (gathered.stdout, gathered.value, failed.error)))
    for what, path in host_paths(workdir).items():
        found = re.search(rf"(?<![\w.-]){re.escape(path)}(?![\w.-])", everything)
        assert found is None, f"{what} ({path}) is visible in the sandbox: {everything[found.start() - 200:found.end() + 100]!r}"
    assert "interleaf-" not in everything  # nor the host's control groups
    assert "'/proc/self/mountinfo': 'FileNotFoundError'" in gathered.value


def test_the_interpreter_is_reached_by_its_neutral_path(isolation: None) -> None:
    with Sandbox() as sb:
        result = sb.run(
            "import os, subprocess, sys\n"
            "done = subprocess.run(['python3', '-c', 'import sys; print(sys.prefix)'], capture_output=True, text=True)\n"
            "sys.prefix, os.path.dirname(sys.executable) == os.environ['PATH'], done.stdout.strip()"
        )
    prefix, same, child = eval(result.value or "")
    assert same and prefix == child
    assert not prefix.startswith(str(Path.home())) and os.path.isabs(prefix)


def test_the_readme_shows_neutral_paths_and_what_holds(isolation: None, tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL) if "result.guarantees" in b)
    done = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first, *held = done.stdout.splitlines()
    executable, module = first.split()
    assert os.path.basename(executable).startswith("python3") and module.endswith("/sympy/__init__.py")
    for what, path in host_paths(tmp_path).items():
        assert path not in first, what
    assert any(line.startswith("control groups: ") for line in held)
    assert any(line.startswith("frozen between calls: ") for line in held)


def test_the_agent_command_runs_the_code_at_neutral_paths(isolation: None, tmp_path: Path) -> None:
    code = "import os, sys, sympy; print(sys.executable, os.environ['PATH'], sympy.__file__, os.path.exists('/proc'))"
    env = {
        **os.environ, "INTERLEAF_HOME": str(tmp_path / "home"), "INTERLEAF_TEST_CALL": f"[Python({code})]",
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
    }
    env.pop("INTERLEAF_MODEL", None)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "agent"), "run", "plan a trip", "--model", "python:helpers.models:make_model",
         "--tools", "Python", "--max-tasks", "1", "--json"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    result = next(e["task"]["result"] for e in events if e["type"] == "task_finished")
    shown = result.split(" → ", 1)[1].split("]", 1)[0].split()
    assert shown[0].startswith("/opt/python/bin/python3") and shown[1] == "/opt/python/bin"
    assert shown[2] == "/opt/packages/sympy/__init__.py" and shown[3] == "False"
    assert events[-1]["totals"]["tool_calls"] == 1
