"""The eval harness: data, scoring, BFCL matching (on a tiny fixture), the grid and the
command, run end to end on scripted models."""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from agent.arithmetic import evaluate
from agent.cli import evals as cli
from agent.cli.evals import main
from agent.evals import arithmetic, bfcl
from agent.evals.report import table
from agent.evals.runner import ItemOutcome, Setup, grid, summarize
from agent.evals.scoring import is_correct, predicted_answer, without_calls
from agent.markup import ParsedCall
from agent.models.base import Model, Request
from agent.testing import FunctionModel, ScriptedModel

PROBLEMS = arithmetic.load_problems()


def test_the_development_set_is_large_and_varied() -> None:
    assert len(PROBLEMS) >= 100
    assert len({p.id for p in PROBLEMS}) == len(PROBLEMS)
    assert len({p.question for p in PROBLEMS}) == len(PROBLEMS)
    kinds = Counter(p.kind for p in PROBLEMS)
    assert set(kinds) >= {"add", "sub", "mult", "div", "pct", "money", "units", "multi"}
    assert min(kinds.values()) >= 5


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.id)
def test_every_answer_is_its_formula(problem: arithmetic.Problem) -> None:
    value = evaluate(problem.formula)
    assert value is not None
    assert float(value) == pytest.approx(problem.answer, abs=1e-9)
    assert round(float(value), 2) == float(value), "answers are whole or have at most two decimals"
    numbers = {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", problem.question)}
    written = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", problem.formula)}
    constants = {2, 3, 4, 5, 12, 60, 100, 120, 1000}
    assert written - numbers <= constants, "the formula uses the question's numbers, words and units"


def test_few_shot_problems_are_not_in_the_set() -> None:
    questions = {p.question for p in PROBLEMS}
    for style in arithmetic.STYLES.values():
        assert all(q not in questions for q, _ in style)
        for _, steps in style:
            for _, expression, value in steps:
                assert evaluate(expression) == evaluate(value)


def test_example_styles() -> None:
    single, steps = arithmetic.examples("single"), arithmetic.examples("steps")
    assert single[0] == ("Question: A box holds 24 cans. How many cans are in 15 boxes?\n"
                         "Answer: The answer is [Calculator(15 * 24) → 360].")
    assert "Answer: 4 bags of 60 is [Calculator(4 * 60) → 240]. The answer is [Calculator(240 - 25) → 215]." in steps[6]
    plain = arithmetic.examples("steps", tools=False)
    assert plain[6].endswith("Answer: 4 bags of 60 is 4 * 60 = 240. 240 - 25 = 215. The answer is 215.")


@pytest.mark.parametrize(("text", "expected"), [
    (" The answer is [Calculator(15 * 24) → 360].", 360),
    (" 15 * 24 = 360. The answer is 360.", 360),
    (" It is 1,104 apples.", 1104),
    (" [Calculator(2 + 2) → 4] and the answer is [Calculator(4 * 2) → 8] and the answer is 9", 8),
    (" The answer is: $33.75", 33.75),
    (" 13 * 19 = 247", 13),
    (" #### 42", 42),
    (" [Calculator(x) → Error: bad] so 7", 7),
    (" The answer is -3.", -3),
    (" no number here", None),
])
def test_predicted_answer(text: str, expected: float | None) -> None:
    assert predicted_answer(text) == expected


def test_without_calls_keeps_results() -> None:
    assert without_calls("a [Calculator(1+2) → 3] b") == "a 3 b"


def test_is_correct_tolerates_rounding_only() -> None:
    assert is_correct(29.0, 29) and is_correct(33.749, 33.75)
    assert not is_correct(33.7, 33.75) and not is_correct(None, 1)


def test_grid_drops_settings_that_need_tools() -> None:
    setups = grid(["m"], [False, True], [None, True], [None, 10], [None])
    assert [s.label for s in setups] == ["no tools", "agent defaults", "agent defaults + k=10",
                                         "agent defaults + grammar", "agent defaults + grammar + k=10"]


def test_summary() -> None:
    outcomes = [
        ItemOutcome("a", True, 2, 1, 10, 1.0, "1", "1", "", "end"),
        ItemOutcome("b", False, 0, 0, 20, 3.0, "", "2", "", "end"),
    ]
    row = summarize("t", Setup("m", check=True), outcomes)
    assert (row.accuracy, row.call_rate, row.malformed_rate, row.tokens, row.seconds) == (0.5, 0.5, 0.5, 15, 2)
    assert row.config == "agent defaults + check"
    assert "| t | m | agent defaults + check | 2 | 50.0% | 50.0% | 50.0% | 15.0 | 2.00 |" in table([row])


def _answer_with_a_call(request: Request) -> str:
    """Answers with a call, continuing a call that the loop opened under a grammar."""
    question = request.prompt.user
    formula = next(p.formula for p in PROBLEMS if p.question == question)
    assistant = request.prompt.assistant
    if assistant.endswith(("[", "[Calculator(")):
        assert request.grammar is not None
        return f"{'' if assistant.endswith('(') else 'Calculator('}{formula})]"
    if "[Calculator(" in assistant:
        return "."
    return f" The answer is [Calculator({formula})]."


def test_arithmetic_run_scores_calls() -> None:
    model = FunctionModel(_answer_with_a_call)
    outcomes = list(arithmetic.run(Setup("scripted"), model, PROBLEMS[:5]))
    assert [o.correct for o in outcomes] == [True] * 5
    assert all(o.calls == 1 and o.failed_calls == 0 for o in outcomes)
    prompt = model.requests[0].prompt
    assert prompt.user == PROBLEMS[0].question and prompt.assistant == ""
    assert "Question: A box holds 24 cans." in prompt.system and "[Calculator(" in prompt.system


def test_arithmetic_without_tools_sees_worked_equations() -> None:
    model = ScriptedModel([" 2 + 2 = 5. The answer is 5."])
    outcome = next(arithmetic.run(Setup("scripted", tools=False), model, PROBLEMS[:1]))
    assert not outcome.correct and outcome.calls == 0
    assert "15 * 24 = 360. The answer is 360." in model.requests[0].prompt.system
    assert "[Calculator" not in model.requests[0].prompt.system


FUNCTION = {
    "name": "math.hypot",
    "description": "The Euclidean norm.",
    "parameters": {"type": "dict", "properties": {
        "x": {"type": "integer", "description": "x coordinate"},
        "y": {"type": "integer", "description": "y coordinate"},
        "unit": {"type": "string", "enum": ["units", "cm"], "description": "unit"},
        "tags": {"type": "array", "items": {"type": "string"}},
    }, "required": ["x", "y"]},
}
ANSWERS: list[dict[str, dict[str, list[Any]]]] = [{"math.hypot": {"x": [4], "y": [5], "unit": ["units", ""], "tags": [["a b"], ""]}}]


@pytest.fixture
def fixture_files(tmp_path: Path) -> tuple[Path, Path]:
    questions, answers = tmp_path / "q.json", tmp_path / "a.json"
    row = {"id": "simple_0", "question": [[{"role": "user", "content": "Hypotenuse of 4 and 5?"}]], "function": [FUNCTION]}
    questions.write_text(json.dumps(row) + "\n")
    answers.write_text(json.dumps({"id": "simple_0", "ground_truth": ANSWERS}) + "\n")
    return questions, answers


def test_bfcl_cases_and_tools(fixture_files: tuple[Path, Path]) -> None:
    (case,) = bfcl.load_cases(*fixture_files)
    assert case.question == "Hypotenuse of 4 and 5?" and case.answers == ANSWERS
    tool = bfcl.make_tool(case.function)
    assert tool.name == "math_hypot" and tool.param_names == ["x", "y", "unit", "tags"]
    assert "x coordinate" in tool.description
    assert tool.bind(ParsedCall.of("math_hypot", "x=4, y=5")) == {"x": 4, "y": 5, "unit": None, "tags": None}


@pytest.mark.parametrize(("raw", "ok"), [
    ("x=4, y=5", True), ("4, 5", True), ("x=4, y=5, unit='Units'", True), ("x=4.0, y=5", True),
    ("x=4, y=5, tags=['A-B']", True), ("x=4", False), ("x=4, y=6", False), ("x=4, y=5, unit='m'", False),
    ("x=4, y=5, z=1", False), ("x='4', y=5", False), ("x=4, y=5, tags=['a', 'b']", False),
])
def test_bfcl_matching(raw: str, ok: bool) -> None:
    tool = bfcl.make_tool(FUNCTION)
    arguments = bfcl.call_arguments(ParsedCall.of("math_hypot", raw), tool)
    assert arguments is not None
    assert bfcl.matches("math_hypot", arguments, ANSWERS) is ok


def test_bfcl_matching_needs_the_function() -> None:
    assert not bfcl.matches("hypot", {"x": 4, "y": 5}, ANSWERS)
    assert bfcl.same_value({"a": 1}, {"a": [1, 2], "b": [""]}) and not bfcl.same_value({"c": 1}, {"a": [1]})
    assert bfcl.same_value(True, True) and not bfcl.same_value(1, True)


def test_bfcl_run_stops_after_the_first_call(fixture_files: tuple[Path, Path]) -> None:
    cases = bfcl.load_cases(*fixture_files)
    model = ScriptedModel([" [math_hypot(x=4, y=5)]", " never read"])
    (outcome,) = bfcl.run(Setup("scripted"), model, cases)
    assert outcome.correct and outcome.calls == 1 and outcome.stop == "cancelled"
    assert model.remaining == 1


def test_bfcl_skips_when_not_installed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def missing(name: str) -> Any:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    assert main(["bfcl", "--models", "x"]) == 3
    assert "pip install --no-deps bfcl-eval" in capsys.readouterr().err


def test_parse_config() -> None:
    assert cli.parse_config("m", "defaults") == Setup("m")
    assert cli.parse_config("m", "grammar+k=10") == Setup("m", True, True, 10, None)
    assert cli.parse_config("m", "nogrammar+nocheck") == Setup("m", True, False, None, False)
    assert cli.parse_config("m", "none+check") == Setup("m", False, None, None, True)
    with pytest.raises(ValueError):
        cli.parse_config("m", "tools+fast")


def test_main_runs_the_grid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def scripted(spec: str, args: object) -> Model:
        return FunctionModel(_answer_with_a_call)

    monkeypatch.setattr(cli, "load_model", scripted)
    out, log = tmp_path / "table.md", tmp_path / "log.jsonl"
    code = main(["arithmetic", "--models", "fake", "--configs", "none,defaults", "--limit", "3",
                 "--markdown", str(out), "--log", str(log)])
    assert code == 0
    text = out.read_text()
    assert "| arithmetic | fake | agent defaults | 3 | 100.0% |" in text
    assert "| arithmetic | fake | no tools | 3 | 0.0% |" in text
    assert len(log.read_text().splitlines()) == 6
    assert "agent defaults" in capsys.readouterr().out


def test_main_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arithmetic", "--tools", "maybe"]) == 2
    assert "on/off" in capsys.readouterr().err
