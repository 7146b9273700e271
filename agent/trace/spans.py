"""OpenTelemetry spans of an objective run, after the GenAI semantic conventions:

    invoke_agent interleaf            the objective (gen_ai.conversation.id = the run id)
      chat MODEL                      a planning step's model request
      invoke_agent task 1             one task's agent run
        chat MODEL                    each model request: tokens, finish reasons
        execute_tool Calculator       each call: name, outcome, (opt-in) arguments and result

Model and tool spans are made when their request or call has ended, with the times it
started and ended. Message content (prompts, texts, arguments, results) is recorded only
when asked for (`capture_content`, or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from agent.events import CallFinished, CallStarted
from agent.models.base import Model, Request
from agent.tasks.events import (
    Judged, Notice, ObjectiveEvent, ObjectiveFinished, ObjectiveStarted, TaskFinished, TaskOutput, TasksCreated,
    TasksPlanned, TasksReordered, TaskStarted,
)
from agent.tasks.recording import ModelOutput

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
AGENT_NAME = "interleaf"
FINISH_REASONS = {"end": "stop", "stop": "stop", "length": "length", None: "tool_call"}
"""The loop's finish reasons in the conventions' words; a stream the loop closed itself
(at a call it is about to run) is a tool call."""


def capture_from_env() -> bool:
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in ("1", "true", "yes")


def provider_of(model: Model) -> str:
    module = type(model).__module__
    if module.startswith("agent.models.openai"):
        return "openai"
    if module.startswith("agent.models.llama"):
        return "llama_cpp"
    return AGENT_NAME


class Spans:
    """A run observer (`ObjectiveRunner(observers=[Spans()])`) that turns the run into spans."""

    def __init__(self, tracer: Tracer | None = None, *, capture_content: bool | None = None) -> None:
        self.tracer = tracer or trace.get_tracer("interleaf")
        self.capture = capture_from_env() if capture_content is None else capture_content
        self.root: Span | None = None
        self.task: Span | None = None
        self.calls: dict[int, int] = {}

    def _parent(self) -> Any:
        span = self.task or self.root
        return trace.set_span_in_context(span) if span is not None else None

    def event(self, event: ObjectiveEvent) -> None:
        if isinstance(event, ObjectiveStarted):
            self._started(event)
        elif isinstance(event, TaskStarted):
            task = event.task
            self.task = self.tracer.start_span(
                f"invoke_agent task {task.id}", context=self._parent(), kind=SpanKind.INTERNAL,
                attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": f"task {task.id}",
                            "gen_ai.agent.description": task.text, "interleaf.task.id": task.id,
                            "interleaf.task.attempt": task.attempts})
            self.calls.clear()
        elif isinstance(event, TaskOutput):
            self._task_output(event)
        elif isinstance(event, TaskFinished):
            self._task_finished(event)
        elif isinstance(event, (TasksPlanned, TasksCreated)):
            name = "tasks_planned" if isinstance(event, TasksPlanned) else "tasks_created"
            self._note(name, {"interleaf.tasks": [f"{t.id}. {t.text}" for t in event.tasks]})
        elif isinstance(event, TasksReordered):
            self._note("tasks_reordered", {"interleaf.order": list(event.order)})
        elif isinstance(event, Judged):
            self._note("judged", {"interleaf.done": event.done, "interleaf.reason": event.reason})
        elif isinstance(event, Notice):
            self._note("notice", {"interleaf.message": event.message})
        elif isinstance(event, ObjectiveFinished):
            self._finished(event)

    def _started(self, event: ObjectiveStarted) -> None:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT_NAME,
            "gen_ai.conversation.id": event.run_id, "gen_ai.request.model": event.model,
            "interleaf.run.id": event.run_id, "interleaf.resumed": event.resumed,
        }
        if self.capture:
            attributes["interleaf.objective"] = event.objective
        self.root = self.tracer.start_span(f"invoke_agent {AGENT_NAME}", kind=SpanKind.INTERNAL,
                                           attributes=attributes)

    def _note(self, name: str, attributes: dict[str, Any]) -> None:
        if self.root is not None:
            self.root.add_event(name, attributes)

    def _task_output(self, event: TaskOutput) -> None:
        inner = event.event
        if isinstance(inner, CallStarted):
            self.calls[inner.index] = time.time_ns()
        elif isinstance(inner, CallFinished):
            record = inner.record
            end = time.time_ns()
            start = self.calls.pop(record.index, end - int(record.seconds * 1e9))
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": record.name,
                "gen_ai.tool.type": "function", "gen_ai.tool.call.id": f"{event.task_id}.{record.index}",
            }
            if self.capture:
                attributes["gen_ai.tool.call.arguments"] = json.dumps(
                    dict(record.arguments) if record.arguments is not None else record.raw, default=str)
                if record.result is not None:
                    attributes["gen_ai.tool.call.result"] = record.result
            span = self.tracer.start_span(f"execute_tool {record.name}", context=self._parent(),
                                          kind=SpanKind.INTERNAL, attributes=attributes, start_time=start)
            if record.error is not None:
                span.set_attribute("error.type", "tool_error")
                span.set_status(Status(StatusCode.ERROR, record.error))
            span.end(end_time=end)

    def _task_finished(self, event: TaskFinished) -> None:
        if self.task is None:
            return
        task = event.task
        self.task.set_attribute("interleaf.task.status", task.status.value)
        self.task.set_attribute("interleaf.task.detail", task.detail)
        if self.capture:
            self.task.set_attribute("interleaf.task.result", task.result)
        if task.status.value == "failed":
            self.task.set_status(Status(StatusCode.ERROR, task.detail))
        self.task.end()
        self.task = None

    def _finished(self, event: ObjectiveFinished) -> None:
        if self.task is not None:
            self.task.end()
            self.task = None
        if self.root is None:
            return
        t = event.totals
        self.root.set_attributes({
            "interleaf.status": event.status.value, "interleaf.stop_reason": event.stop_reason.value,
            "gen_ai.usage.input_tokens": t.prompt_tokens, "gen_ai.usage.output_tokens": t.completion_tokens,
            "interleaf.tool_calls": t.tool_calls, "interleaf.tasks_run": t.tasks_run,
        })
        if self.capture:
            self.root.set_attribute("interleaf.answer", event.answer)
        if event.status.value == "failed":
            self.root.set_status(Status(StatusCode.ERROR, event.detail))
        self.root.end()
        self.root = None

    def close(self) -> None:
        """End what a session left open (it stopped without its last event)."""
        for span in (self.task, self.root):
            if span is not None:
                span.set_status(Status(StatusCode.ERROR, "the run stopped before it finished"))
                span.end()
        self.task = self.root = None

    def model_output(self, model: Model, request: Request, output: ModelOutput) -> None:
        operation = "text_completion" if request.prompt.layout == "question" else "chat"
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation, "gen_ai.provider.name": provider_of(model),
            "gen_ai.request.model": model.name, "gen_ai.response.model": model.name,
            "gen_ai.request.max_tokens": request.max_tokens, "gen_ai.request.temperature": request.temperature,
            "gen_ai.usage.input_tokens": output.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": output.usage.completion_tokens,
            "gen_ai.response.finish_reasons": [FINISH_REASONS.get(output.finish_reason, "stop")],
            "interleaf.request.seq": output.seq,
        }
        if request.seed is not None:
            attributes["gen_ai.request.seed"] = request.seed
        if request.stop:
            attributes["gen_ai.request.stop_sequences"] = list(request.stop)
        if self.capture:
            attributes.update(_content(request, output))
        start = int(output.started * 1e9)
        span = self.tracer.start_span(f"{operation} {model.name}", context=self._parent(), kind=SpanKind.CLIENT,
                                      attributes=attributes, start_time=start)
        span.end(end_time=start + int(output.seconds * 1e9))


def _content(request: Request, output: ModelOutput) -> dict[str, str]:
    """The messages as the conventions shape them (JSON of role and parts)."""
    p = request.prompt
    messages: list[dict[str, Any]] = [{"role": "user", "parts": [{"type": "text", "content": p.user}]}]
    if p.assistant:
        messages.append({"role": "assistant", "parts": [{"type": "text", "content": p.assistant}]})
    reason = FINISH_REASONS.get(output.finish_reason, "stop")
    answer = [{"role": "assistant", "parts": [{"type": "text", "content": output.text}], "finish_reason": reason}]
    return {
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": p.system}], ensure_ascii=False),
        "gen_ai.input.messages": json.dumps(messages, ensure_ascii=False),
        "gen_ai.output.messages": json.dumps(answer, ensure_ascii=False),
    }
