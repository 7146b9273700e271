from __future__ import annotations

import asyncio
import gc
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from agent import Agent, CallFinished, CallStarted, RunFinished, StopReason, TextDelta, ToolError, tool
from agent.errors import ConfigError, ContextOverflow, ModelNotFound
from agent.models.base import Completion, Request
from agent.transcript import calls
from agent.testing import FunctionModel, ScriptedModel, ScriptExhausted


@tool(name="Calculator", examples=["2 + 2 is [Calculator(2 + 2) → 4] 4."])
def calculator(expression: str) -> float:
    """Add two numbers written as `a + b`."""
    a, b = expression.split("+")
    return float(a) + float(b)


@tool
def boom(x: int) -> int:
    """Always fails."""
    raise RuntimeError(f"kaput {x}")


@tool
def polite(x: int) -> int:
    """Refuses with a message for the model."""
    raise ToolError("x must be even")


@tool(timeout=0.2)
def sleepy(seconds: float) -> str:
    """Sleeps."""
    time.sleep(seconds)
    return "awake"


@tool
async def async_double(x: int) -> int:
    """Doubles, asynchronously."""
    await asyncio.sleep(0)
    return 2 * x


@tool(timeout=0.2)
async def async_sleepy(seconds: float) -> str:
    """Sleeps, asynchronously."""
    await asyncio.sleep(seconds)
    return "awake"


TOOLS = [calculator, boom, polite, sleepy, async_double, async_sleepy]


def agent_with(outputs: list[str], **options: object) -> tuple[Agent, ScriptedModel]:
    model = ScriptedModel(outputs)
    return Agent(model=model, tools=TOOLS, **options), model  # type: ignore[arg-type]


def test_results_are_spliced_and_the_model_continues_from_them() -> None:
    agent, model = agent_with(["So 1 + 2 = [Calculator(1 + 2) → 7] and the model made that up", " 3, done."])
    result = agent.run("add")
    assert result.text == "So 1 + 2 = [Calculator(1 + 2) → 3] 3, done."
    assert "7" not in result.text
    assert result.stop_reason is StopReason.END
    assert model.requests[1].prompt.assistant == "So 1 + 2 = [Calculator(1 + 2) → 3]"
    assert [c.result for c in result.calls] == ["3"]
    assert result.calls[0].arguments == {"expression": "1 + 2"}
    model.assert_complete()


def test_events_rebuild_the_transcript() -> None:
    agent, _ = agent_with(["a [async_double(21)] b", " c"])
    events = list(agent.stream("q"))
    assert isinstance(events[-1], RunFinished)
    rebuilt = "".join(e.text if isinstance(e, TextDelta) else e.record.text for e in events if isinstance(e, (TextDelta, CallFinished)))
    assert rebuilt == events[-1].result.text == "a [async_double(21) → 42] c"
    assert any(isinstance(e, CallStarted) and e.call.name == "async_double" for e in events)


@pytest.mark.parametrize(
    ("written", "error"),
    [
        ("[Calcuator(1 + 2)]", "unknown tool 'Calcuator'; available tools: Calculator, boom"),
        ("[boom(1)]", "boom failed: RuntimeError: kaput 1"),
        ("[polite(1)]", "x must be even"),
        ("[boom(x='one')]", "bad arguments for boom: x: Input should be a valid integer"),
        ("[boom(1, 2)]", "bad arguments for boom: takes 1 arguments, got 2"),
        ("[boom(y=1)]", "no parameter 'y'"),
        ("[boom(not python)]", "write Python literals, as in boom(x: int)"),
        ("[sleepy(5)]", "sleepy timed out after 0.2 s"),
        ("[async_sleepy(5)]", "async_sleepy timed out after 0.2 s"),
        ("[Calculator(1 + 2]", "malformed call: expected ')' before ']'"),
    ],
)
def test_model_mistakes_become_errors_in_the_text_and_the_run_goes_on(written: str, error: str) -> None:
    agent, model = agent_with([f"Try {written} then", " go on."])
    result = agent.run("q")
    assert result.stop_reason is StopReason.END
    assert result.text.endswith(" go on.")
    read = list(calls(result.text))
    assert len(read) == 1 and read[0].error is not None and error in read[0].error
    assert result.calls[0].error is not None and error in result.calls[0].error
    model.assert_complete()


def test_max_calls_ends_the_run_with_its_reason() -> None:
    agent, _ = agent_with(["[async_double(1)]", " [async_double(2)]", " [async_double(3)]", "never"], max_calls=2)
    result = agent.run("q")
    assert result.stop_reason is StopReason.MAX_CALLS
    assert [c.ok for c in result.calls] == [True, True, False]
    assert "budget of 2 calls" in result.text


def test_max_tokens_ends_the_run_with_its_reason() -> None:
    agent, _ = agent_with(["x" * 300], max_tokens=10)
    result = agent.run("q")
    assert result.stop_reason is StopReason.MAX_TOKENS
    assert result.usage.completion_tokens == 10 and len(result.text) == 30


def test_token_budget_spans_requests() -> None:
    agent, model = agent_with(["abc [async_double(1)]", "x" * 300], max_tokens=12)
    result = agent.run("q")
    assert result.stop_reason is StopReason.MAX_TOKENS
    assert model.requests[1].max_tokens == 12 - 7
    assert result.usage.completion_tokens == 12


def test_wall_time_budget_ends_the_run() -> None:
    def slow_model(request: Request) -> list[str]:
        return ["tick "] * 1000

    class Slow(FunctionModel):
        def stream(self, request: Request, completion: Completion) -> Iterator[str]:
            for chunk in super().stream(request, completion):
                time.sleep(0.01)
                yield chunk

    agent = Agent(model=Slow(slow_model), timeout=0.2)
    result = agent.run("q")
    assert result.stop_reason is StopReason.TIMEOUT
    assert "0.2 s" in result.detail and result.text.startswith("tick ")


def test_no_progress_detector_stops_repeated_identical_calls() -> None:
    agent, _ = agent_with(["[async_double(2)]"] * 5, no_progress=3)
    result = agent.run("q")
    assert result.stop_reason is StopReason.NO_PROGRESS
    assert len(result.calls) == 3


def test_same_call_with_other_results_is_progress() -> None:
    counter = iter(range(100))

    @tool
    def tick() -> int:
        """Counts."""
        return next(counter)

    agent = Agent(model=ScriptedModel(["[tick()]"] * 5 + ["end"]), tools=[tick], no_progress=2)
    assert agent.run("q").stop_reason is StopReason.END


def test_stop_sequences_end_the_run() -> None:
    agent, _ = agent_with(["The answer is 4.\nQuestion: next one"], stop=["\nQuestion:"])
    result = agent.run("q")
    assert result.text == "The answer is 4."
    assert result.stop_reason is StopReason.STOP_SEQUENCE and "\\nQuestion:" in result.detail


def test_model_failures_end_the_run_and_keep_the_text() -> None:
    def fail_second(request: Request) -> str:
        if request.prompt.assistant:
            raise ConnectionError("server went away")
        return "partial [async_double(1)]"

    result = Agent(model=FunctionModel(fail_second), tools=TOOLS).run("q")
    assert result.stop_reason is StopReason.MODEL_ERROR
    assert "server went away" in result.detail
    assert result.text == "partial [async_double(1) → 2]"


def test_context_overflow_is_a_stated_stop() -> None:
    def overflow(request: Request) -> str:
        raise ContextOverflow(3000, 2048)

    result = Agent(model=FunctionModel(overflow)).run("q")
    assert result.stop_reason is StopReason.CONTEXT_FULL and "2048" in result.detail


def test_programmer_mistakes_raise() -> None:
    with pytest.raises(ScriptExhausted):
        Agent(model=ScriptedModel([])).run("q")
    with pytest.raises(ConfigError):
        Agent(model=ScriptedModel([]), max_calls=0)
    with pytest.raises(ConfigError):
        Agent(model=ScriptedModel([]), tools=[calculator, calculator])
    with pytest.raises(ModelNotFound):
        Agent(model="no-such-model").run("q")


def test_cancel_ends_the_run() -> None:
    cancel = threading.Event()

    def model(request: Request) -> list[str]:
        cancel.set()
        return ["a", "b", "c"]

    result = Agent(model=FunctionModel(model)).run("q", cancel=cancel)
    assert result.stop_reason is StopReason.CANCELLED and result.text == "a"


def test_async_api() -> None:
    agent, _ = agent_with(["x [async_double(4)] y", " z"])

    async def main() -> tuple[str, list[str]]:
        result = await agent.arun("q")
        agent2, _ = agent_with(["p [Calculator(1+1)]", " q"])
        kinds = [type(e).__name__ async for e in agent2.astream("q")]
        return result.text, kinds

    text, kinds = asyncio.run(main())
    assert text == "x [async_double(4) → 8] z"
    assert kinds[-1] == "RunFinished" and "CallFinished" in kinds


def test_tool_reset_runs_when_a_run_ends() -> None:
    from agent.tools import make_tool

    resets: list[int] = []

    def state() -> str:
        """Stateful."""
        return "s"

    stateful = make_tool(state, reset=lambda: resets.append(1))
    agent = Agent(model=ScriptedModel(["[state()]", ".", "again"]), tools=[stateful])
    agent.run("q")
    agent.run("q")
    assert resets == [1, 1]


def test_a_call_cut_off_by_the_token_budget_is_not_a_model_error() -> None:
    agent, _ = agent_with(["So [async_double(1, 2, 3"], max_tokens=6)
    result = agent.run("q")
    assert result.stop_reason is StopReason.MAX_TOKENS
    assert result.calls == () and result.text == "So [async_double(1"


@tool(inline=True)
def echo(x: int) -> int:
    """Returns x."""
    return x


def scripted_memory(calls: int) -> tuple[int, str]:
    """Bytes a scripted model holds after a run of `calls` calls, and the run's text."""
    model = ScriptedModel([f" step {i} [echo({i})]" for i in range(calls)] + [" done"])
    agent = Agent(model=model, tools=[echo], max_calls=calls + 1, no_progress=calls + 1, timeout=None, max_tokens=10**9)
    tracemalloc.start()
    try:
        result = agent.run("count")
        with_model = tracemalloc.get_traced_memory()[0]
        del agent, model
        gc.collect()
        return with_model - tracemalloc.get_traced_memory()[0], result.text
    finally:
        tracemalloc.stop()


def test_a_scripted_model_holds_memory_linear_in_the_run() -> None:
    small, text = scripted_memory(100)
    large, _ = scripted_memory(300)
    assert large <= 4.5 * small, (small, large)  # about 3x when linear, 9x when it keeps every prompt
    model = ScriptedModel(["a [echo(1)]", " b"])
    Agent(model=model, tools=[echo]).run("go")
    assert [r.prompt.assistant for r in model.requests] == ["", "a [echo(1) → 1]"]
    assert model.last_prompt is not None and model.last_prompt.assistant == "a [echo(1) → 1]"
    assert "step 99 [echo(99) → 99]" in text


def test_a_scripted_model_that_records_nothing() -> None:
    model = ScriptedModel(["a [echo(1)]", " b"], record=False)
    result = Agent(model=model, tools=[echo]).run("go")
    assert result.text.endswith("a [echo(1) → 1] b") and model.remaining == 0
    assert model.requests == [] and model.last_prompt is None
    assert result.usage.requests == 2 and result.usage.evaluated_tokens == result.usage.prompt_tokens > 0
