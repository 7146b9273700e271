"""The generated training corpus: disjoint from the arithmetic eval, worked correctly,
and with multi-step problems; the sampling positions it offers."""

from __future__ import annotations

import re
from collections import Counter

from agent.arithmetic import evaluate, format_value
from agent.evals.arithmetic import SOLVED, STEPPED, load_problems
from agent.training import corpus, families
from agent.training.chains import CHAINS
from agent.training.measures import MEASURES, UNITS
from agent.training.sampling import CONSTANTS, positions

_NUMBERS = re.compile(r"\$?\d[\d,]*(?:\.\d+)?%?")


def _names(*drawn: families.Family) -> set[str]:
    """The names the families give their problems."""
    return {f.__name__.lstrip("_") for f in drawn}


def skeleton(question: str) -> str:
    """A question with its numbers and names taken out: what a template fixes."""
    text = _NUMBERS.sub("N", question)
    for name in families.NAMES:
        text = text.replace(name, "X")
    return " ".join(text.lower().split())


def test_no_eval_item_appears_in_the_corpus_even_with_other_numbers() -> None:
    generated = list(corpus.problems(4000, seed=1))
    texts = "\n".join(corpus.render(p, i % 3) for i, p in enumerate(generated))
    shapes = {skeleton(p.question) for p in generated}
    eval_questions = [p.question for p in load_problems()] + [q for q, _ in (*SOLVED, *STEPPED)]
    assert len(eval_questions) > 125
    for question in eval_questions:
        assert question not in texts
        assert skeleton(question) not in shapes, question


def test_every_step_of_every_solution_is_right() -> None:
    for problem in corpus.problems(600, seed=2):
        for _, expression, value in problem.steps:
            computed = evaluate(expression)
            assert computed is not None and format_value(computed) == value, (problem.question, expression)


def test_the_corpus_has_multi_step_problems_in_every_shape() -> None:
    generated = list(corpus.problems(400, seed=3))
    multi = [p for p in generated if p.multi_step]
    assert 0.3 < len(multi) / len(generated) < 0.7
    assert {p.family for p in multi} == _names(*families.MULTI_STEP, *CHAINS)
    problem = multi[0]
    shapes = {corpus.solution(problem, shape) for shape in range(4)}
    assert len(shapes) == 4 and all(s.lower().endswith(f"the answer is {problem.answer}.") for s in shapes)
    assert corpus.solution(problem, corpus.DIRECT) == f"The answer is {problem.answer}."
    assert all("[" not in corpus.render(p, 0) for p in generated), "the calls are the model's to find"


def test_every_draw_has_the_same_mix_of_families() -> None:
    one_step = _names(*families.ONE_STEP, *MEASURES)
    for seed in range(4):
        drawn = list(corpus.problems(640, seed=seed))
        assert sum(p.multi_step for p in drawn) == 320, "half multi-step, exactly"
        counts = Counter(p.family for p in drawn if not p.multi_step)
        assert set(counts) == one_step
        assert max(counts.values()) - min(counts.values()) <= 3, counts
    assert sum(p.multi_step for p in corpus.problems(10, multi_share=0.3)) == 3


def test_the_measures_cover_the_operations_products_leave_out() -> None:
    drawn = [p for p in corpus.problems(2000, seed=5) if p.family in _names(*MEASURES)]
    operators = Counter(expression.split()[1] for p in drawn for _, expression, _ in p.steps)
    assert operators["/"] > operators["*"], "most measures divide"
    assert {str(factor) for _, _, factor in UNITS} <= CONSTANTS, "a factor the filter takes unwritten"
    for problem in drawn:
        assert problem.question.count("?") == 1 and not problem.multi_step
        assert len(problem.answer.partition(".")[2]) <= 3, f"a short answer: {problem}"


def test_the_default_corpus_is_in_the_answer_layout_of_the_question_prompts() -> None:
    texts = corpus.generated(300, seed=4)
    answers = [t.split("\nAnswer: ", 1)[1] for t in texts]
    assert all("=" not in a for a in answers), "no written equations: calls go where the agent computes"
    one_step = [a for a in answers if a.count(". ") == 0]
    multi = [a for a in answers if a.count(". ") > 0]
    assert one_step and all(re.fullmatch(r"The answer is [\d.]+\.", a) for a in one_step)
    assert len(multi) > 100
    for answer in multi:
        *steps, last = answer.split(". ")
        assert steps and all(re.fullmatch(r".+ is [\d.]+", step) for step in steps), "a call follows \"is\""
        value = steps[-1].rsplit(" ", 1)[1]
        assert re.fullmatch(rf".*\b{re.escape(value)}\b.*, the answer is [\d.]+\.", last), \
            f"the last step's words name the value before it: {answer}"
        assert answer.startswith("First, ") and not answer[len("First, "):].startswith(("The ", "One ")), answer
    offered = [positions(t) for t in texts if "the answer is" in t]
    every_step = sum(len(found) >= 2 for found in offered)
    assert every_step >= 0.9 * len(offered), "a position per step (none where the value is already in the text)"


def test_positions_are_before_new_numbers_in_the_answer() -> None:
    text = "Question: 3 boxes of 12 pens. How many pens?\nAnswer: 3 * 12 = 36. The answer is 36."
    found = positions(text)
    assert [text[i:i + 4] for i in found] == [" 36."]
    stepped = ("Question: Rosa had 7 sacks with 25 stamps each, then lost 128 stamps. How many are left?\n"
               "Answer: 7 sacks of 25 is 175. After losing 128, the answer is 47.")
    assert [stepped[i:i + 4] for i in positions(stepped)] == [" 175", " 47."], "a number before a comma is known"


def test_user_files_are_read_as_paragraphs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.txt").write_text("First paragraph 12.\n\nSecond one, 40 items.\n\n\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("Third.")
    assert corpus.read_files([tmp_path]) == ["First paragraph 12.", "Second one, 40 items.", "Third."]
