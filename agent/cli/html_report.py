"""`agent show RUN --html FILE`: one self-contained HTML page (no scripts, no network)
with the objective, the answer, a timeline bar per task (model time, tool time, tokens),
the task list as it evolved, and each task's text with its calls highlighted; a call
opens on click to show its arguments, its result or error, and its time."""

from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path

from agent.cli.report_model import Change, RunView, TaskView, run_view
from agent.events import CallRecord, Spliced
from agent.tasks.store import ObjectiveStore

STYLE = """
:root { --model: #4f7cff; --tool: #f0a33a; --ok: #1f8f4e; --err: #c93434; --ink: #1d2330; --dim: #6b7280; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0 auto;
       max-width: 980px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid #e5e7eb; }
.meta { color: var(--dim); margin: 0; } .meta b { color: var(--ink); font-weight: 600; }
.answer { background: #f6f8fb; border-left: 4px solid var(--ok); padding: 10px 14px; white-space: pre-wrap; }
.legend span { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin: 0 4px 0 12px;
               vertical-align: -1px; }
.bar { display: grid; grid-template-columns: 220px 1fr 330px; gap: 10px; align-items: center; margin: 6px 0; }
.bar .label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.track { background: #f1f3f7; border-radius: 4px; height: 18px; display: flex; overflow: hidden; }
.seg { height: 100%; } .seg.model, .legend .model { background: var(--model); }
.seg.tool, .legend .tool { background: var(--tool); }
.tokens { height: 4px; background: #9aa3b5; border-radius: 2px; margin-top: 3px; }
.figures { color: var(--dim); font-size: 13px; font-variant-numeric: tabular-nums; }
.changes { padding-left: 20px; } .changes li { margin: 3px 0; } .changes ul { margin: 2px 0; color: var(--dim); }
.change-done { color: var(--ok); } .change-failed { color: var(--err); }
.task { border: 1px solid #e5e7eb; border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
.task h3 { font-size: 15px; margin: 0 0 6px; } .status { font-size: 12px; color: var(--dim); font-weight: 400; }
.text { white-space: pre-wrap; }
details.call { display: inline; }
details.call > summary { display: inline; cursor: pointer; list-style: none; font-family: ui-monospace, monospace;
                         font-size: 13.5px; padding: 1px 4px; border-radius: 4px; background: #eaf0ff; }
details.call > summary::-webkit-details-marker { display: none; }
details.call.failed > summary { background: #fdecec; }
details.call .outcome-ok { color: var(--ok); font-weight: 600; } details.call .outcome-err { color: var(--err); }
details.call:not([open])::details-content { display: none; }
details.call[open] > .detail { display: block; }
.detail { border: 1px solid #d7def0; border-radius: 6px; background: #fbfcff; padding: 8px 12px; margin: 6px 0;
          white-space: normal; font-size: 13.5px; }
.detail dl { margin: 0; } .detail dt { font-weight: 600; } .detail dd { margin: 0 0 6px 0; }
.detail pre { margin: 0; white-space: pre-wrap; }
.spliced { background: #eef8f0; border-radius: 3px; padding: 0 2px; }
"""


def write_report(store: ObjectiveStore, run_id: str, path: Path) -> Path:
    page = render(run_view(store, run_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def render(view: RunView) -> str:
    run = view.run
    title = f"Run {run.id}: {run.objective}"
    body = "\n".join([
        f"<header><h1>{escape(run.objective)}</h1>{_meta(view)}</header>",
        "<h2>Answer</h2>", f'<div class="answer" id="answer">{escape(run.answer or "(no answer)")}</div>',
        "<h2>Timeline</h2>", _timeline(view),
        "<h2>The task list as it evolved</h2>", _changes(view.changes),
        "<h2>Tasks</h2>", "\n".join(_task(t) for t in view.tasks),
    ])
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def _meta(view: RunView) -> str:
    run, t = view.run, view.run.totals
    stop = run.stop_reason.value if run.stop_reason else "-"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
    items = [("run", run.id), ("model", run.model), ("status", run.status.value), ("stop", stop),
             ("started", when), ("tasks run", str(t.tasks_run)), ("calls", str(t.tool_calls)),
             ("tokens", f"{t.prompt_tokens} in / {t.completion_tokens} out"),
             ("time", f"{t.seconds:.1f} s (model {t.model_seconds:.1f} s, tools {t.tool_seconds:.1f} s)")]
    shown = " · ".join(f"{escape(k)} <b>{escape(v)}</b>" for k, v in items)
    detail = f'<p class="meta">{escape(run.detail)}</p>' if run.detail else ""
    return f'<p class="meta">{shown}</p>{detail}'


def _timeline(view: RunView) -> str:
    ran = view.ran
    if not ran:
        return '<p class="meta">No task ran.</p>'
    longest = max(max(t.model_seconds + t.tool_seconds for t in ran), 1e-9)
    most = max(max(t.tokens for t in ran), 1)
    rows = [_bar(t, longest, most) for t in ran]
    estimate = "" if view.timed else " Model time is estimated (this run was stored before requests were timed)."
    planning = (f'<p class="meta">Planning steps: {view.planning_requests} requests, '
                f"{view.planning_seconds:.2f} s, {view.planning_tokens} tokens.{estimate}</p>")
    legend = ('<p class="legend meta"><span class="model"></span>model time<span class="tool"></span>tool time'
              ' · the thin line: tokens</p>')
    return legend + '<div id="timeline">' + "\n".join(rows) + "</div>" + planning


def _bar(task: TaskView, longest: float, most: int) -> str:
    model = 100 * task.model_seconds / longest
    tool = 100 * task.tool_seconds / longest
    start = "" if task.started is None else f", from +{task.started:.2f} s"
    figures = (f"{task.model_seconds:.2f} s model · {task.tool_seconds:.2f} s tools · {task.tokens} tokens"
               f" ({task.requests} requests{start})")
    return (f'<div class="bar" data-task="{task.id}" data-model-seconds="{task.model_seconds:.6f}" '
            f'data-tool-seconds="{task.tool_seconds:.6f}" data-tokens="{task.tokens}">'
            f'<a class="label" href="#task-{task.id}">{task.id}. {escape(task.text)}</a><div>'
            f'<div class="track"><div class="seg model" style="width:{model:.2f}%" title="model time"></div>'
            f'<div class="seg tool" style="width:{tool:.2f}%" title="tool time"></div></div>'
            f'<div class="tokens" style="width:{100 * task.tokens / most:.2f}%" title="tokens"></div></div>'
            f'<span class="figures">{escape(figures)}</span></div>')


def _changes(changes: list[Change]) -> str:
    if not changes:
        return '<p class="meta">Nothing was planned.</p>'
    items = []
    for c in changes:
        lines = "".join(f"<li>{escape(line)}</li>" for line in c.lines)
        sub = f"<ul>{lines}</ul>" if lines else ""
        items.append(f'<li class="change-{escape(c.kind)}">{escape(c.title)}{sub}</li>')
    return f'<ol class="changes" id="changes">{"".join(items)}</ol>'


def _task(task: TaskView) -> str:
    text = "".join(_part(p) for p in task.parts) if task.parts else escape("(not run)" if not task.attempts else "")
    detail = f' · {escape(task.detail)}' if task.detail else ""
    return (f'<article class="task" id="task-{task.id}"><h3>{task.id}. {escape(task.text)} '
            f'<span class="status">{escape(task.status)}{detail}</span></h3>'
            f'<div class="text">{text}</div></article>')


def _part(part: str | CallRecord | Spliced) -> str:
    if isinstance(part, str):
        return escape(part)
    if isinstance(part, Spliced):
        return f'<span class="spliced" title="computed by the loop">{escape(part.text)}</span>'
    return _call(part)


def _call(call: CallRecord) -> str:
    if call.error is not None:
        outcome = f'<span class="outcome-err">Error: {escape(call.error)}</span>'
        shown = f"<dt>error</dt><dd><pre>{escape(call.error)}</pre></dd>"
    else:
        outcome = f'<span class="outcome-ok">{escape(call.result or "")}</span>'
        shown = f"<dt>result</dt><dd><pre>{escape(call.result or '')}</pre></dd>"
    arguments = json.dumps(dict(call.arguments), ensure_ascii=False, indent=1, default=str) \
        if call.arguments is not None else call.raw
    state = "failed" if call.error is not None else "ok"
    return (f'<details class="call {state}" data-call="{call.index}"><summary>[{escape(call.name)}'
            f"({escape(call.raw)}) → {outcome}]</summary>"
            f'<div class="detail"><dl><dt>call</dt><dd>{escape(call.name)} #{call.index + 1}</dd>'
            f"<dt>arguments</dt><dd><pre>{escape(arguments)}</pre></dd>{shown}"
            f"<dt>time</dt><dd>{call.seconds * 1000:.1f} ms</dd></dl></div></details>")
