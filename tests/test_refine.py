from __future__ import annotations

from agent import Agent
from agent.events import CallRecord, RunResult, StopReason
from agent.models.base import Usage
from agent.refine import failed_calls, failing_code, refine, wrong_arithmetic
from agent.testing import ScriptedModel


def result(text: str, *calls: CallRecord) -> RunResult:
    return RunResult(text, calls, Usage(), StopReason.END, "", 0.0)


def test_wrong_arithmetic_is_found_by_recomputing() -> None:
    text = "There are 12 * 4 = 47 eggs and 3 + 4 = 7 cups; $2.50 + $1.25 = $3.75 in all; 10 / 4 = 2.5."
    assert wrong_arithmetic(result(text)) == ["12 * 4 is 48, not 47"]
    assert wrong_arithmetic(result("So 1,200 + 300 = 1,500.")) == []


def test_spliced_results_count_as_written() -> None:
    text = "So 6 * 7 = [Calculator(6 * 7) → 42] 42 and 2 + 2 = 5."
    assert wrong_arithmetic(result(text)) == ["2 + 2 is 4, not 5"]


def test_failed_calls_are_findings() -> None:
    bad = CallRecord(0, "Search", "x", "[Search(x) → Error: no network]", error="no network")
    assert failed_calls(result("t", bad)) == ["the call Search(x) failed: no network"]


def test_a_wrong_answer_is_revised_with_the_findings() -> None:
    model = ScriptedModel(["12 * 4 = 47, so 47 eggs.", "12 * 4 = 48, so 48 eggs."])
    refined = refine(Agent(model=model), "How many eggs in 12 boxes of 4?")
    assert refined.text == "12 * 4 = 48, so 48 eggs."
    assert [a.findings for a in refined.attempts] == [("12 * 4 is 48, not 47",), ()]
    revision = model.requests[1].prompt.user
    assert revision.startswith("How many eggs in 12 boxes of 4?")
    assert "12 * 4 = 47, so 47 eggs." in revision and "- 12 * 4 is 48, not 47" in revision
    model.assert_complete()


def test_a_clean_answer_is_not_revised_and_the_best_attempt_wins() -> None:
    model = ScriptedModel(["2 + 2 = 4."])
    assert len(refine(Agent(model=model), "q").attempts) == 1
    worse = ScriptedModel(["1 + 1 = 3.", "1 + 1 = 3 and 2 + 2 = 5.", "2 + 2 = 5 and 3 + 3 = 7."])
    refined = refine(Agent(model=worse), "q", rounds=2)
    assert len(refined.attempts) == 3 and refined.text == "1 + 1 = 3."


def test_code_in_the_answer_is_run() -> None:
    ran: list[str] = []

    def run(code: str) -> str | None:
        ran.append(code)
        return "NameError: name 'y' is not defined" if "y" in code else None

    check = failing_code(run)
    text = "Use:\n```python\nx = 1\nprint(y)\n```\nand\n```python\nprint(1)\n```"
    assert check(result(text)) == ["this code fails: NameError: name 'y' is not defined"]
    assert ran == ["x = 1\nprint(y)\n", "print(1)\n"]


def test_code_runs_in_the_sandbox() -> None:
    from tools.python import Sandbox

    with Sandbox() as sandbox:
        check = failing_code(lambda code: sandbox.run(code).error)
        findings = check(result("```python\n1 / 0\n```"))
    assert len(findings) == 1 and "ZeroDivisionError" in findings[0]


