from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.markup import Markup, ParsedCall, format_arguments, parse_literal_arguments
from agent.prompt import system_prompt
from agent.tools import tool
from agent.transcript import CompletedCall, calls, render, segments


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ((), {})),
        ("1, 'a', x=[1, (2, 3)], y={'k': None}", ((1, "a"), {"x": [1, (2, 3)], "y": {"k": None}})),
        ('"print((1, 2))"', (("print((1, 2))",), {})),
        ('"""a\nb"""', (("a\nb",), {})),
        ("-1.5e3", ((-1500.0,), {})),
    ],
)
def test_literal_arguments(raw: str, expected: object) -> None:
    assert parse_literal_arguments(raw) == expected


@pytest.mark.parametrize("raw", ["400 / 1400", "capital of Peru", "print(1)", "*xs", "**kw", "x=1, 2", "(" * 500])
def test_non_literal_arguments_are_raw(raw: str) -> None:
    assert parse_literal_arguments(raw) is None
    assert ParsedCall.of("T", raw).args is None


def test_format_arguments_round_trips() -> None:
    raw = format_arguments("a ' \" ]", 2, flag=True, items=[1, "x"])
    assert parse_literal_arguments(raw) == (("a ' \" ]", 2), {"flag": True, "items": [1, "x"]})


def test_transcript_segments() -> None:
    text = "A [Calculator(400 / 1400) → 0.29] B [Python(print([1])) → [1]] C [Calendar()] D"
    parts = segments(text)
    assert parts == [
        "A ", CompletedCall("Calculator", "400 / 1400", "0.29"), " B ",
        CompletedCall("Python", "print([1])", "[1]"), " C ", CompletedCall("Calendar", "", None), " D",
    ]
    escaped = text.replace("→ [1]]", "→ \\[1\\]]")
    assert render(parts) == escaped and segments(escaped) == parts
    assert [c.name for c in calls(text)] == ["Calculator", "Python", "Calendar"]


def test_transcripts_convert_between_markups() -> None:
    api = Markup(open="<API> ", close=" </API>")
    text = "x [Calculator(1 + 1) → 2] y"
    converted = render(segments(text), api)
    assert converted == "x <API> Calculator(1 + 1) → 2 </API> y"
    assert render(segments(converted, api)) == text


def test_system_prompt_teaches_the_markup() -> None:
    @tool(name="Calculator", examples=["So [Calculator(2 + 2) → 4] 4.", "More [Calculator(1 + 1) → 2]."])
    def calc(expression: str) -> str:
        """Evaluate arithmetic."""
        return expression

    prompt = system_prompt([calc], instructions="Be brief.", max_examples=1)
    assert prompt.startswith("Be brief.")
    assert "- Calculator(expression: str): Evaluate arithmetic." in prompt
    assert "So [Calculator(2 + 2) → 4] 4." in prompt and "More" not in prompt
    api = system_prompt([calc], markup=Markup(open="<API>", close="</API>"))
    assert "<API>Calculator(2 + 2) → 4</API>" in api
    assert system_prompt([], instructions="") == ""


@given(st.text(alphabet=st.sampled_from(["a", "é", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85",
                                          "\xa0", "\u1680", "\u2003", "\u2028", "\u3000", "(", "x"]), max_size=12))
def test_two_calls_are_the_same_call_whatever_white_space_separates_their_words(raw: str) -> None:
    assert ParsedCall("Search", raw + " " + raw).key()[1] == " ".join((raw + " " + raw).split())
    assert ParsedCall("Search", raw).key() == ("search", " ".join(raw.split()))
