"""Each quick benchmark runs in a tiny form, as a user would start it, and prints its
table: the full runs stay benchmarks, but none of them can rot unseen."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
NUMBER = r"[0-9]+(?:\.[0-9]+)?"


def run(script: str, *args: str, timeout: float = 240) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_overhead_prints_every_shape_and_the_hand_off() -> None:
    out = run("overhead.py", "--calls", "20", "40", "--repeat", "1")
    for shape in ("one integer", "two keyword arguments", "raw string, 200 chars"):
        for kind in ("inline", "default"):
            assert re.search(rf"^{re.escape(shape)} +{kind} +{NUMBER} +{NUMBER} +{NUMBER}$", out, re.M), out
    assert re.search(rf"hand-off to a worker thread and back.*: {NUMBER} µs CPU .* {NUMBER} µs without", out), out
    smolagents = importlib.util.find_spec("smolagents") is not None
    assert ("x the default tool (target >= 20x)" in out) is smolagents, out
    assert re.search(rf"detector throughput, call-dense: {NUMBER} MB/s", out), out


def test_overhead_times_the_model_once_a_request_and_hands_out_its_chunks_unchanged() -> None:
    """The model's timing reads the clock per request, not per chunk, and the loop sees
    the chunks a plain scripted model streams."""
    from agent.models.base import Completion, Prompt, Request
    from agent.testing import ScriptedModel

    sys.path.insert(0, str(BENCHMARKS))
    try:
        from overhead import TimedModel
    finally:
        sys.path.remove(str(BENCHMARKS))
    outputs = ["one [echo(17)]", "two and three"]
    timed, plain = TimedModel(outputs, chunk_size=4, record=False), ScriptedModel(outputs, chunk_size=4, record=False)
    request = Request(prompt=Prompt("system", "user"), stop=("→",))
    for _ in outputs:
        completions = Completion(), Completion()
        assert list(timed.stream(request, completions[0])) == list(plain.stream(request, completions[1]))
        assert completions[0] == completions[1]
    assert timed.probes == len(outputs) and timed.cpu > 0


def test_detector_prints_the_worst_cases_whole_and_a_character_at_a_time() -> None:
    out = run("detector.py", "--scale", "0.005")
    rows = re.findall(rf'^"(.+?)" \* [0-9_]+ +(whole|1 char) +({NUMBER}) +({NUMBER})', out, re.M)
    assert len(rows) == 12, out
    assert all(float(work) <= 4 for *_, work in rows), "work per character stays bounded"


def test_startup_compares_the_command_line_with_bare_python() -> None:
    out = run("startup.py", "--repeat", "1")
    for command in ("--help", "runs"):
        assert re.search(rf"^agent {command}: {NUMBER} ms CPU, {NUMBER}x python -c pass", out, re.M), out


def test_sandbox_times_warm_and_cold_calls() -> None:
    out = run("sandbox.py", "--warm", "20", "--cold", "2")
    for kind in ("warm", "cold"):
        assert re.search(rf"^{kind} target ≤ {NUMBER} ms: (met|MISSED) \({NUMBER} ms\)", out, re.M), out


@pytest.mark.skipif(importlib.util.find_spec("mcp") is None, reason="the mcp extra is not installed")
def test_mcp_overhead_compares_a_remote_call_with_a_local_one() -> None:
    out = run("mcp_overhead.py", "--calls", "5", "--rounds", "1")
    assert re.search(rf"^local tool through the dispatcher: +{NUMBER} µs per call", out, re.M), out
    assert re.search(rf"^MCP tool over stdio through the dispatcher: {NUMBER} µs per call", out, re.M), out


def test_train_asks_a_registered_model_the_eval_and_held_out_problems_of_the_corpus(tmp_path: Path) -> None:
    """`--eval-only` measures the model registered under the tuned name (here the packaged
    base file itself) on the eval and on problems the training corpus does not have."""
    from agent.models import user_models
    from agent.models.catalog import model_path

    user_models.register("smollm2-135m-tools", model_path("smollm2-135m"), base="smollm2-135m",
                         description="the base file, registered as the tuned model", examples=0, home=tmp_path)
    out = run("train.py", "--eval-only", "--eval", "tuned", "--home", str(tmp_path), "--limit", "2",
              "--held-out", "3", "--corpus", "40")
    cell = rf"{NUMBER}% \({NUMBER}/{NUMBER}\)"
    for title in (r"arithmetic eval with tools", r"held-out problems of the corpus's families \(40 trained on\)"):
        assert re.search(rf"^{title} .*\n.*\nsmollm2-135m-tools +{cell} +(?:{cell}|-) +{cell}$", out, re.M), out
    assert "pipeline:" not in out, "no training"
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from train import held_out
    finally:
        sys.path.remove(str(BENCHMARKS))
    from agent.arithmetic import evaluate
    from agent.training import corpus

    trained = {p.question for p in corpus.problems(40, seed=0)}
    asked = held_out(30, 40)
    assert len(asked) == 30 and not trained & {p.question for p in asked}
    other = {p.question for p in corpus.problems(260, seed=2)}
    assert other & {p.question for p in held_out(100, 260)}, "the two draws share a question"
    assert not other & {p.question for p in held_out(100, 260, seed=2)}, "a corpus drawn with another seed"
    assert {p.kind for p in asked} == {"one", "multi"}
    for problem in asked:
        last = evaluate(problem.formula.split("; ")[-1])
        assert last is not None and float(last) == problem.answer, problem
