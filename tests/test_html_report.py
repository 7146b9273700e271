"""`agent show RUN --html FILE`: one self-contained page, read back as HTML and opened
in headless Chromium (the system's package, driven through Playwright): it renders,
has one timeline bar per task, and a call opens on click. The screenshot is kept in
test-artifacts/ as the test's artefact. Where `INTERLEAF_BROWSER_TEST=required` (set by
.ci/run when chromium is installed) the browser test fails rather than skips."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from helpers.recorded import ROOT, agent, agent_env, record_run

pytestmark = pytest.mark.timeout(120)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
BROWSER_REQUIRED = os.environ.get("INTERLEAF_BROWSER_TEST") == "required"
ARTIFACTS = ROOT / "test-artifacts"


class Page(HTMLParser):
    """The page's elements as (tag, attributes), its scripts, and its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, tag: str, cls: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and cls in a.get("class", "").split()]


def report(tmp_path: Path) -> tuple[dict[str, str], str, Path]:
    env = agent_env(tmp_path / "home")
    run_id = record_run(env)
    path = tmp_path / "out" / "run.html"
    done = agent(env, "show", run_id, "--html", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Wrote {path}"
    return env, run_id, path


def stored_results(env: dict[str, str], run_id: str) -> dict[int, dict[str, Any]]:
    events = json.loads(agent(env, "show", run_id, "--json").stdout)["events"]
    return {e["task_id"]: e["event"]["result"] for e in events
            if e["type"] == "task_output" and e["event"]["type"] == "run_finished"}


def test_the_page_is_self_contained_and_shows_tasks_calls_and_their_cost(tmp_path: Path) -> None:
    env, run_id, path = report(tmp_path)
    html = path.read_text(encoding="utf-8")
    page = Page(html)
    tags = {t for t, _ in page.elements}
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    assert not [a for _, a in page.elements for k in ("src", "href") if k in a and not a[k].startswith("#")]
    assert "url(" not in html and "@import" not in html
    text = "".join(page.text)
    assert "plan the dinner" in text and "Each of the two pays 100.25 euros." in text
    assert "Planned" in text and "Task 1 done" in text and "Judged not done yet" in text
    bars = page.having("div", "bar")
    assert [b["data-task"] for b in bars] == ["1", "2"]
    results = stored_results(env, run_id)
    for bar in bars:
        result = results[int(bar["data-task"])]
        usage = result["usage"]
        assert int(bar["data-tokens"]) == usage["prompt_tokens"] + usage["completion_tokens"]
        seconds = sum(c["seconds"] for c in result["calls"])
        assert float(bar["data-tool-seconds"]) == pytest.approx(seconds, abs=1e-5)
    calls = page.having("details", "call")
    assert len(calls) == 3 and [c["class"] for c in calls] == ["call ok", "call failed", "call ok"]
    assert "Error: division by zero" in text


def test_a_run_stored_as_text_alone_still_renders_its_calls(tmp_path: Path) -> None:
    env = agent_env(tmp_path / "home")
    run_id = record_run(env)
    with sqlite3.connect(tmp_path / "home" / "runs.sqlite3") as conn:
        conn.execute("DELETE FROM events WHERE type = 'model_output' AND run_id = ?", (run_id,))
        for seq, data in conn.execute("SELECT seq, data FROM events WHERE run_id = ?", (run_id,)).fetchall():
            event = json.loads(data)
            if event["type"] == "task_output" and event["event"]["type"] == "run_finished":
                event["event"]["result"].pop("parts")
                conn.execute("UPDATE events SET data = ? WHERE run_id = ? AND seq = ?",
                             (json.dumps(event), run_id, seq))
    path = tmp_path / "old.html"
    assert agent(env, "show", run_id, "--html", str(path)).returncode == 0
    page = Page(path.read_text(encoding="utf-8"))
    assert len(page.having("details", "call")) == 3 and len(page.having("div", "bar")) == 2
    assert "Model time is estimated" in "".join(page.text)


@pytest.mark.skipif(CHROMIUM is None and not BROWSER_REQUIRED,
                    reason="no Chromium on this machine (.ci/run installs Debian's chromium)")
def test_the_page_renders_in_chromium_and_a_call_opens_on_click(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "INTERLEAF_BROWSER_TEST=required but no chromium on PATH"
    _, _, path = report(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "run-report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            failed: list[str] = []
            page.on("request", lambda r: failed.append(r.url) if not r.url.startswith("file:") else None)
            page.goto(path.as_uri())
            assert page.title().startswith("Run ") and page.locator("h1").inner_text() == "plan the dinner"
            bars = page.locator("#timeline .bar")
            assert bars.count() == 2
            model, tool = bars.nth(0).locator(".seg.model"), bars.nth(0).locator(".seg.tool")
            assert (tool.bounding_box() or {"width": 0})["width"] > 0
            assert model.bounding_box() is not None
            first = page.locator("details.call").first
            detail = first.locator(".detail")
            assert not detail.is_visible()
            first.locator("summary").click()
            assert first.get_attribute("open") is not None and detail.is_visible()
            assert '"expression": "120 + 80.5"' in detail.inner_text() and "200.5" in detail.inner_text()
            failing = page.locator("details.call.failed")
            failing.locator("summary").click()
            assert "division by zero" in failing.locator(".detail").inner_text()
            page.screenshot(path=str(shot), full_page=True)
            assert failed == [], "the page asked the network for nothing"
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000


def test_the_task_list_shows_created_and_reordered_tasks_by_name(tmp_path: Path) -> None:
    from helpers.models import ObjectiveScript

    from agent.cli.html_report import render
    from agent.cli.report_model import run_view
    from agent.tasks import ObjectiveRunner, ObjectiveStore

    created: list[str] = []

    def create(request: object) -> list[str]:
        created.append("x")
        return ["check the weather"] if len(created) == 1 else []

    script = ObjectiveScript(plan=["book the flights", "find a hotel"], create=create, order=lambda r: [3, 2])
    store = ObjectiveStore(tmp_path / "runs.sqlite3")
    events = list(ObjectiveRunner(model=script.model(), store=store).run("plan a trip"))
    view = run_view(store, events[0].run_id)  # type: ignore[attr-defined]
    titles = [c.title for c in view.changes]
    assert titles[:4] == ["Planned", "Task 1 started", "Task 1 done", "Created after task 1"]
    assert "Reordered, first to run first" in titles
    reordered = view.changes[titles.index("Reordered, first to run first")]
    assert reordered.lines == ("3. check the weather", "2. find a hotel")
    assert [t.id for t in view.ran] == [1, 3, 2]
    page = Page(render(view))
    assert [b["data-task"] for b in page.having("div", "bar")] == ["1", "3", "2"], "in the order they ran"
