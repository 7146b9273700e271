"""Control groups through a transient systemd scope, for hosts where the sandbox cannot
make them itself, and a clear statement where neither works.

This machine has no systemd (PID 1 is not systemd, no user manager), so the scope is
exercised with a stand-in `systemd-run` on PATH that does what systemd does for
`--scope -p Delegate=yes`: make the scope's group (here under the host's cgroup v2
hierarchy) and move itself into it before it runs the command. Everything after that
is the sandbox's own code, judged from the host: which group its processes are in, and
that group frozen between calls."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.python import SandboxLimits, Sandbox
from tools.python.cgroups import Cgroups, hierarchies, v2_mount
from tools.python.scopes import LEAF, Scope, find_scope, place

pytestmark = pytest.mark.timeout(120)

FAKE_SYSTEMD_RUN = """#!/bin/sh
unit=trial.scope
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break;;
    --unit=*) unit="${1#--unit=}";;
    -p) shift; echo "$1" >> "{log}";;
    -*) ;;
    *) break;;
  esac
  shift
done
mkdir -p "{root}/$unit" && echo $$ > "{root}/$unit/cgroup.procs" && exec "$@"
"""


def fake_systemd_run(folder: Path, root: Path, body: str = FAKE_SYSTEMD_RUN) -> Path:
    script = folder / "systemd-run"
    script.write_text(body.replace("{root}", str(root)).replace("{log}", str(folder / "properties")))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def own_v2_group() -> Path | None:
    mount, own = v2_mount(), hierarchies().get("")
    if mount is None or own is None or not os.access(own, os.W_OK):
        return None
    return own


@pytest.fixture
def scope_root(tmp_path: Path) -> Iterator[Path]:
    """Where the stand-in makes its scopes: a group of our own under the v2 hierarchy."""
    own = own_v2_group()
    if own is None:
        pytest.skip("no writable cgroup v2 group to stand in for systemd's")
    root = own / f"interleaf-test-{os.getpid()}"
    root.mkdir()
    yield root
    for child in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        if child.is_dir():
            child.rmdir()
    root.rmdir()


def no_direct_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host where this process cannot make a group of its own."""
    monkeypatch.setattr(Cgroups, "create", classmethod(lambda cls, limits, mode="auto": None))


# --- the decision ---------------------------------------------------------------------


def test_groups_made_directly_need_no_scope(isolation: None) -> None:
    trial = Cgroups.create(SandboxLimits())
    if trial is None:
        pytest.skip("this host offers no writable cgroup")
    trial.remove()
    placement = place(SandboxLimits(), "auto", scope_finder=lambda env: pytest.fail("asked for a scope"))
    assert placement.cgroups is not None and placement.scope is None
    assert placement.statement.startswith("groups made under the host process's own")
    placement.cgroups.remove()


def test_without_groups_or_systemd_the_reason_is_stated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_direct_groups(monkeypatch)
    empty = {"PATH": str(tmp_path)}
    missing = place(SandboxLimits(), "auto", scope_finder=lambda env: find_scope({**env, **empty}, user=True))
    assert missing.cgroups is None and missing.scope is None and not missing.memory_bounded
    assert missing.statement.startswith("none: ") and "systemd-run is not installed" in missing.statement
    if v2_mount() is None:
        return
    fake_systemd_run(tmp_path, tmp_path)
    no_bus = find_scope(empty, user=True)
    assert no_bus == "no user session bus (XDG_RUNTIME_DIR/bus or DBUS_SESSION_BUS_ADDRESS) for systemd-run --user"
    (tmp_path / "refusing").mkdir()
    failing = fake_systemd_run(tmp_path / "refusing", tmp_path, "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n")
    refused = find_scope({"PATH": str(failing), "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nowhere"}, user=True)
    assert refused == "systemd-run could not start a scope (Failed to connect to bus: No medium found)"
    assert place(SandboxLimits(), "v1", scope_finder=lambda env: pytest.fail("v1 asks no scope")).statement.startswith("none: ")
    assert place(SandboxLimits(), "off").statement == 'none: turned off (cgroups="off")'


def test_a_sandbox_without_groups_says_so_in_its_guarantees(isolation: None, monkeypatch: pytest.MonkeyPatch) -> None:
    no_direct_groups(monkeypatch)
    monkeypatch.setenv("PATH", "/nonexistent")
    with Sandbox() as sb:
        result = sb.run("import os\ntry:\n    os.memfd_create('x')\nexcept OSError as e:\n    print(type(e).__name__)")
    assert "PermissionError" in result.stdout
    assert result.guarantees["control groups"].startswith("none: no group can be made")
    assert "systemd-run is not installed" in result.guarantees["control groups"]
    assert result.guarantees["frozen between calls"] == "SIGSTOP to every process of the sandbox"


# --- a sandbox in a scope ---------------------------------------------------------------


def test_a_sandbox_in_a_scope_is_frozen_through_its_leaf_group(
    isolation: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scope_root: Path,
) -> None:
    no_direct_groups(monkeypatch)
    fake_systemd_run(tmp_path, scope_root)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (runtime / "bus").touch()
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setattr("tools.python.scopes.find_scope", lambda env, user=None: find_scope(env, user=True))
    limits = SandboxLimits(sandbox_memory_mb=300, processes=12, cpus=0.5)
    with Sandbox(limits=limits) as sb:
        result = sb.run("import os\nx = 41\nos.getpid()")
        assert result.ok and sb.run("x + 1").value == "42"
        pids = list(sb.host_processes())
        groups = {Path(f"/proc/{pid}/cgroup").read_text().split("0::", 1)[1].split()[0] for pid in pids}
        assert len(groups) == 1 and groups.pop().endswith(f".scope/{LEAF}")
        leaf = next(scope_root.glob(f"*.scope/{LEAF}"))
        assert "frozen 1" in (leaf / "cgroup.events").read_text()  # between calls, as the host reads it
        assert {int(p) for p in (leaf / "cgroup.procs").read_text().split()} == set(pids) | {sb._process.pid}  # type: ignore[union-attr]
    assert result.guarantees["control groups"].startswith("a transient systemd scope")
    assert result.guarantees["frozen between calls"] == "cgroup v2 cgroup.freeze of a delegated group in a systemd scope"
    properties = (tmp_path / "properties").read_text().split()
    assert {"Delegate=yes", f"MemoryMax={300 * 1024 * 1024}", "TasksMax=13", "CPUQuota=50%", "MemorySwapMax=0"} <= set(properties)
    assert not leaf.exists()  # the leaf is removed with the sandbox
    memory = result.guarantees["memory of the sandbox as a whole, counting tmpfs, shared memory and memfd"]
    assert memory.startswith("not held: systemd did not set MemoryMax")  # the stand-in sets no limits


def test_scope_command_moves_the_sandbox_into_its_own_leaf() -> None:
    scope = Scope("/usr/bin/systemd-run", True, Path("/sys/fs/cgroup"))
    command = scope.command(SandboxLimits(sandbox_memory_mb=128, processes=8, cpus=2.0))
    assert command[:4] == ["/usr/bin/systemd-run", "--user", "--scope", "--quiet"]
    assert ["-p", "Delegate=yes"] == command[6:8] and "CPUQuota=200%" in command and "TasksMax=9" in command
    shell = command[command.index("--") + 1:]
    assert shell[:2] == ["/bin/sh", "-c"] and shell[3] == "/sys/fs/cgroup" and f'/{LEAF}"' in shell[2]
