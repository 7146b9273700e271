"""What is pinned in the sandbox whatever the host offers: capability sets, every resource
limit, and what the code may leave in a folder of the host's. Judged from the host: its
/proc for the sandbox's processes, and the files in the folder, also after calls that
reset the sandbox (timed out, crashed, stopped for their caller)."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.processes import sandbox_tree
from tools.python import SandboxLimits, Sandbox
from tools.python.cgroups import Mode

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024
LIMITS = SandboxLimits(timeout=30, memory_mb=768, file_size_mb=8, open_files=128, processes=12)
PLANT = (
    "import os, shutil, sys\n"
    "shutil.copy(sys.executable, 'python'); os.chmod('python', 0o6755)\n"
    "os.mkdir('deep'); shutil.copy(sys.executable, 'deep/python'); os.chmod('deep/python', 0o2755)\n"
    "os.symlink('/etc/shadow', 'shadow'); os.symlink('../../', 'up'); os.symlink('deep/python', 'inside')\n"
)


@pytest.fixture(params=["auto", "off"])
def sb(request: pytest.FixtureRequest, isolation: None) -> Iterator[Sandbox]:
    mode: Mode = request.param
    with Sandbox(limits=LIMITS, cgroups=mode) as box:
        box.start()
        yield box


def limits_of(pid: int) -> dict[str, tuple[str, str]]:
    """/proc/PID/limits as the host reads it: name → (soft, hard)."""
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {row[:26].strip(): (row[26:].split()[0], row[26:].split()[1]) for row in rows}


def test_no_capabilities_and_every_rlimit_pinned(sb: Sandbox) -> None:
    sb.run("x = 1")
    pids = list(sandbox_tree(sb))
    assert len(pids) == 2
    supervisor = sb._process.init_pid if sb._process is not None else None
    wanted = {
        "Max file size": 8 * MIB, "Max data size": 768 * MIB, "Max stack size": 8 * MIB,
        "Max core file size": 0, "Max resident set": 768 * MIB, "Max processes": 12,
        "Max open files": 128, "Max locked memory": 65536, "Max address space": 768 * MIB,
        "Max file locks": 128, "Max pending signals": 64 * 12, "Max msgqueue size": 0,
        "Max nice priority": 0, "Max realtime priority": 0, "Max realtime timeout": 0,
    }
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        caps = {line.split(":")[0]: int(line.split()[1], 16) for line in status.splitlines() if line.startswith("Cap")}
        assert caps["CapInh"] == caps["CapAmb"] == caps["CapPrm"] == caps["CapEff"] == 0
        limits = limits_of(pid)
        assert set(limits) == set(wanted) | {"Max cpu time"}  # every limit the kernel has
        for name, value in wanted.items():
            assert limits[name] == (str(value), str(value)), (pid, name, limits[name])
        cpu = limits["Max cpu time"]
        if pid == supervisor:  # runs no code of the user's
            assert cpu == ("unlimited", "unlimited")
        else:  # the interpreter: the used CPU time plus one call's budget
            assert cpu[0].isdigit() and int(cpu[1]) == int(cpu[0]) + 1


def check_folder(folder: Path) -> None:
    """Nothing in `folder` has a set-user/group-ID bit or links out of it."""
    for path in folder.rglob("*"):
        info = path.lstat()
        assert not info.st_mode & (stat.S_ISUID | stat.S_ISGID), path
        if path.is_symlink():
            assert path.resolve().is_relative_to(folder.resolve()), path


def bound_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    folder.chmod(0o777)
    return folder


def test_files_left_in_a_bound_folder_cannot_hurt_the_host(isolation: None, tmp_path: Path) -> None:
    folder = bound_folder(tmp_path)
    with Sandbox(workdir=folder) as sb:
        result = sb.run(PLANT + "sorted(os.listdir('.'))")
        assert result.value == "['deep', 'inside', 'python', 'shadow', 'up']"
    check_folder(folder)
    assert (folder / "inside").is_symlink()


def _stop_for_its_caller(sb: Sandbox, folder: Path) -> None:
    """Run the planting call on a thread and interrupt it, as a caller's time limit does."""
    stuck = threading.Thread(target=sb.run, args=(PLANT + "while True: pass",))
    stuck.start()
    deadline = time.monotonic() + 20
    while not (folder / "inside").is_symlink() and time.monotonic() < deadline:
        time.sleep(0.01)
    sb.interrupt()
    stuck.join(timeout=20)
    assert not stuck.is_alive()


ENDINGS: dict[str, Callable[[Sandbox, Path], object]] = {
    "timed out": lambda sb, folder: sb.run(PLANT + "while True: pass", timeout=3),
    "crashed": lambda sb, folder: sb.run(PLANT + "os.kill(os.getpid(), 9)"),
    "stopped for its caller": _stop_for_its_caller,
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_files_left_by_a_call_that_resets_cannot_hurt_the_host(isolation: None, tmp_path: Path, ending: str) -> None:
    """The sandbox is killed, not frozen, after such a call: the folder is cleared all the
    same, before the call returns, and a link left out of it is not taken for the host's
    own when the next interpreter starts."""
    folder = bound_folder(tmp_path)
    with Sandbox(workdir=folder, limits=SandboxLimits(timeout=30)) as sb:
        ENDINGS[ending](sb, folder)
        assert (folder / "python").exists() and (folder / "inside").is_symlink()  # it did plant them
        check_folder(folder)
        assert not (folder / "shadow").is_symlink() and not (folder / "up").is_symlink()
        assert sb.run("import os\nos.symlink('/etc/passwd', 'passwd')\n'next'").value == "'next'"
        check_folder(folder)
        assert sorted(p.name for p in folder.iterdir()) == ["deep", "inside", "python"]
