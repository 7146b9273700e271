"""The BabyAGI loop over a stored run: plan, then take the first pending task, execute
it through the Toolformer loop, store the result, judge and create follow-up tasks,
prioritise; finally write the answer. `steps.next_step` picks each step from the
stored state; `_Session.apply` runs it and commits its state change with its
transcript entry before the next step is picked, so a run resumes from its last
finished step."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import assert_never

from agent.agent import Agent
from agent.errors import ModelError, UserError
from agent.events import CallFinished, RunFinished, RunResult, StopReason, TextDelta
from agent.models.base import CallTrigger, Model, Usage
from agent.settings import DEFAULTS
from agent.tasks.answer import NO_RESULTS, final_answer, listed_answer, ran
from agent.tasks.approval import ApproveFn, approved_tools, chosen_tools, tool_timeout
from agent.tasks.budget import Stop, plan_cut_off, room_for_new_tasks, task_budget, task_outcome
from agent.tasks.context import results_context, task_prompt
from agent.tasks.events import (
    AnswerDelta, Judged, Notice, ObjectiveEvent, ObjectiveFinished, ObjectiveStarted, TaskFinished, TaskOutput,
    TasksCreated, TasksPlanned, TasksReordered, TaskStarted, to_json,
)
from agent.tasks.metering import TimedModel, cost_of, price_of
from agent.tasks.planner import Planner, Planning, plan_notice, reorder
from agent.tasks.recording import Recorder, RunObserver
from agent.tasks.repetition import RepetitionGuard, cut_repetition
from agent.tasks.similarity import dedupe
from agent.tasks.state import ObjectiveOptions, ObjectiveRecord, ObjectiveStatus, Phase, Task, TaskStatus
from agent.tasks.steps import (
    Answer, Create, Execute, FollowUp, Judge, ObjectiveState, Plan, Prioritise, Start, Step, StopTasks, next_step,
)
from agent.tasks.store import ObjectiveStore, process_alive
from agent.tools import Tool

MIN_ANSWER_TOKENS = 32
"""With fewer tokens left in the run, the answer lists the task results as they are."""


class ObjectiveNotResumable(UserError):
    pass


class _Cancelled(Exception):
    pass


class ObjectiveRunner:
    """Runs objectives on `model` with `tools`, storing everything in `store`. The
    planning steps go to `planner`, by default a `Planner` on `model`."""

    def __init__(self, *, model: Model, store: ObjectiveStore, tools: Sequence[Tool] = (),
                 approve: ApproveFn | None = None, cancel: threading.Event | None = None,
                 tool_timeout: float = DEFAULTS.tool_timeout, planner: Planning | None = None,
                 observers: Sequence[RunObserver] = ()) -> None:
        self.model = model
        self.planner = planner
        self.observers = tuple(observers)
        """Told of every event and model request (e.g. `agent.trace.Spans` for OpenTelemetry)."""
        self.store = store
        self.tools = list(tools)
        self.approve = approve
        self.cancel = cancel or threading.Event()
        self.tool_timeout = tool_timeout

    def start(self, objective: str, *, options: ObjectiveOptions | None = None,
              model_spec: str | None = None) -> ObjectiveRecord:
        """Store a new run; `events(run.id)` then runs it."""
        if not objective.strip():
            raise UserError("the objective is empty")
        return self.store.create_run(objective.strip(), model=model_spec or self.model.name,
                                     options=options or ObjectiveOptions())

    def run(self, objective: str, *, options: ObjectiveOptions | None = None) -> Iterator[ObjectiveEvent]:
        yield from self.events(self.start(objective, options=options).id)

    def events(self, run_id: str) -> Iterator[ObjectiveEvent]:
        """Run (or resume) the stored run, yielding its events; the last is `ObjectiveFinished`."""
        record = self.store.run(run_id)
        recorder = Recorder(lambda data: self.store.append_event(record.id, data), self.observers)
        yield from recorder.watch(_Session(self, record, recorder).events())


class _Session:
    def __init__(self, runner: ObjectiveRunner, record: ObjectiveRecord, recorder: Recorder) -> None:
        self.runner = runner
        self.store = runner.store
        self.record = record
        self.id = record.id
        self.options = record.options
        self.limits = record.options.limits
        self.cancel = runner.cancel
        self.recorder = recorder
        self.model = TimedModel(recorder.model(runner.model))
        self.price = price_of(runner.model)
        self.totals = record.totals.snapshot()
        self.base_seconds, self.base_model = self.totals.seconds, self.totals.model_seconds
        self.started = time.monotonic()
        timeout = self.limits.timeout
        self.planner: Planning = runner.planner or Planner(
            self.model, step_tokens=self.limits.step_tokens, retries=self.limits.plan_retries, cancel=self.cancel,
            deadline=None if timeout is None else self.started + timeout - self.base_seconds)
        self.creations = record.creations
        self.stop: Stop | None = (record.stop_reason, record.detail) if record.stop_reason else None
        self.last: Step | None = None
        """The step applied before, which the next one may follow from."""
        self.tool_limit = tool_timeout(self.options.approve, runner.tool_timeout)
        self.tools = approved_tools(chosen_tools(runner.tools, self.options.tools), self.options.approve,
                                    runner.approve, default_timeout=runner.tool_timeout)

    def events(self) -> Iterator[ObjectiveEvent]:
        resumed = self.prepare()
        yield self.emit(ObjectiveStarted(self.id, self.record.objective, self.record.model, resumed,
                                         tuple(self.store.tasks(self.id)), self.totals.snapshot()))
        try:
            while True:
                step = next_step(self.state())
                if not isinstance(step, Execute):
                    self.check_cancel()
                yield from self.apply(step)
                if isinstance(step, Answer):
                    return
                self.last = step
        except _Cancelled:
            yield self.end(ObjectiveStatus.INTERRUPTED, StopReason.CANCELLED, "interrupted; the run can be resumed")
        except ModelError as exc:  # the run stops, resumable once the model works again
            yield self.end(ObjectiveStatus.FAILED, StopReason.ERROR, str(exc), detail=str(exc))
        except BaseException as exc:
            self.abandon(exc)
            raise

    def state(self) -> ObjectiveState:
        """The run as stored, with this session's totals and last step."""
        self.refresh()
        record = self.store.run(self.id)
        return ObjectiveState(phase=record.phase, options=self.options, tasks=tuple(self.store.tasks(self.id)),
                              totals=self.totals.snapshot(), creations=record.creations, last=self.last)

    def apply(self, step: Step) -> Iterator[ObjectiveEvent]:
        """Apply `step`: its model work first, then its changes and its event in one commit."""
        match step:
            case Plan():
                yield from self.plan()
            case Start(task):
                running = replace(task, status=TaskStatus.RUNNING, attempts=task.attempts + 1)
                yield self.commit(lambda: TaskStarted(running, self.totals.snapshot()),
                                  lambda: self.store.update_task(self.id, task.id, status=TaskStatus.RUNNING,
                                                                 attempts=running.attempts))
            case Execute(task):
                yield from self.execute(task)
            case Judge():
                yield from self.judge()
            case Create(task):
                yield from self.create(task)
            case Prioritise():
                yield from self.prioritise()
            case FollowUp(task):
                with self.store.transaction():
                    self.store.update_task(self.id, task.id, followed_up=True)
                    self.save()
            case StopTasks(reason, detail):
                self.stop = (reason, detail)
                self.save(phase=Phase.ANSWERING, stop_reason=reason, detail=detail)
            case Answer():
                yield from self.answer()
            case _:
                assert_never(step)

    def commit(self, event: Callable[[], ObjectiveEvent], write: Callable[[], object] = lambda: None,
               **run_values: object) -> ObjectiveEvent:
        """The one place a step's changes are stored, in one transaction: `write`, the
        run's totals and `run_values`, and the step's event (made once they are written)."""
        with self.store.transaction():
            write()
            self.save(**run_values)
            return self.emit(event())

    def prepare(self) -> bool:
        record = self.record
        if record.status is ObjectiveStatus.FINISHED:
            reason = record.stop_reason.value if record.stop_reason else "finished"
            raise ObjectiveNotResumable(f"run {self.id} already finished ({reason}); `agent show {self.id}` shows it")
        ours = record.pid in (None, os.getpid())
        if record.status is ObjectiveStatus.RUNNING and not ours and process_alive(record.pid):
            raise ObjectiveNotResumable(f"run {self.id} is still running in process {record.pid}")
        resumed = record.totals.requests > 0 or bool(self.store.tasks(self.id))
        with self.store.transaction():
            for task in self.store.tasks(self.id):
                if task.status in (TaskStatus.RUNNING, TaskStatus.CUT_OFF):
                    how = "interrupted" if task.status is TaskStatus.RUNNING else "cut off by the time budget"
                    self.store.update_task(self.id, task.id, status=TaskStatus.PENDING,
                                           detail=f"{how}; runs again from its start")
            self.store.update_run(self.id, status=ObjectiveStatus.RUNNING, pid=os.getpid())
        return resumed

    def emit(self, event: ObjectiveEvent) -> ObjectiveEvent:
        """Write `event` to the transcript (text deltas excepted: the task's whole text is
        in its `RunFinished`) and hand it on."""
        if isinstance(event, AnswerDelta):
            return event
        if isinstance(event, TaskOutput) and not isinstance(event.event, (CallFinished, RunFinished)):
            return event
        with self.store.transaction():
            self.recorder.flush()
            self.store.append_event(self.id, to_json(event))
        return event

    def refresh(self) -> None:
        self.totals.seconds = self.base_seconds + time.monotonic() - self.started
        self.totals.model_seconds = self.base_model + self.model.seconds

    def spend(self, usage: Usage) -> None:
        t = self.totals
        t.add(usage)
        cost = cost_of(usage, self.price)
        t.cost = None if cost is None or t.cost is None else t.cost + cost
        self.refresh()

    def save(self, **values: object) -> None:
        self.refresh()
        self.store.update_run(self.id, totals=self.totals, creations=self.creations, **values)

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise _Cancelled

    def plan(self) -> Iterator[ObjectiveEvent]:
        objective = self.record.objective
        if self.options.single:
            texts, fallback = [objective], False
        else:
            asked = self.planner.plan(objective, max_tasks=self.limits.max_tasks)
            self.spend(asked.usage)
            if asked.cancelled:  # by Ctrl-C, or by the time budget: then no task is planned
                self.check_cancel()
                yield from self.apply(StopTasks(*plan_cut_off(self.totals, self.limits)))
                return
            kept = dedupe(asked.value or [], [])[0][: self.limits.max_tasks]
            fallback = not kept
            texts = kept or [objective]
            notice = plan_notice(asked.attempts, parsed=asked.value is not None, usable=not fallback)
            if notice:
                yield self.emit(Notice(notice))
        origin = "objective" if fallback or self.options.single else "plan"
        added: list[Task] = []
        yield self.commit(lambda: TasksPlanned(tuple(added), fallback=fallback),
                          lambda: added.extend(self.store.add_tasks(self.id, texts, origin=origin)),
                          phase=Phase.EXECUTING)

    def pending(self) -> list[Task]:
        return [t for t in self.store.tasks(self.id) if t.status is TaskStatus.PENDING]

    def agent(self) -> Agent:
        calls, tokens, seconds = task_budget(self.totals, self.limits)
        chosen = self.options.overrides
        trigger = None if chosen.trigger_k is None else CallTrigger(k=chosen.trigger_k)
        return Agent(model=self.model, tools=self.tools, purpose="question" if self.options.single else "task",
                     max_calls=calls, max_tokens=tokens, timeout=seconds, tool_timeout=self.tool_limit,
                     constrain=chosen.grammar, trigger=trigger, max_examples=chosen.examples,
                     check_arithmetic=chosen.check_arithmetic)

    def execute(self, task: Task) -> Iterator[ObjectiveEvent]:
        """Run the running `task` through the Toolformer loop and store its result."""
        if self.cancel.is_set():
            self.store.update_task(self.id, task.id, status=TaskStatus.PENDING, detail="cancelled; runs again")
            raise _Cancelled
        context = results_context(self.store.tasks(self.id), max_chars=self.limits.context_chars)
        prompt = task.text if self.options.single else task_prompt(self.record.objective, task, context)
        agent = self.agent()
        result: RunResult | None = None
        stop_task, guard = threading.Event(), RepetitionGuard()
        try:
            for event in agent.stream(prompt, cancel=stop_task):
                if self.cancel.is_set() or (isinstance(event, TextDelta) and guard.feed(event.text)):
                    stop_task.set()
                result = event.result if isinstance(event, RunFinished) else result
                yield self.emit(TaskOutput(task.id, event))
        finally:
            agent.close()
        assert result is not None
        if guard.repeating and not self.cancel.is_set():
            result = cut_repetition(result)
        yield self.finish_task(task, result, allowed_calls=agent.settings.max_calls)

    def finish_task(self, task: Task, result: RunResult, *, allowed_calls: int) -> ObjectiveEvent:
        if result.stop_reason is StopReason.CANCELLED:
            self.store.update_task(self.id, task.id, status=TaskStatus.PENDING, detail="cancelled; runs again")
            raise _Cancelled
        if result.stop_reason is StopReason.MODEL_ERROR:
            self.spend(result.usage)
            self.store.update_task(self.id, task.id, status=TaskStatus.PENDING, detail=result.detail)
            raise ModelError(result.detail)
        self.spend(result.usage)
        self.totals.tool_calls += min(len(result.calls), allowed_calls)
        self.totals.tool_seconds += sum(c.seconds for c in result.calls)
        status, detail = task_outcome(result, self.totals, self.limits)
        if status is not TaskStatus.CUT_OFF:
            self.totals.tasks_run += 1
        done = replace(task, status=status, result=result.text.strip(), detail=detail, parts=result.parts)
        return self.commit(lambda: TaskFinished(done, self.totals.snapshot()),
                           lambda: self.store.update_task(self.id, task.id, status=status, result=done.result,
                                                          detail=done.detail, parts=done.parts))

    def done_text(self) -> str:
        return results_context(self.store.tasks(self.id), max_chars=self.limits.context_chars)

    def judge(self) -> Iterator[ObjectiveEvent]:
        """Before creating tasks for an empty list: is the objective already reached?"""
        judged = self.planner.judge(self.record.objective, done=self.done_text(), pending=[])
        self.spend(judged.usage)
        self.check_cancel()
        verdict = judged.value
        if verdict is None:
            return
        if not verdict.done:
            yield self.commit(lambda: Judged(False, verdict.reason))
            return
        self.stop = (StopReason.DONE, verdict.reason or "the model judged the objective done")
        yield self.commit(lambda: Judged(True, verdict.reason), phase=Phase.ANSWERING, stop_reason=self.stop[0],
                          detail=self.stop[1])

    def create(self, task: Task) -> Iterator[ObjectiveEvent]:
        room = room_for_new_tasks(self.totals, self.limits, pending=len(self.pending()))
        asked = self.planner.create(self.record.objective, task=task, done=self.done_text(), pending=self.pending(),
                                    max_new=room)
        self.spend(asked.usage)
        self.check_cancel()  # a step the time budget cut short is read as no reply
        self.creations += 1
        kept, dropped = dedupe(asked.value or [], [t.text for t in self.store.tasks(self.id)])
        dropped += kept[room:]
        added: list[Task] = []

        def write() -> None:
            added.extend(self.store.add_tasks(self.id, kept[:room], origin="create", parent=task.id))
            self.store.update_task(self.id, task.id, followed_up=True)

        yield self.commit(lambda: TasksCreated(task.id, tuple(added), tuple(dropped)), write)

    def prioritise(self) -> Iterator[ObjectiveEvent]:
        pending = self.pending()
        asked = self.planner.prioritise(self.record.objective, pending=pending)
        self.spend(asked.usage)
        self.check_cancel()  # a step the time budget cut short is read as no reply
        if asked.value is None:
            self.save()
            return
        order = reorder(pending, asked.value)
        yield self.commit(lambda: TasksReordered(tuple(order)), lambda: self.store.set_order(self.id, order))

    def answer(self) -> Iterator[ObjectiveEvent]:
        self.check_cancel()
        tasks = self.store.tasks(self.id)
        finished = ran(tasks)
        if self.options.single or not finished:
            text = finished[0].result if finished else NO_RESULTS
        elif self.answer_tokens() < MIN_ANSWER_TOKENS or (self.stop and self.stop[0] is StopReason.TIMEOUT):
            text = listed_answer(tasks)  # no model call once the tokens or the time are spent
        else:
            parts: list[str] = []
            done_text = results_context(tasks, max_chars=max(self.limits.context_chars, 2500), recent=len(tasks))
            usage = Usage()
            for chunk in self.planner.answer(self.record.objective, done=done_text,
                                             max_tokens=self.answer_tokens(), usage=usage):
                parts.append(chunk)
                yield AnswerDelta(chunk)
            self.spend(usage)
            self.check_cancel()
            text = final_answer("".join(parts), tasks)
        yield self.finished(text)

    def answer_tokens(self) -> int:
        """The answer's tokens: its own limit, within what is left of the run's."""
        left = self.limits.max_tokens - self.totals.completion_tokens
        return max(1, min(self.limits.answer_tokens, left))

    def finished(self, answer: str) -> ObjectiveEvent:
        assert self.stop is not None
        return self.end(ObjectiveStatus.FINISHED, *self.stop, answer, answer=answer, phase=Phase.FINISHED)

    def end(self, status: ObjectiveStatus, reason: StopReason, detail: str, text: str = "", /,
            **run_values: object) -> ObjectiveEvent:
        """The run's last event (`text` its answer), stored with its status and `run_values`."""
        return self.commit(lambda: ObjectiveFinished(self.id, status, reason, detail, text, self.totals.snapshot()),
                           lambda: None, status=status, pid=None, **run_values)

    def abandon(self, exc: BaseException) -> None:
        failed = isinstance(exc, Exception)
        try:
            self.save(status=ObjectiveStatus.FAILED if failed else ObjectiveStatus.INTERRUPTED, pid=None,
                      detail=f"{type(exc).__name__}: {exc}" if failed else "interrupted")
        except Exception:
            pass
