"""Native function calling end to end: an `Agent` on `OpenAIModel(dialect="native")`
against llama-cpp-python's server in its chatml-function-calling format, with the
packaged smollm2-135m. What goes over the wire is read from the HTTP requests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers.server import recording_client

from agent import Agent
from agent.events import CallFinished, CallStarted, RunFinished
from agent.models import Completion, OpenAIModel, Prompt, Request, resolve_model
from agent.models.openai_messages import tool_schema
from tools.calculator import calculator

server = pytest.mark.server


def native_model(url: str, sent: list[dict[str, Any]], **options: Any) -> OpenAIModel:
    """`openai+native:` on `url`; every request body it sends is appended to `sent`."""
    model = resolve_model(f"openai+native:smollm2@{url}", client=recording_client(url, sent), **options)
    assert isinstance(model, OpenAIModel) and model.dialect == "native" and model.capabilities.native_tools
    return model


@server
def test_a_forced_native_call_is_a_call_record_and_goes_back_as_tool_messages(tools_url: str) -> None:
    sent: list[dict[str, Any]] = []
    agent = Agent(model=native_model(tools_url, sent), tools=[calculator], tool_choice="Calculator",
                  max_calls=1, max_tokens=48)
    events = list(agent.stream("What is 3*7?"))
    started = [e.call for e in events if isinstance(e, CallStarted)]
    records = [e.record for e in events if isinstance(e, CallFinished)]
    end = events[-1]
    assert isinstance(end, RunFinished)
    # The model's native call is the same call record an inline call gives.
    assert [c.name for c in started] == ["Calculator"] and records and records[0].name == "Calculator"
    record = records[0]
    assert record.arguments is not None and set(record.arguments) == {"expression"}
    assert (record.result is None) != (record.error is None)
    assert end.result.calls[0] == record and end.result.text.startswith(record.text)
    # The first request offers the toolbox natively and forces the tool; the prompt
    # does not teach the inline markup.
    first = sent[0]
    assert first["tools"] == [tool_schema(calculator.spec())]
    assert first["tool_choice"] == {"type": "function", "function": {"name": "Calculator"}}
    assert "[Calculator(" not in json.dumps(first["messages"])
    # The follow-up sends the call as the assistant's tool call and its result as a tool
    # message, and lets the model answer.
    follow = sent[1]
    assistant, tool = follow["messages"][-2:]
    call = assistant["tool_calls"][0]
    assert call["function"]["name"] == "Calculator"
    assert json.loads(call["function"]["arguments"]) == dict(record.arguments)
    shown = record.result if record.error is None else f"Error: {record.error}"
    assert tool == {"role": "tool", "tool_call_id": call["id"], "content": shown}
    assert follow["tool_choice"] == "none"


@server
def test_a_call_the_server_cannot_stream_is_asked_again_unstreamed(tools_url: str) -> None:
    """Under "auto" llama.cpp's server cannot stream a call the model chose: it closes
    the stream empty. The backend asks again unstreamed and keeps tool requests so."""
    sent: list[dict[str, Any]] = []
    model = native_model(tools_url, sent)
    completion = Completion()
    request = Request(Prompt("", "What is 3*7?"), tools=(calculator.spec(),), max_tokens=48)
    text = "".join(model.stream(request, completion))
    # (The server may also drop the connection the broken stream was on: the backend
    # sends the unstreamed request again then, as it can succeed.)
    assert [(body["stream"], body["tool_choice"]) for body in sent[:2]] == [(True, "auto"), (False, "auto")]
    assert all(body == sent[1] for body in sent[2:]) and len(sent) <= 1 + 1 + model.max_retries
    assert sent[1]["messages"] == sent[0]["messages"] and model.stream_tools is False
    assert text.startswith("[Calculator(expression=") and text.endswith(")]")
    assert completion.finish_reason == "end" and completion.usage.completion_tokens > 0
