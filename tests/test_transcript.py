"""The transcript reads back exactly what the loop spliced: results and errors with
markers and arrows in them, malformed calls, calls past the budget, and results the
model tried to write itself."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import Agent, StopReason, tool
from agent.events import CallRecord, parts_of, plain_text
from agent.parts import Part, Spliced, from_data, rendered, to_data
from agent.markup import DEFAULT_MARKUP, Markup
from agent.testing import ScriptedModel
from agent.transcript import CompletedCall, calls, segments


@tool(inline=True)
def Echo(text: str) -> str:
    """Returns its text."""
    return text


@tool(inline=True)
def Fail(text: str) -> str:
    """Always fails."""
    raise ValueError("bad ] thing → here")


@tool(inline=True)
def Huge() -> int:
    """A number too long to print."""
    return int(10 ** 5000)


pieces = st.sampled_from(["a", "b", " ", "]", "[", "\\", "→", "->", "-", ">", "Error:", "\n", '"', "'", "</API>", "<API>"])
results = st.lists(pieces, max_size=12).map(lambda p: "".join(p).strip())


@settings(max_examples=300, deadline=None)
@given(result=results, failed=st.booleans(), markup=st.sampled_from([DEFAULT_MARKUP, Markup("<API>", "</API>")]))
def test_any_result_or_error_round_trips(result: str, failed: bool, markup: Markup) -> None:
    call = CompletedCall("Echo", '"x"', None if failed else result, result if failed else None)
    text = f"Before {call.render(markup)} after."
    parts = segments(text, markup)
    assert parts == ["Before ", call, " after."]


texts = st.lists(st.sampled_from(["a", "b", " ", "]", ")", "(", "→", "->", "\n", '"', "'", "Error:", "\\"]),
                 min_size=1, max_size=8).map("".join)


@st.composite
def records(draw: st.DrawFn) -> list[Part]:
    """Text and calls in turn, as the loop keeps them: a call has a result or an error."""
    parts: list[Part] = []
    for n in range(draw(st.integers(0, 4))):
        parts.append(draw(texts))
        name, raw = draw(st.sampled_from([("Echo", '"x"'), ("Calc", "2 + 3"), ("Now", "")]))
        outcome = draw(results)
        failed = draw(st.booleans())
        result, error = (None, outcome or "?") if failed else (outcome, None)
        text = DEFAULT_MARKUP.render(name, raw, result=result, error=error)
        parts.append(CallRecord(n, name, raw, text, result=result, error=error))
    parts.append(draw(texts))
    return parts


@settings(max_examples=300, deadline=None)
@given(parts=records())
def test_any_parts_render_and_read_back_as_the_same_parts(parts: list[Part]) -> None:
    read = parts_of(rendered(parts))
    assert read == tuple(parts)
    assert from_data(json.loads(json.dumps(to_data([*parts, Spliced(" = 5")])))) == (*parts, Spliced(" = 5"))


def test_a_bracket_in_a_result_or_an_error_is_read_back_whole() -> None:
    model = ScriptedModel(['Say [Echo("a]")]', " and [Fail(x)]", " done."])
    result = Agent(model=model, tools=[Echo, Fail]).run("q")
    read = list(calls(result.text))
    assert [c.result for c in read] == ["a]", None]
    assert read[1].error == result.calls[1].error and "bad ] thing → here" in (read[1].error or "")


def test_a_malformed_call_reads_back_as_a_failed_call() -> None:
    result = Agent(model=ScriptedModel(["Sum: [Calculator(2 + 3", " Sorry."]), tools=["Calculator"]).run("q")
    read = list(calls(result.text))
    assert len(read) == 1 and read[0].name == "Calculator" and read[0].error is not None
    assert result.calls[0].raw.startswith("[Calculator(2 + 3") and "malformed" in (result.calls[0].error or "")


def test_a_result_that_cannot_be_shown_is_an_error_and_the_run_goes_on() -> None:
    result = Agent(model=ScriptedModel(["N is [Huge()]", " ok."]), tools=[Huge]).run("q")
    assert result.stop_reason is StopReason.END and result.text.endswith(" ok.")
    assert result.calls[0].error is not None and "Huge failed" in result.calls[0].error


def test_a_malformed_call_past_the_budget_gets_an_error_too() -> None:
    model = ScriptedModel(['[Echo("a")]', " [Echo(b", " end"])
    result = Agent(model=model, tools=[Echo], max_calls=1).run("q")
    assert result.stop_reason is StopReason.MAX_CALLS
    assert [c.error is None for c in result.calls] == [True, False]
    assert "budget" in (list(calls(result.text))[-1].error or "")


def test_repeated_malformed_calls_count_toward_no_progress() -> None:
    model = ScriptedModel(["[Echo(a b"] * 5)
    result = Agent(model=model, tools=[Echo], no_progress=3).run("q")
    assert result.stop_reason is StopReason.NO_PROGRESS and len(result.calls) == 3


def test_a_result_written_with_a_look_alike_arrow_is_replaced_by_the_real_one() -> None:
    for arrow in ("⟶", "⇒", "=>", "\u00a0→"):
        model = ScriptedModel([f'It is [Echo("real") {arrow} invented]', " ok."])
        result = Agent(model=model, tools=[Echo]).run("q")
        assert [c.result for c in result.calls] == ["real"], arrow
        assert "invented" not in result.text and '[Echo("real") → real]' in result.text


def test_a_result_written_in_full_width_brackets_is_replaced_by_the_real_one() -> None:
    for written in ('［Echo("real") → invented］', '［Echo("real")］', '［ Echo("real") ⇒ invented］'):
        result = Agent(model=ScriptedModel([f"It is {written}", " ok."]), tools=[Echo]).run("q")
        assert [c.result for c in result.calls] == ["real"], written
        assert result.text == 'It is [Echo("real") → real] ok.', written


def test_full_width_brackets_that_open_no_tool_stay_as_written() -> None:
    text = "注［1］ and ［not a tool］ and 【x】 ［Echo"
    result = Agent(model=ScriptedModel([text]), tools=[Echo]).run("q")
    assert result.text == text and result.calls == ()


def test_a_run_keeps_its_record_as_typed_parts() -> None:
    model = ScriptedModel(['A [Echo("x")]', " and 2 + 3 =", " so."])
    result = Agent(model=model, tools=[Echo], check_arithmetic=True).run("q")
    kinds = [type(p).__name__ for p in result.parts]
    assert kinds == ["str", "CallRecord", "str", "Spliced", "str"], result.parts
    shown = "".join(p if isinstance(p, str) else p.text for p in result.parts)
    assert shown == result.text and plain_text(result.parts) == "A x and 2 + 3 = 5 so."
    read, kept = parts_of(result.text)[1], result.parts[1]
    assert isinstance(read, CallRecord) and isinstance(kept, CallRecord)
    assert (read.name, read.raw, read.text, read.result, read.error) == (kept.name, kept.raw, kept.text, kept.result, kept.error)
