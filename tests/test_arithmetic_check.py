"""Recomputing written arithmetic, and the loop features for tiny models: the check
splice, the call grammar from the open marker, the argument grammar, the trigger."""

from __future__ import annotations

from fractions import Fraction

import pytest

from agent import Agent, CallTrigger
from agent.arithmetic import evaluate, find_equation, format_value
from agent.grammar import call_grammar, tool_grammar
from agent.models.base import Capabilities
from agent.testing import ScriptedModel
from agent.tools import Toolbox, make_tool


def Calculator(expression: str) -> str:
    """Evaluate arithmetic."""
    value = evaluate(expression)
    return "?" if value is None else format_value(value)


calc = make_tool(Calculator)


@pytest.mark.parametrize(("text", "value"), [
    ("So 23 * 48 =", " 1104"),
    ("It costs $3.50 + $1.25 =", " $4.75"),
    ("(8 + 4) / 3 =", " 4"),
    ("Then 20% * 50 =", " 10"),
    ("1,200 - 35 =", " 1165"),
    ("10 / 4=", " 2.5"),
    ("$10 / 4 =", " $2.50"),
    ("10 / 3 =", " 3.33333"),
    ("2 ^ 10 =", " 1024"),
    ("12 x 4 =", " 48"),
    ("12 × 4 ÷ 3 =", " 16"),
    ("Step 2: 0.1 + 0.2 =", " 0.3"),
])
def test_find_equation(text: str, value: str) -> None:
    found = find_equation(text)
    assert found is not None
    assert found.value == value
    assert found.end == len(text)


@pytest.mark.parametrize("text", [
    "x = 5", "a == b", "3 =", "10 / 0 =", "if 2 + 2 == 4", "2 + 2 <= 5", "f(x) = x + 1 =", "2 ^ 1000 =",
    "the 2023-2024 season =", "-5 + 3 =",
])
def test_not_an_equation(text: str) -> None:
    assert find_equation(text) is None


def test_find_equation_starts_at_the_given_index() -> None:
    text = "2 + 2 = 4, and 3 * 3 ="
    first = find_equation(text)
    assert first is not None and first.value == " 4" and first.end == 7
    second = find_equation(text, 7)
    assert second is not None and second.value == " 9" and second.end == len(text)


def test_evaluate_is_exact() -> None:
    assert evaluate("0.1 + 0.2") == Fraction(3, 10)
    assert evaluate("1,344 / 32") == 42
    assert evaluate("import os") is None
    assert evaluate("2 ** 0.5") is None


def test_check_splices_the_value_and_the_model_goes_on() -> None:
    model = ScriptedModel(["He has 23 * 48 = 1024 apples.", " apples. The answer is 1104."])
    result = Agent(model=model, check_arithmetic=True).run("How many?")
    assert result.text == "He has 23 * 48 = 1104 apples. The answer is 1104."
    assert model.requests[1].prompt.assistant == "He has 23 * 48 = 1104"
    model.assert_complete()


def test_check_is_off_by_default() -> None:
    model = ScriptedModel(["23 * 48 = 1024."])
    assert Agent(model=model).run("?").text == "23 * 48 = 1024."


def test_check_works_whatever_the_chunking() -> None:
    for size in (1, 2, 5, 40):
        model = ScriptedModel(["So 7 * 8 = 54 and", " and 1 + 1 = 3", " 2."], chunk_size=size)
        result = Agent(model=model, check_arithmetic=True).run("?")
        assert result.text == "So 7 * 8 = 56 and 1 + 1 = 2 2."


def test_check_respects_the_call_budget() -> None:
    model = ScriptedModel(["1 + 1 = 3", " so 2 + 2 = 5."])
    result = Agent(model=model, check_arithmetic=True, max_calls=1).run("?")
    assert result.text == "1 + 1 = 2 so 2 + 2 = 5."


def test_check_does_not_touch_call_arguments() -> None:
    model = ScriptedModel(["[Calculator(2 + 2)]", " so 4."])
    result = Agent(model=model, tools=[calc], check_arithmetic=True).run("?")
    assert result.text == "[Calculator(2 + 2) → 4] so 4."


def test_constrain_decodes_the_call_under_the_call_grammar_from_the_open_marker() -> None:
    model = ScriptedModel(["The answer is [", "Calculator(2 + 3)]", " so 5."])
    agent = Agent(model=model, tools=[calc], constrain=True, trigger=CallTrigger(k=10))
    result = agent.run("?")
    assert result.text == "The answer is [Calculator(2 + 3) → 5] so 5."
    first, constrained, after = model.requests
    assert first.grammar is None and first.trigger == CallTrigger(k=10)
    assert constrained.grammar == call_grammar(Toolbox([calc]))
    assert constrained.prompt.assistant == "The answer is ["
    assert constrained.trigger is None
    assert after.grammar is None and after.trigger == CallTrigger(k=10)


def test_constrain_uses_the_tool_grammar_once_a_call_is_opened() -> None:
    model = ScriptedModel([["x ", "[Calculator(", "1 +"], ["1 + 1)]"], " done"])
    result = Agent(model=model, tools=[calc], constrain=True).run("?")
    assert result.text == "x [Calculator(1 + 1) → 2] done"
    assert model.requests[1].grammar == tool_grammar(calc)
    assert model.requests[1].prompt.assistant == "x [Calculator("


def test_without_constrain_no_grammar_is_sent() -> None:
    model = ScriptedModel(["a [Calculator(1+1)]", " b"])
    result = Agent(model=model, tools=[calc]).run("?")
    assert result.text == "a [Calculator(1+1) → 2] b"
    assert all(r.grammar is None for r in model.requests)


def test_a_bracket_inside_an_open_call_is_not_a_new_call() -> None:
    def listing(items: list[int]) -> int:
        """Count."""
        return len(items)

    model = ScriptedModel([["[Nope(", "[", "1])]"], " ok"])
    result = Agent(model=model, tools=[make_tool(listing)], constrain=True).run("?")
    assert result.text.startswith("[Nope([1]) → Error")
    assert all(r.grammar is None for r in model.requests)


def test_call_grammar_follows_a_custom_markup() -> None:
    from agent.markup import Markup

    markup = Markup(open="<API>", close="</API>")
    model = ScriptedModel([["So ", "<API>"], "Calculator(2 * 3)</API>", " six."])
    result = Agent(model=model, tools=[calc], constrain=True, markup=markup).run("?")
    assert result.text == "So <API>Calculator(2 * 3) → 6</API> six."
    assert model.requests[1].prompt.assistant == "So <API>"
    assert model.requests[1].grammar == call_grammar(Toolbox([calc]), markup)


def test_example_budget_follows_the_context_size() -> None:
    from agent.prompt import example_budget

    assert example_budget(None) == 1200
    assert example_budget(4096) == 3584
    assert example_budget(1_000_000) == 6000

    examples = [f"Example {i}: 2 + {i} is [Calculator(2 + {i}) → {2 + i}]." for i in range(10)]
    tool = make_tool(Calculator, examples=examples)
    small = Agent(model=ScriptedModel([], capabilities=Capabilities(context_window=160)), tools=[tool], max_examples=10)
    large = Agent(model=ScriptedModel([]), tools=[tool], max_examples=10, max_example_chars=10_000)
    assert small.system_prompt().count("Example ") == 3
    assert large.system_prompt().count("Example ") == 10


@pytest.mark.model
def test_trigger_and_grammar_make_a_real_tiny_model_call() -> None:
    question = "A farmer packs 23 boxes with 48 apples each. How many apples does he pack?"
    forced = Agent(model="smollm2-135m", tools=["Calculator"], trigger=CallTrigger(k=10), constrain=True,
                   max_tokens=40)
    result = forced.run(question)
    assert result.calls and all(c.ok for c in result.calls)
    never = Agent(model="smollm2-135m", tools=["Calculator"], trigger=CallTrigger(disabled=True), max_tokens=40)
    assert not never.run(question).calls
