from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from typing import Literal

import pytest
from pydantic import ValidationError

from agent import ConfigError, ParsedCall, Tool, tool
from agent.detector import Closed, Detector
from agent.errors import BadArguments, ToolError, ToolTimeout, UnknownTool
from agent.tools import Toolbox, installed_tools, make_tool


@tool
def search(query: str, max_results: int = 3) -> str:
    """Search the web.

    Looks things up.

    Args:
        query: what to look for
        max_results: how many results
    """
    return f"{query}:{max_results}"


@tool(name="Convert", description="Convert units.", examples=["[Convert(1, unit='km') → 1000 m]"], timeout=2)
def convert(value: float, unit: Literal["km", "mi"] = "km") -> str:
    return f"{value}{unit}"


@tool
async def fetch(url: str) -> str:
    """Fetch a page."""
    await asyncio.sleep(0)
    return url


def test_the_decorator_reads_hints_and_docstring() -> None:
    assert isinstance(search, Tool)
    assert search.name == "search"
    assert search.description == "Search the web. Looks things up."
    assert search.param_docs == {"query": "what to look for", "max_results": "how many results"}
    assert search.signature() == "search(query: str, max_results: int = 3)"
    schema = search.json_schema()
    assert schema["required"] == ["query"]
    assert schema["properties"]["max_results"] == {"default": 3, "type": "integer", "description": "how many results"}
    assert search.fn("x") == "x:3"


def test_decorator_options() -> None:
    assert (convert.name, convert.description, convert.timeout) == ("Convert", "Convert units.", 2)
    assert convert.examples == ("[Convert(1, unit='km') → 1000 m]",)
    assert convert.json_schema()["properties"]["unit"]["enum"] == ["km", "mi"]
    assert fetch.is_async and not search.is_async


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("capital of Peru", {"query": "capital of Peru", "max_results": 3}),
        ('"capital of Peru"', {"query": "capital of Peru", "max_results": 3}),
        ('query="x", max_results=5', {"query": "x", "max_results": 5}),
        ("'x', 2", {"query": "x", "max_results": 2}),
        ("42", {"query": "42", "max_results": 3}),
        ("  padded  ", {"query": "padded", "max_results": 3}),
    ],
)
def test_binding_raw_text_and_literals(raw: str, expected: dict[str, object]) -> None:
    assert search.bind(ParsedCall.of("search", raw)) == expected


@pytest.mark.parametrize(
    ("fn", "raw", "message"),
    [
        (search, "query='x', max_results='many'", "max_results: Input should be a valid integer"),
        (search, "'x', nope=1", "no parameter 'nope'"),
        (convert, "1, unit='parsec'", "unit: Input should be 'km' or 'mi'"),
        (convert, "one kilometre", "write Python literals, as in Convert(value: float, unit: Literal"),
    ],
)
def test_bad_arguments_say_what_is_wrong(fn: Tool, raw: str, message: str) -> None:
    with pytest.raises(BadArguments) as info:
        fn.bind(ParsedCall.of(fn.name, raw))
    assert message in str(info.value)


@tool(raw=True)
def solve(equation: str, digits: int = 6) -> str:
    """Solve an equation."""
    return equation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("x = 5", {"equation": "x = 5"}),
        ("x = 5, y = 2", {"equation": "x = 5, y = 2"}),
        ("equation='x = 1', digits=3", {"equation": "x = 1", "digits": 3}),
    ],
)
def test_a_raw_tool_takes_its_text_as_written_unless_it_names_its_parameters(raw: str, expected: dict[str, object]) -> None:
    assert solve.bind(ParsedCall.of("solve", raw)) == {"digits": 6, **expected}


def test_raw_needs_a_first_string_parameter() -> None:
    def count(n: int) -> str:
        """Count."""
        return str(n)

    with pytest.raises(ConfigError, match="raw=True"):
        tool(raw=True)(count)


def test_the_reset_hook_is_kept() -> None:
    resets: list[int] = []

    @tool(reset=lambda: resets.append(1))
    def state() -> str:
        """State."""
        return ""

    assert state.reset is not None
    state.reset()
    assert resets == [1]


def test_tools_need_type_hints() -> None:
    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(ConfigError, match="needs a type hint"):
        tool(untyped)

    def star(*args: int) -> int:
        return 0

    with pytest.raises(ConfigError, match=r"\*args"):
        tool(star)


def test_toolbox_looks_up_without_case() -> None:
    box = Toolbox([search, convert])
    assert box["SEARCH"] is search and "convert" in box and len(box) == 2
    with pytest.raises(UnknownTool, match="available tools: search, Convert"):
        box["calc"]


def test_plain_functions_become_tools_in_a_toolbox() -> None:
    def plain(x: int) -> int:
        """Plain."""
        return x

    assert Toolbox([plain])["plain"].description == "Plain."


def test_installed_tools_come_from_entry_points() -> None:
    found = installed_tools()
    assert {"calculator", "search", "calendar", "python"} <= set(found)
    assert found["calculator"].name == "Calculator"


def test_a_tool_without_a_description_warns_or_under_strict_is_refused() -> None:
    def bare(x: int) -> int:
        return x

    with pytest.warns(UserWarning, match="tool 'bare' has no description") as caught:
        made = tool(bare)
    assert made.description == "" and caught[0].filename == __file__
    with pytest.warns(UserWarning, match="tool 'Bare' has no description"):
        Toolbox([make_tool(bare, name="Bare")])
    with pytest.raises(ConfigError, match="tool 'bare' has no description"):
        tool(strict=True)(bare)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tool(strict=True, description="Echo x.")(bare).description == "Echo x."
        assert tool(strict=True)(search.fn).description == "Search the web. Looks things up."


@pytest.mark.parametrize("name", ["my tool!", "1st", "price-check", "café", "a" * 65, "Search(x)"])
def test_a_name_the_markup_cannot_call_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="cannot be written in a call"):
        tool(name=name, description="Echo.")(search.fn)
    assert not _detected(f"[{name}(1)]", name)


@pytest.mark.parametrize("name", ["my_tool", "_private", "Tool2", "a" * 64])
def test_identifier_names_are_accepted_and_called(name: str) -> None:
    assert tool(name=name, description="Echo.")(search.fn).name == name
    assert _detected(f"[{name}(1)]", name)


def _detected(text: str, name: str) -> bool:
    detector = Detector()
    events = [*detector.feed(text), *detector.finish()]
    return any(isinstance(e, Closed) and e.call.name == name for e in events)


def test_a_timeout_is_reported_in_rounded_seconds() -> None:
    assert str(ToolTimeout("Calculator", 0.496594)) == "Calculator timed out after 0.5 s"
    assert str(ToolTimeout("Search", 12.3456)) == "Search timed out after 12.3 s"
    assert str(ToolTimeout("Search", 10.0)) == "Search timed out after 10 s"


@tool
def plain(count: int, label: str = "x", loud: bool = False) -> str:
    """Counts with a label."""
    return f"{label}{count}{loud}"


class _Word(str):
    pass


@pytest.mark.parametrize("args, kwargs", [
    ((3,), {}), ((3, "a"), {"loud": True}), ((True,), {}), ((2**70,), {}), ((-(2**63),), {}), ((3.0,), {}),
    (("3",), {}), ((3, _Word("w")), {}), ((3,), {"loud": 1}), ((), {"label": "y"}), ((None,), {}),
])
def test_plain_arguments_bind_as_pydantic_validates_them(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    """Values of exactly a plain parameter type skip pydantic: the outcome is the same."""
    names = plain.param_names

    def validated() -> dict[str, object]:
        model = plain.parameters.model_validate({**dict(zip(names, args)), **kwargs})
        return {name: getattr(model, name) for name in names}

    expected, got = _outcome(validated), _outcome(lambda: plain.bind(ParsedCall("plain", "", args, kwargs)))
    assert got == expected
    assert not isinstance(got, dict) or [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def _outcome(fn: Callable[[], dict[str, object]]) -> dict[str, object] | str:
    try:
        return fn()
    except (ValidationError, BadArguments):
        return "refused"


def test_closing_an_agent_cancels_an_async_tool_call_still_running() -> None:
    import asyncio
    import threading

    from agent import Agent
    from agent.testing import ScriptedModel

    started, cancelled = threading.Event(), threading.Event()

    async def wait() -> str:
        """Wait a long time."""
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "waited"

    agent = Agent(model=ScriptedModel(["[wait()", " ok"]), tools=[wait])
    runner = threading.Thread(target=agent.run, args=("q",), daemon=True)
    runner.start()
    assert started.wait(10)
    agent.close()  # as when the command is quit in the middle of the call
    assert cancelled.wait(5), "the call was dropped with its loop instead of being cancelled"
    runner.join(10)
    assert not runner.is_alive()


def test_an_async_call_that_fails_after_its_caller_stopped_waiting_leaves_no_lost_exception(
        caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    import gc
    import threading

    from agent import Agent
    from agent.testing import ScriptedModel

    ended = threading.Event()

    @tool(timeout=0.2)
    async def stubborn() -> str:
        """Ends late, with an error, even when cancelled."""
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass
        ended.set()
        raise ToolError("ended late")

    with Agent(model=ScriptedModel(["[stubborn()", " ok"]), tools=[stubborn]) as agent:
        result = agent.run("q")
        assert ended.wait(5)
    assert "timed out" in (result.calls[0].error or "")
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()], caplog.text
