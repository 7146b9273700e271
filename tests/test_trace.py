"""OpenTelemetry spans of objective runs: their shape and GenAI attributes (the SDK's
in-memory exporter), their export over OTLP/HTTP by the installed `agent` script to a
receiver on 127.0.0.1, and no OpenTelemetry import at all when tracing is off."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers.recorded import MODEL, OBJECTIVE, agent, agent_env, make_model
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agent.cli.setup import installed
from agent.tasks import ObjectiveOptions, ObjectiveRunner, ObjectiveStore
from agent.tasks.recording import MODEL_OUTPUT
from agent.trace import Spans

pytestmark = pytest.mark.timeout(120)


def traced_run(tmp_path: Path, *, capture: bool) -> tuple[list[ReadableSpan], ObjectiveStore, str]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = ObjectiveStore(tmp_path / "runs.sqlite3")
    runner = ObjectiveRunner(model=make_model(), store=store, tools=installed(),
                             observers=[Spans(provider.get_tracer("test"), capture_content=capture)])
    events = list(runner.run(OBJECTIVE, options=ObjectiveOptions(tools=("Calculator",))))
    return list(exporter.get_finished_spans()), store, events[0].run_id  # type: ignore[attr-defined]


def named(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def test_a_run_is_a_tree_of_agent_model_and_tool_spans(tmp_path: Path) -> None:
    spans, store, run_id = traced_run(tmp_path, capture=False)
    [root] = named(spans, "invoke_agent interleaf")
    tasks = named(spans, "invoke_agent task")
    tools = named(spans, "execute_tool Calculator")
    models = named(spans, "chat recorded-objective")
    assert root.parent is None
    assert attrs(root)["gen_ai.operation.name"] == "invoke_agent"
    assert attrs(root)["gen_ai.conversation.id"] == run_id
    assert [attrs(t)["gen_ai.agent.description"] for t in tasks] == ["add the prices", "split the bill"]
    assert all(parent_id(t) == span_id(root) for t in tasks)
    task_ids = {span_id(t) for t in tasks}
    assert len(tools) == 3 and all(parent_id(s) in task_ids for s in tools)
    assert [s.status.status_code for s in tools] == [StatusCode.UNSET, StatusCode.ERROR, StatusCode.UNSET]
    assert tools[1].status.description == "division by zero" and attrs(tools[1])["error.type"] == "tool_error"
    assert all(attrs(s)["gen_ai.tool.name"] == "Calculator" for s in tools)
    outputs = [e for e in store.events(run_id) if e["type"] == MODEL_OUTPUT]
    assert len(models) == len(outputs) == 10
    in_tasks = [m for m in models if parent_id(m) in task_ids]
    assert len(in_tasks) == 5  # three requests for the first task, two for the second; the rest plan
    for span, output in zip(sorted(models, key=lambda s: s.start_time or 0), outputs):
        found = attrs(span)
        assert found["gen_ai.operation.name"] == "chat"
        assert found["gen_ai.request.model"] == "recorded-objective"
        assert found["gen_ai.usage.input_tokens"] == output["usage"]["prompt_tokens"]
        assert found["gen_ai.usage.output_tokens"] == output["usage"]["completion_tokens"]
        assert found["gen_ai.response.finish_reasons"] == ("tool_call" if output["finish_reason"] is None else "stop",)
    content = ("gen_ai.input.messages", "gen_ai.tool.call.arguments", "interleaf.objective")
    assert not any(key in attrs(s) for s in spans for key in content), "content is recorded only when asked for"
    assert attrs(root)["gen_ai.usage.output_tokens"] == sum(o["usage"]["completion_tokens"] for o in outputs)


def test_content_is_recorded_when_asked_for(tmp_path: Path) -> None:
    spans, _, _ = traced_run(tmp_path, capture=True)
    tools = named(spans, "execute_tool")
    assert json.loads(attrs(tools[0])["gen_ai.tool.call.arguments"]) == {"expression": "120 + 80.5"}
    assert attrs(tools[0])["gen_ai.tool.call.result"] == "200.5"
    asked = [s for s in named(spans, "chat") if "Your task: add the prices" in attrs(s)["gen_ai.input.messages"]]
    output = json.loads(attrs(asked[0])["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == "The total is [Calculator(120 + 80.5)"


class Receiver(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest] = []
    paths: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).paths.append(self.path)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        type(self).received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received, Receiver.paths = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_agent_script_exports_spans_over_otlp_http(tmp_path: Path, receiver: str) -> None:
    env = agent_env(tmp_path / "home", OTEL_EXPORTER_OTLP_ENDPOINT=receiver)
    done = agent(env, "run", OBJECTIVE, "--model", MODEL, "--tools", "Calculator", "--quiet")
    assert done.returncode == 0, done.stderr
    assert Receiver.paths and set(Receiver.paths) == {"/v1/traces"}
    spans: dict[str, list[dict[str, Any]]] = {}
    services = set()
    for request in Receiver.received:
        for resource in request.resource_spans:
            services |= {a.value.string_value for a in resource.resource.attributes if a.key == "service.name"}
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attrs = {a.key: a.value for a in span.attributes}
                    spans.setdefault(span.name, []).append(attrs)
    assert services == {"interleaf"}
    assert len(spans["invoke_agent interleaf"]) == 1
    assert len(spans["execute_tool Calculator"]) == 3
    assert len(spans["chat recorded-objective"]) == 10
    [root] = spans["invoke_agent interleaf"]
    assert root["gen_ai.operation.name"].string_value == "invoke_agent"
    models = spans["chat recorded-objective"]
    spent = sum(m["gen_ai.usage.output_tokens"].int_value for m in models)
    assert spent == root["gen_ai.usage.output_tokens"].int_value


NO_OP = """
import sys
from agent.cli import main
code = main(["run", {objective!r}, "--model", {model!r}, "--tools", "Calculator", "--quiet"])
print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
sys.exit(code)
"""


@pytest.mark.parametrize("traced", [False, True])
def test_without_an_endpoint_nothing_of_opentelemetry_is_imported(tmp_path: Path, receiver: str,
                                                                   traced: bool) -> None:
    extra = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver} if traced else {}
    env = agent_env(tmp_path / "home", **extra)
    code = NO_OP.format(objective=OBJECTIVE, model=MODEL)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr
    modules = done.stdout.strip().splitlines()[-1]
    if traced:
        assert "'opentelemetry.sdk.trace'" in modules
    else:
        assert modules == "[]"
        assert not Receiver.received


def test_a_run_left_unfinished_still_ends_its_spans(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    runner = ObjectiveRunner(model=make_model(), store=ObjectiveStore(tmp_path / "runs.sqlite3"), tools=installed(),
                             observers=[Spans(provider.get_tracer("test"))])
    events = runner.run(OBJECTIVE, options=ObjectiveOptions(tools=("Calculator",)))
    for event in events:
        if type(event).__name__ == "TaskStarted":
            break
    events.close()  # type: ignore[attr-defined]
    spans = exporter.get_finished_spans()
    ended = {s.name: s.status for s in spans}
    assert ended["invoke_agent interleaf"].status_code == StatusCode.ERROR
    assert ended["invoke_agent task 1"].description == "the run stopped before it finished"


def test_an_endpoint_without_the_sdk_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.errors import ConfigError
    from agent.trace.setup import observers_from_env

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ConfigError, match=r"pip install 'interleaf\[otel\]'"):
        observers_from_env()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert observers_from_env().observers == []
