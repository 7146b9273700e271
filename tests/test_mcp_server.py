"""`agent mcp serve`, the installed script, driven by the `mcp` SDK's client over stdio
and streamable HTTP: the tools listed, the sandboxed Python's state kept within a
connection and not across connections, attacks from the sandbox tests contained, and
no process left once the server ends."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from agent import Agent
from agent.errors import ConfigError
from agent.mcp import MCPServer
from agent.testing import ScriptedModel

pytestmark = pytest.mark.timeout(180)

AGENT = str(Path(sys.executable).with_name("agent"))
REAPER = Path(__file__).parent / "helpers" / "mcp_reaper.py"
SECRET = "sk-interleaf-" + secrets.token_hex(16)


def stdio(*args: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(command=AGENT, args=["mcp", "serve", *args], env=env)


def text(result: Any) -> str:
    return "\n".join(block.text for block in result.content)


async def calls(server: StdioServerParameters | str, *steps: tuple[str, dict[str, Any]]) -> list[tuple[bool, str]]:
    """Each step called in order on one connection: (is_error, text)."""
    async with Client(server) as client:
        return [(r.is_error, text(r)) for r in [await client.call_tool(n, a) for n, a in steps]]


def test_the_installed_tools_are_listed_and_answer() -> None:
    async def session() -> tuple[dict[str, Any], list[tuple[bool, str]]]:
        async with Client(stdio()) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            results = [await client.call_tool("Calculator", {"expression": "400 / 1400"}),
                       await client.call_tool("Calculator", {"expr": "1"})]
            return tools, [(r.is_error, text(r)) for r in results]

    tools, results = asyncio.run(session())
    assert {"Python", "Calculator", "Search", "Calendar"} <= set(tools)
    assert tools["Calculator"].input_schema["required"] == ["expression"]
    assert tools["Python"].input_schema["properties"]["code"]["type"] == "string"
    assert "sandbox" in (tools["Python"].description or "")
    assert results[0] == (False, "0.285714")
    assert results[1][0] and "bad arguments for Calculator" in results[1][1]


def test_python_keeps_its_state_within_a_connection_and_contains_attacks(isolation: None) -> None:
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    threading.Thread(target=lambda: received.append(listener.accept()[0].recv(100)), daemon=True).start()
    leak = ("import os, glob\nseen = repr(dict(os.environ))\n"
            "for p in glob.glob('/proc/*/environ'):\n"
            "    try: seen += open(p, 'rb').read().decode('latin-1')\n    except OSError: pass\nseen")
    results = asyncio.run(calls(
        stdio("--tools", "Python", env={"OPENAI_API_KEY": SECRET}),
        ("Python", {"code": "x = 41"}), ("Python", {"code": "x + 1"}),
        ("Python", {"code": leak}),
        ("Python", {"code": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'hi')"}),
        ("Python", {"code": "1/0"}),
    ))
    listener.close()
    assert results[1] == (False, "42")
    assert "HOME" in results[2][1] and SECRET not in results[2][1]  # the server's environment stays out
    assert results[3][0] and received == []  # no network: the host's listener got nothing
    assert results[4][0] and "ZeroDivisionError" in results[4][1]


def test_no_sandbox_is_left_once_the_client_closes_the_connection(isolation: None) -> None:
    done = subprocess.run([sys.executable, str(REAPER), AGENT, "close"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["during"] >= 2  # the server and its sandbox ran under the reaper
    assert seen["after"] == []


def test_the_python_limits_given_on_the_command_line_hold(isolation: None) -> None:
    started = time.monotonic()
    results = asyncio.run(calls(
        stdio("--tools", "Python", "--python-timeout", "3", "--python-memory-mb", "300"),
        ("Python", {"code": "x = 1"}), ("Python", {"code": "while True: pass"}),
        ("Python", {"code": "b = bytearray(600 * 2**20); len(b)"}),  # allowed by the default 1024 MiB
    ))
    assert results[1][0] and "timed out after 3 s" in results[1][1]  # the default is 10 s
    assert results[2][0] and "MemoryError" in results[2][1]
    assert time.monotonic() - started < 60


@pytest.fixture
def http_server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([AGENT, "mcp", "serve", "--http", "--port", str(port), "--tools", "Python,Calculator"],
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        url = f"http://127.0.0.1:{port}/mcp"
        assert url in line, line
        _wait_for_port(port)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


def test_over_http_each_session_has_its_own_interpreter(isolation: None, http_server: tuple[str, Any]) -> None:
    url, process = http_server

    async def two_clients() -> list[str]:
        async with Client(url) as first, Client(url) as second:
            await first.call_tool("Python", {"code": "x = 'first'"})
            await second.call_tool("Python", {"code": "x = 'second'"})
            answers = [text(await first.call_tool("Python", {"code": "x"})),
                       text(await second.call_tool("Python", {"code": "x"}))]
            answers.append(text(await first.call_tool("Calculator", {"expression": "6 * 7"})))
            return answers

    assert asyncio.run(two_clients()) == ["'first'", "'second'", "42"]
    # Interleaf's own client over HTTP: the agent's calls share one session.
    model = ScriptedModel(["[Python(y = 6 * 7)]", " [Python(y)]", " Done."])
    with Agent(model=model, tools=[MCPServer.http(url)]) as agent:
        assert [c.result for c in agent.run("Compute.").calls] == ["(no output)", "42"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_an_http_server_that_goes_away_mid_run_is_spliced(http_server: tuple[str, Any]) -> None:
    url, process = http_server
    model = ScriptedModel(["[Calculator(6 * 7)]", " Fine.", "[Calculator(1 + 1)]", " [Calculator(2 + 2)]", " Still here."])
    with Agent(model=model, tools=[MCPServer.http(url)]) as agent:
        assert agent.run("Before.").calls[0].result == "42"
        process.kill()
        process.wait()
        result = agent.run("After.")
    errors = [c.error or "" for c in result.calls]
    assert "closed the connection" in errors[0]  # the session's stream ended
    assert "could not be started" in errors[1]  # connecting anew fails: spliced too, mid-run
    assert result.text.endswith("Still here.")


def test_an_http_server_that_does_not_answer_is_a_configuration_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConfigError, match="could not be started"):
        MCPServer.http(f"http://127.0.0.1:{port}/mcp", startup_timeout=20).tools()


def test_serving_over_http_is_refused_on_a_bad_port() -> None:
    done = subprocess.run([AGENT, "mcp", "serve", "--http", "--port", "70000"], capture_output=True, text=True,
                          timeout=60, env={**os.environ})
    assert done.returncode == 1 and "--port" in done.stderr and len(done.stderr.strip().splitlines()) == 1
