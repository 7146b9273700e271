"""The BabyAGI loop over a stored run: plan, then take the first pending task, execute
it through the Toolformer loop, store the result, judge and create follow-up tasks,
prioritise; finally write the answer. Every step commits its state change and its
transcript entry before the next step starts, so a run resumes from its last
finished step."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace

from agent.agent import Agent
from agent.errors import ModelError, UserError
from agent.events import CallFinished, RunFinished, RunResult, StopReason, TextDelta
from agent.models.base import CallTrigger, Model, Usage
from agent.settings import DEFAULTS
from agent.tasks.answer import NO_RESULTS, final_answer, listed_answer, ran
from agent.tasks.approval import ApproveFn, approved_tools, tool_timeout
from agent.tasks.budget import Stop, budget_stop, room_for_new_tasks, task_budget, task_outcome, time_stop
from agent.tasks.context import results_context, task_prompt
from agent.tasks.events import (
    AnswerDelta, Judged, Notice, ObjectiveEvent, ObjectiveFinished, RunStarted, TaskFinished, TaskOutput,
    TasksCreated, TasksPlanned, TasksReordered, TaskStarted, to_json,
)
from agent.tasks.metering import TimedModel, cost_of, price_of
from agent.tasks.models import Phase, RunOptions, RunRecord, RunStatus, Task, TaskStatus
from agent.tasks.planner import Planner, plan_notice, reorder
from agent.tasks.repetition import RepetitionGuard, trim_repetition
from agent.tasks.similarity import dedupe, is_duplicate
from agent.tasks.store import RunStore, process_alive
from agent.tools import Tool

MIN_ANSWER_TOKENS = 32
"""With fewer tokens left in the run, the answer lists the task results as they are."""


class RunNotResumable(UserError):
    pass


class _Cancelled(Exception):
    pass


class ObjectiveRunner:
    """Runs objectives on `model` with `tools`, storing everything in `store`."""

    def __init__(self, *, model: Model, store: RunStore, tools: Sequence[Tool] = (),
                 approve: ApproveFn | None = None, cancel: threading.Event | None = None,
                 tool_timeout: float = DEFAULTS.tool_timeout) -> None:
        self.model = model
        self.store = store
        self.tools = list(tools)
        self.approve = approve
        self.cancel = cancel or threading.Event()
        self.tool_timeout = tool_timeout

    def start(self, objective: str, *, options: RunOptions | None = None, model_spec: str | None = None) -> RunRecord:
        """Store a new run; `events(run.id)` then runs it."""
        if not objective.strip():
            raise UserError("the objective is empty")
        return self.store.create_run(objective.strip(), model=model_spec or self.model.name,
                                     options=options or RunOptions())

    def run(self, objective: str, *, options: RunOptions | None = None) -> Iterator[ObjectiveEvent]:
        yield from self.events(self.start(objective, options=options).id)

    def events(self, run_id: str) -> Iterator[ObjectiveEvent]:
        """Run (or resume) the stored run, yielding its events; the last is `ObjectiveFinished`."""
        yield from _Session(self, self.store.run(run_id)).events()


class _Session:
    def __init__(self, runner: ObjectiveRunner, record: RunRecord) -> None:
        self.runner = runner
        self.store = runner.store
        self.record = record
        self.id = record.id
        self.options = record.options
        self.limits = record.options.limits
        self.cancel = runner.cancel
        self.model = TimedModel(runner.model)
        self.price = price_of(runner.model)
        self.planner = Planner(self.model, step_tokens=self.limits.step_tokens, retries=self.limits.plan_retries,
                               cancel=self.cancel)
        self.totals = record.totals.snapshot()
        self.base_seconds, self.base_model = self.totals.seconds, self.totals.model_seconds
        self.started = time.monotonic()
        self.creations = record.creations
        self.stop: Stop | None = (record.stop_reason, record.detail) if record.stop_reason else None
        timeout = tool_timeout(self.options.approve, runner.tool_timeout)
        self.tool_limit = timeout
        self.tools = approved_tools(self._chosen_tools(), self.options.approve, runner.approve,
                                    default_timeout=runner.tool_timeout)

    def _chosen_tools(self) -> list[Tool]:
        if self.options.tools is None:
            return self.runner.tools
        wanted = {n.casefold() for n in self.options.tools}
        return [t for t in self.runner.tools if t.name.casefold() in wanted]

    def events(self) -> Iterator[ObjectiveEvent]:
        resumed = self.prepare()
        yield self.emit(RunStarted(self.id, self.record.objective, self.record.model, resumed,
                                   tuple(self.store.tasks(self.id)), self.totals.snapshot()))
        try:
            if self.record.phase is Phase.PLANNING:
                yield from self.plan()
            yield from self.execute_all()
            yield from self.answer()
        except _Cancelled:
            yield self.interrupted()
        except ModelError as exc:
            yield self.failed(str(exc))
        except BaseException as exc:
            self.abandon(exc)
            raise

    def prepare(self) -> bool:
        record = self.record
        if record.status is RunStatus.FINISHED:
            reason = record.stop_reason.value if record.stop_reason else "finished"
            raise RunNotResumable(f"run {self.id} already finished ({reason}); `agent show {self.id}` shows it")
        if record.status is RunStatus.RUNNING and record.pid not in (None, os.getpid()) and process_alive(record.pid):
            raise RunNotResumable(f"run {self.id} is still running in process {record.pid}")
        resumed = record.totals.requests > 0 or bool(self.store.tasks(self.id))
        with self.store.transaction():
            for task in self.store.tasks(self.id):
                if task.status in (TaskStatus.RUNNING, TaskStatus.CUT_OFF):
                    how = "interrupted" if task.status is TaskStatus.RUNNING else "cut off by the time budget"
                    self.store.update_task(self.id, task.id, status=TaskStatus.PENDING,
                                           detail=f"{how}; runs again from its start")
            self.store.update_run(self.id, status=RunStatus.RUNNING, pid=os.getpid())
        return resumed

    def emit(self, event: ObjectiveEvent) -> ObjectiveEvent:
        """Write `event` to the transcript (text deltas excepted: the task's whole text is
        in its `RunFinished`) and hand it on."""
        if isinstance(event, AnswerDelta):
            return event
        if isinstance(event, TaskOutput) and not isinstance(event.event, (CallFinished, RunFinished)):
            return event
        self.store.append_event(self.id, to_json(event))
        return event

    def refresh(self) -> None:
        self.totals.seconds = self.base_seconds + time.monotonic() - self.started
        self.totals.model_seconds = self.base_model + self.model.seconds

    def spend(self, usage: Usage) -> None:
        t = self.totals
        t.prompt_tokens += usage.prompt_tokens
        t.completion_tokens += usage.completion_tokens
        t.requests += usage.requests
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
        self.check_cancel()
        objective = self.record.objective
        if self.options.single:
            texts, fallback = [objective], False
        else:
            asked = self.planner.plan(objective, max_tasks=self.limits.max_tasks)
            self.spend(asked.usage)
            if asked.cancelled:
                raise _Cancelled
            kept = dedupe(asked.value or [], [])[0][: self.limits.max_tasks]
            fallback = not kept
            texts = kept or [objective]
            notice = plan_notice(asked.attempts, parsed=asked.value is not None, usable=not fallback)
            if notice:
                yield self.emit(Notice(notice))
        with self.store.transaction():
            origin = "objective" if fallback or self.options.single else "plan"
            tasks = self.store.add_tasks(self.id, texts, origin=origin)
            self.save(phase=Phase.EXECUTING)
            event = self.emit(TasksPlanned(tuple(tasks), fallback=fallback))
        yield event

    def pending(self) -> list[Task]:
        return [t for t in self.store.tasks(self.id) if t.status is TaskStatus.PENDING]

    def execute_all(self) -> Iterator[ObjectiveEvent]:
        if self.record.phase is Phase.ANSWERING:
            return
        unfinished = [t for t in self.store.tasks(self.id)
                      if t.status in (TaskStatus.DONE, TaskStatus.FAILED) and not t.followed_up]
        for task in unfinished:
            yield from self.follow_up(task)
        while self.stop is None:
            self.check_cancel()
            pending = self.pending()
            self.refresh()
            empty = None if pending else (StopReason.EMPTY, "no task is left")
            self.stop = budget_stop(self.totals, self.limits) or empty
            if self.stop is None:
                task = yield from self.execute(pending[0])
                yield from self.follow_up(task)
        self.save(phase=Phase.ANSWERING, stop_reason=self.stop[0], detail=self.stop[1])

    def agent(self) -> Agent:
        calls, tokens, seconds = task_budget(self.totals, self.limits)
        chosen = self.options.overrides
        trigger = None if chosen.trigger_k is None else CallTrigger(k=chosen.trigger_k)
        return Agent(model=self.model, tools=self.tools, purpose="question" if self.options.single else "task",
                     max_calls=calls, max_tokens=tokens, timeout=seconds, tool_timeout=self.tool_limit,
                     constrain=chosen.grammar, trigger=trigger, max_examples=chosen.examples,
                     check_arithmetic=chosen.check_arithmetic)

    def execute(self, task: Task) -> Generator[ObjectiveEvent, None, Task]:
        with self.store.transaction():
            self.store.update_task(self.id, task.id, status=TaskStatus.RUNNING, attempts=task.attempts + 1)
            running = replace(task, status=TaskStatus.RUNNING, attempts=task.attempts + 1)
            started = self.emit(TaskStarted(running, self.totals.snapshot()))
        yield started
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
            result = replace(result, text=trim_repetition(result.text), stop_reason=StopReason.NO_PROGRESS,
                             detail="the model started repeating itself")
        return (yield from self.finish_task(task, result, allowed_calls=agent.settings.max_calls))

    def finish_task(self, task: Task, result: RunResult, *,
                    allowed_calls: int) -> Generator[ObjectiveEvent, None, Task]:
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
        if status is TaskStatus.CUT_OFF:
            self.stop = time_stop(self.totals, self.limits)
        else:
            self.totals.tasks_run += 1
        done = replace(task, status=status, result=result.text.strip(), detail=detail, attempts=task.attempts + 1)
        with self.store.transaction():
            self.store.update_task(self.id, task.id, status=status, result=done.result, detail=done.detail)
            self.save()
            event = self.emit(TaskFinished(done, self.totals.snapshot()))
        yield event
        return done

    def new_information(self, task: Task) -> bool:
        if task.status is not TaskStatus.DONE or not task.result.strip():
            return False
        earlier = [t.result for t in self.store.tasks(self.id) if t.id != task.id and t.status is TaskStatus.DONE]
        return not is_duplicate(task.result, earlier, threshold=0.9)

    def room(self) -> int:
        return room_for_new_tasks(self.totals, self.limits, pending=len(self.pending()))

    def follow_up(self, task: Task) -> Iterator[ObjectiveEvent]:
        self.check_cancel()
        self.refresh()
        may_create = (not self.options.single and self.creations < self.limits.max_creations
                      and self.room() > 0 and budget_stop(self.totals, self.limits) is None
                      and self.new_information(task))
        if may_create:
            done_text = results_context(self.store.tasks(self.id), max_chars=self.limits.context_chars)
            if not self.pending():
                yield from self.judge(done_text)
            if self.stop is None:
                yield from self.create(task, done_text)
                return
        with self.store.transaction():
            self.store.update_task(self.id, task.id, followed_up=True)
            self.save()

    def judge(self, done_text: str) -> Iterator[ObjectiveEvent]:
        """Before creating tasks for an empty list: is the objective already reached?"""
        judged = self.planner.judge(self.record.objective, done=done_text, pending=[])
        self.spend(judged.usage)
        if judged.cancelled:
            raise _Cancelled
        if judged.value is not None:
            yield self.emit(Judged(judged.value.done, judged.value.reason))
            if judged.value.done:
                self.stop = (StopReason.DONE, judged.value.reason or "the model judged the objective done")

    def create(self, task: Task, done_text: str) -> Iterator[ObjectiveEvent]:
        room = self.room()
        asked = self.planner.create(self.record.objective, task=task, done=done_text, pending=self.pending(),
                                    max_new=room)
        self.spend(asked.usage)
        if asked.cancelled:
            raise _Cancelled
        self.creations += 1
        kept, dropped = dedupe(asked.value or [], [t.text for t in self.store.tasks(self.id)])
        dropped += kept[room:]
        with self.store.transaction():
            added = self.store.add_tasks(self.id, kept[:room], origin="create", parent=task.id)
            self.store.update_task(self.id, task.id, followed_up=True)
            self.save()
            event = self.emit(TasksCreated(task.id, tuple(added), tuple(dropped)))
        yield event
        if added and len(self.pending()) > 1:
            yield from self.prioritise()

    def prioritise(self) -> Iterator[ObjectiveEvent]:
        pending = self.pending()
        asked = self.planner.prioritise(self.record.objective, pending=pending)
        self.spend(asked.usage)
        if asked.cancelled:
            raise _Cancelled
        if asked.value is None:
            self.save()
            return
        order = reorder(pending, asked.value)
        with self.store.transaction():
            self.store.set_order(self.id, order)
            self.save()
            event = self.emit(TasksReordered(tuple(order)))
        yield event

    def answer(self) -> Iterator[ObjectiveEvent]:
        self.check_cancel()
        tasks = self.store.tasks(self.id)
        finished = ran(tasks)
        if self.options.single or not finished:
            text = finished[0].result if finished else NO_RESULTS
        elif self.answer_tokens() < MIN_ANSWER_TOKENS:
            text = listed_answer(tasks)
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
        with self.store.transaction():
            self.save(answer=answer, status=RunStatus.FINISHED, phase=Phase.FINISHED, pid=None)
            return self.emit(ObjectiveFinished(self.id, RunStatus.FINISHED, self.stop[0], self.stop[1], answer,
                                               self.totals.snapshot()))

    def interrupted(self) -> ObjectiveEvent:
        with self.store.transaction():
            self.save(status=RunStatus.INTERRUPTED, pid=None)
            return self.emit(ObjectiveFinished(self.id, RunStatus.INTERRUPTED, StopReason.CANCELLED,
                                               "interrupted; the run can be resumed", "", self.totals.snapshot()))

    def failed(self, detail: str) -> ObjectiveEvent:
        """The model failed: the run stops, resumable once the model works again."""
        with self.store.transaction():
            self.save(status=RunStatus.FAILED, pid=None, detail=detail)
            return self.emit(ObjectiveFinished(self.id, RunStatus.FAILED, StopReason.ERROR, detail, "",
                                               self.totals.snapshot()))

    def abandon(self, exc: BaseException) -> None:
        failed = isinstance(exc, Exception)
        try:
            self.save(status=RunStatus.FAILED if failed else RunStatus.INTERRUPTED, pid=None,
                      detail=f"{type(exc).__name__}: {exc}" if failed else "interrupted")
        except Exception:
            pass
