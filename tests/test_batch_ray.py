"""Batches on a Ray cluster that this module starts on 127.0.0.1 (one for all its tests,
as Ray takes seconds to start): the same runs as one after the other in one process, a
killed actor's item retried, the installed `agent batch` joining the cluster (and Ctrl-C
then `--resume` on it), and `agent eval` on it with the packaged model giving what a local
run gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_cases import FRAGILE, MODEL, SLOW, EngineThreadsUnit, batched, probe, sequential, summary, write_items
from helpers.batch import interrupted_after_first, wait_for_pid

from agent.batch.pool import Pool, UnitDone
from agent.batch.ray_cluster import LOOPBACK_ENV, ray_pool
from agent.cli.batch import load_worker_model
from agent.tasks import ObjectiveOptions, ObjectiveStatus, ObjectiveStore

os.environ.setdefault(LOOPBACK_ENV, "0")  # read when Ray is imported: its cluster binds to 127.0.0.1
ray = pytest.importorskip("ray")
pytestmark = pytest.mark.timeout(240)
TESTS = Path(__file__).parent
AGENT = str(Path(sys.executable).parent / "agent")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The cluster's address. Its workers find the tests' helpers and write faults where told."""
    saved = {name: os.environ.get(name) for name in (LOOPBACK_ENV, "PYTHONPATH", "INTERLEAF_TEST_FAULTS")}
    faults = tmp_path_factory.mktemp("faults")
    os.environ.update({LOOPBACK_ENV: "0", "INTERLEAF_TEST_FAULTS": str(faults),
                       "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), saved["PYTHONPATH"]) if p)})
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pool(workers: int = 2) -> Pool:
    return ray_pool(load_worker_model, workers=workers, cpus=1)


def test_the_cluster_listens_on_loopback(cluster: str) -> None:
    assert cluster.startswith("127.0.0.1:")


def test_each_actor_loads_its_model_once_with_threads_for_its_cpus(cluster: str) -> None:
    seen = probe(pool())
    assert len(seen) == 2 and all(reports == {(1, 1)} for reports in seen.values())
    [reports] = probe(ray_pool(load_worker_model, workers=1, cpus=2)).values()
    assert reports == {(2, 1)}


def test_a_batch_on_ray_stores_the_same_runs_as_running_each_item_alone(cluster: str, tmp_path: Path) -> None:
    items = write_items(tmp_path)
    alone = sequential(items, ObjectiveStore(tmp_path / "alone.db"))
    store = ObjectiveStore(tmp_path / "runs.db")
    ended, _ = batched(items, pool(), store)
    assert [summary(store, e.run.id) for e in ended] == alone
    assert all(e.record.attempts == 1 and e.run.status is ObjectiveStatus.FINISHED for e in ended)


def test_a_killed_actor_s_item_is_retried_on_another(cluster: str, tmp_path: Path) -> None:
    faults = Path(os.environ["INTERLEAF_TEST_FAULTS"])
    items = write_items(tmp_path, ('{"objective": "hang once, then answer"}', '{"objective": "always crash"}'),
                        model=FRAGILE)
    items = [i.__class__(i.line, i.key, i.objective, i.model, ObjectiveOptions(tools=(), single=True)) for i in items]
    killer = threading.Thread(target=lambda: os.kill(wait_for_pid(faults), signal.SIGKILL), daemon=True)
    killer.start()
    store = ObjectiveStore(tmp_path / "runs.db")
    (hung, crashed), events = batched(items, pool(), store)
    killer.join(timeout=5)
    assert (hung.record.status, hung.record.attempts, hung.run.answer) == ("done", 2, "Result of hang once, then answer.")
    assert (crashed.record.status, crashed.record.attempts) == ("failed", 2)
    assert "the Ray worker died" in crashed.record.reason
    assert store.run(crashed.run.id).status is ObjectiveStatus.FAILED


def test_agent_batch_joins_a_cluster_and_its_runs_are_ordinary_runs(cluster: str, tmp_path: Path) -> None:
    write_items(tmp_path)
    env = {**os.environ, "INTERLEAF_HOME": str(tmp_path / "home")}
    env.pop("INTERLEAF_MODEL", None)

    def agent(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AGENT, *argv], env=env, capture_output=True, text=True, timeout=180)

    done = agent("batch", str(tmp_path / "batch.jsonl"), "--model", MODEL, "--tools", "", "--ray-address", cluster,
                 "--json")
    assert done.returncode == 0, done.stderr
    assert f"on the Ray cluster at {cluster} (1 CPU per worker), 2 workers" in done.stderr
    lines = sorted((json.loads(line) for line in done.stdout.splitlines()), key=lambda r: r["line"])
    assert [(r["line"], r["status"], r["answer"]) for r in lines] == [
        (1, "done", "The final answer."), (2, "done", "Result of What is 2 + 2?."),
        (3, "done", "The final answer."), (4, "done", "The final answer.")]
    listed = agent("runs")
    assert all(r["run_id"] in listed.stdout for r in lines)
    shown = agent("show", lines[2]["run_id"])
    assert "plan a party" in shown.stdout and "The final answer." in shown.stdout


def test_ctrl_c_on_ray_keeps_what_ended_and_resume_runs_only_what_is_missing(cluster: str, tmp_path: Path) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text("".join(f'{{"objective": "question {n}"}}\n' for n in range(1, 5)))
    env = {**os.environ, "INTERLEAF_HOME": str(tmp_path / "home")}
    env.pop("INTERLEAF_MODEL", None)
    argv = [AGENT, "batch", str(batch), "--model", SLOW, "--tools", "", "--single", "--ray-address", cluster,
            "--workers", "1", "--json"]
    ended, _ = interrupted_after_first(argv, env, timeout=120)
    resumed = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming: {len(ended)} of 4 items had ended; {4 - len(ended)} to run" in resumed.stderr
    rest = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert sorted(r["line"] for r in [*ended, *rest]) == [1, 2, 3, 4]
    runs = subprocess.run([AGENT, "runs", "--json"], env=env, capture_output=True, text=True, timeout=60)
    objectives = sorted(json.loads(line)["objective"] for line in runs.stdout.splitlines())
    assert objectives == [f"question {n}" for n in range(1, 5)]


@pytest.mark.model
def test_agent_eval_on_ray_with_the_packaged_model_equals_a_local_run(cluster: str, tmp_path: Path) -> None:
    from agent.batch.evals import load_eval_model
    from agent.evals import arithmetic
    from agent.evals.runner import Setup

    problem = arithmetic.load_problems()[0]
    [local] = arithmetic.run(Setup("smollm2-135m"), load_eval_model("smollm2-135m", 1), [problem])
    log = tmp_path / "outcomes.jsonl"
    result = subprocess.run([AGENT, "eval", "arithmetic", "--models", "smollm2-135m", "--configs", "defaults",
                             "--ids", problem.id, "--ray-address", cluster, "--workers", "1", "--log", str(log)],
                            env=dict(os.environ), capture_output=True, text=True, timeout=200)
    assert result.returncode == 0, result.stderr
    assert "Running 1 items on the Ray cluster at" in result.stderr
    assert "| arithmetic | smollm2-135m | agent defaults | 1 |" in result.stdout
    [logged] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (logged["item"], logged["predicted"], logged["text"], logged["correct"]) == \
        (local.item, local.predicted, local.text, local.correct)


@pytest.mark.model
def test_an_actor_s_packaged_model_runs_as_many_llama_cpp_threads_as_the_actor_has_cpus(cluster: str) -> None:
    from agent.batch.evals import load_eval_model

    [event] = list(ray_pool(load_eval_model, workers=1, cpus=2).run([EngineThreadsUnit("1", "smollm2-135m")]))
    assert isinstance(event, UnitDone) and event.value == 2
