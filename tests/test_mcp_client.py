"""MCP servers as tool sources: a real server written with the SDK's server API
(tests/helpers/mcp_server.py) runs as a child process; its tools are called inline and
natively through `Agent`. Whether a server process is running is judged from the host
(its command line carries a marker)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from helpers.processes import host_processes_with

from agent import Agent
from agent.errors import ConfigError
from agent.mcp import MCPServer
from agent.models.base import Capabilities
from agent.parts import from_data, to_data
from agent.testing import ScriptedModel

pytestmark = pytest.mark.timeout(120)

SERVER = Path(__file__).parent / "helpers" / "mcp_server.py"


@pytest.fixture
def marker() -> str:
    return f"mcp-test-{uuid.uuid4().hex}"


def test_server(marker: str, **options: object) -> MCPServer:
    return MCPServer.stdio(sys.executable, [str(SERVER), marker], **options)  # type: ignore[arg-type]


test_server.__test__ = False  # type: ignore[attr-defined]


def gone(marker: str, seconds: float = 10.0) -> bool:
    """Whether no process with `marker` is left, waiting up to `seconds` for it to exit."""
    deadline = time.monotonic() + seconds
    while host_processes_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_servers_tools_become_tools_with_their_schemas(marker: str) -> None:
    with test_server(marker) as server:
        tools = {t.name: t for t in server.tools()}
    assert {"add", "greet", "mean", "read_file", "fail", "hang", "exit_now", "picture", "pid"} <= set(tools)
    assert tools["add"].signature() == "add(a: int, b: int)"
    assert tools["add"].description == "Add two whole numbers."
    assert tools["greet"].signature() == "greet(name: str, excited: bool = False, times: int = 1)"
    assert tools["greet"].raw_param == "name"  # one leading string: [greet(Ann)] works
    schema = tools["mean"].json_schema()
    assert schema["required"] == ["values"] and schema["properties"]["values"]["items"] == {"type": "number"}
    assert gone(marker)


def test_the_model_calls_mcp_tools_inline_with_each_kind_of_argument(marker: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("Buy milk.", encoding="utf-8")
    model = ScriptedModel([
        "Two and three: [add(2, 3)]", " Greeting: [greet(name=\"Ann\", excited=True, times=2)]",
        " Also [greet(Bob)]", " Mean: [mean([1, 2, 4.5], unit=\" m\")]", f" Notes: [read_file(path=\"{notes}\")]",
        " Done.",
    ])
    with Agent(model=model, tools=[test_server(marker)]) as agent:
        result = agent.run("Use the tools.")
    assert [(c.name, c.result, c.error) for c in result.calls] == [
        ("add", "5", None), ("greet", "Hello, Ann! Hello, Ann!", None), ("greet", "Hello, Bob.", None),
        ("mean", "2.5 m", None), ("read_file", "Buy milk.", None),
    ]
    assert result.calls[1].arguments == {"name": "Ann", "excited": True, "times": 2}
    assert "[add(2, 3) → 5]" in result.text and result.text.endswith("Done.")
    model.assert_complete()
    assert gone(marker)


def test_failures_are_spliced_and_the_run_goes_on(marker: str) -> None:
    model = ScriptedModel([
        "[fail(\"no such record\")]", " [hang(30)]", " [add(1, 1)]", " [pid()]", " [exit_now()]",
        " [pid()]", " [add(a=\"x\", b=1)]", " Still here.",
    ])
    with Agent(model=model, tools=[test_server(marker)], tool_timeout=4) as agent:
        result = agent.run("Try everything.")
    errors = [c.error for c in result.calls]
    assert errors[0] is not None and "fail" in errors[0]  # the tool raised: the server's error result
    assert errors[1] is not None and "timed out" in errors[1]
    assert result.calls[2].result == "2"  # the server still answers after a call that timed out
    assert errors[4] is not None and "closed the connection" in errors[4]  # the server died mid-call
    first, second = result.calls[3].result, result.calls[5].result
    assert first and second and first != second  # the next call started a new server
    assert errors[6] is not None and "bad arguments for add" in errors[6]
    assert result.text.endswith("Still here.") and result.stop_reason.value == "end"
    assert gone(marker)


def test_content_beyond_text_is_described_and_kept_in_the_record(marker: str) -> None:
    model = ScriptedModel(["Here: [picture()]", " a pixel."])
    with Agent(model=model, tools=[test_server(marker)]) as agent:
        call = agent.run("Show a picture.").calls[0]
    assert call.result == "[image: image/png, 70 bytes]"
    assert [(c["type"], c["mimeType"]) for c in call.content] == [("image", "image/png")]
    assert isinstance(call.content[0]["data"], str) and len(call.content[0]["data"]) > 80
    assert from_data(json.loads(json.dumps(to_data((call,))))) == (call,)  # kept when the run is stored


def test_the_server_starts_lazily_and_stops_on_close(marker: str) -> None:
    agent = Agent(model=ScriptedModel(["[add(1, 2)]", " Three."]), tools=[test_server(marker)])
    time.sleep(0.5)
    assert not host_processes_with(marker)  # nothing runs before the tools are needed
    assert agent.run("One and two?").calls[0].result == "3"
    assert host_processes_with(marker)
    agent.close()
    assert not host_processes_with(marker)  # close waits for the server to stop


def test_a_server_that_cannot_start_is_a_configuration_error(marker: str) -> None:
    failing = MCPServer.stdio(sys.executable, ["-c", "import sys; sys.stderr.write('no token configured'); sys.exit(2)"])
    with Agent(model=ScriptedModel(["Hi."]), tools=[failing]) as agent, pytest.raises(ConfigError) as error:
        agent.run("Hello?")
    assert "could not be started" in str(error.value) and "no token configured" in str(error.value)
    missing = MCPServer.stdio(f"/nonexistent/{marker}")
    with pytest.raises(ConfigError, match="could not be started"):
        missing.tools()
    silent = MCPServer.stdio(sys.executable, ["-c", "import time; time.sleep(60)", marker], startup_timeout=1)
    with pytest.raises(ConfigError, match="did not answer within 1 s"):
        silent.tools()
    assert gone(marker)


def test_no_server_is_left_behind_when_the_program_ends_without_close(marker: str, tmp_path: Path) -> None:
    script = tmp_path / "use_mcp.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from agent import Agent
        from agent.mcp import MCPServer
        from agent.testing import ScriptedModel

        server = MCPServer.stdio(sys.executable, [{str(SERVER)!r}, {marker!r}])
        agent = Agent(model=ScriptedModel(["[add(20, 22)]", " Done."]), tools=[server])
        print(agent.run("Add.").calls[0].result, flush=True)
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
    assert gone(marker)


def test_a_native_model_gets_the_servers_schemas_and_calls_its_tools(marker: str) -> None:
    model = ScriptedModel(["[add(a=4, b=5)]", "Nine."], capabilities=Capabilities(native_tools=True))
    with Agent(model=model, tools=[test_server(marker)]) as agent:
        result = agent.run("What is 4 + 5?")
    offered = {t.name: t for t in model.requests[0].tools}
    assert offered["add"].parameters["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer"}}
    assert offered["add"].parameters["required"] == ["a", "b"]
    assert result.calls[0].name == "add" and result.calls[0].result == "9"


@pytest.mark.model
def test_the_packaged_model_calls_an_mcp_tool_inline(marker: str) -> None:
    examples = {"add": ["Question: What is 12 plus 30?\nAnswer: [add(12, 30) → 42] The answer is 42."]}
    with Agent(model="smollm2-135m", tools=[test_server(marker, examples=examples, include=["add"])],
               max_tokens=40, max_calls=2) as agent:
        assert [t.name for t in agent.tools] == ["add"]
        result = agent.run("What is 20 plus 22?")
    calls = [c for c in result.calls if c.name == "add"]
    assert calls and calls[0].error is None and calls[0].result is not None
    assert int(calls[0].result) == sum(calls[0].arguments.values())  # type: ignore[union-attr]
    assert gone(marker)
