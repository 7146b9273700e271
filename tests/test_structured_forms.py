"""Structured output negotiates: the OpenAI backend sends the form it is asked for, a
refusal that can never succeed is sent once and raised as `FormRefused`, and the planner
falls back through the model's forms to plain text, remembering what was refused.
Against llama-cpp-python's server (which refuses json_schema with a 500 validation
error) and with scripted models; the retry rules on their own."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest
from helpers.server import recording_client

from agent.errors import ContextOverflow, FormRefused
from agent.models import Completion, OpenAIModel, Prompt, Request, resolve_model
from agent.models.base import Capabilities
from agent.models.openai_retry import can_succeed_later, context_overflow, with_retries
from agent.tasks.planner import Planner, judgement_in_text, order_in_text, tasks_in_text
from agent.tasks.structured import Forms, ask_structured
from agent.testing import FunctionModel

server = pytest.mark.server

SCHEMA = {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}
COUNT = Prompt("You are a helpful assistant.", "How many legs does a cat have? Reply in JSON.")


def counting_model(url: str, sent: list[dict[str, Any]], **options: Any) -> OpenAIModel:
    model = resolve_model(f"openai:smollm2@{url}", client=recording_client(url, sent), **options)
    assert isinstance(model, OpenAIModel)
    return model


def answer(model: OpenAIModel, request: Request) -> str:
    return "".join(model.stream(request, Completion()))


# --- against the server ---------------------------------------------------------------


@server
def test_a_refused_form_is_sent_once_and_each_form_goes_out_as_asked(base_url: str) -> None:
    sent: list[dict[str, Any]] = []
    model = counting_model(base_url, sent, grammar_field="grammar")
    assert model.capabilities.structured == ("json_schema", "json_object", "grammar")
    with pytest.raises(FormRefused) as refused:
        answer(model, Request(COUNT, response_schema=SCHEMA, max_tokens=20))
    assert refused.value.form == "json_schema" and "json_object" in refused.value.detail
    assert len(sent) == 1 and sent[0]["response_format"]["type"] == "json_schema"
    as_object = json.loads(answer(model, Request(COUNT, response_schema=SCHEMA, response_form="json_object",
                                                 max_tokens=20)))
    assert sent[1]["response_format"] == {"type": "json_object", "schema": SCHEMA}
    as_grammar = json.loads(answer(model, Request(COUNT, response_schema=SCHEMA, response_form="grammar",
                                                  max_tokens=20)))
    assert "response_format" not in sent[2] and "count" in sent[2]["grammar"]
    assert isinstance(as_object["count"], int) and isinstance(as_grammar["count"], int)


@server
def test_the_planner_falls_back_once_and_remembers(base_url: str) -> None:
    sent: list[dict[str, Any]] = []
    planner = Planner(counting_model(base_url, sent), step_tokens=60, retries=0)
    plan = planner.plan("plan a trip to Lisbon", max_tasks=2)
    judged = planner.judge("plan a trip to Lisbon", done="1. book flights: booked", pending=[])
    assert planner.forms.refused == ["json_schema"] and planner.forms.current == "json_object"
    formats = [body.get("response_format", {}).get("type") for body in sent]
    assert formats == ["json_schema", "json_object", "json_object"]
    assert plan.form == judged.form == "json_object" and plan.attempts == judged.attempts == 1
    assert plan.value and judged.value is not None


@server
def test_a_prompt_too_long_is_a_context_overflow(base_url: str) -> None:
    """The server answers a stream it cannot serve with 200 and nothing; asked again
    unstreamed it says why."""
    sent: list[dict[str, Any]] = []
    model = counting_model(base_url, sent)
    with pytest.raises(ContextOverflow) as overflow:
        answer(model, Request(Prompt("", "word " * 2500), max_tokens=10))
    assert overflow.value.window == 2048 and overflow.value.needed > 2048
    # (the connection the broken stream was on may be dropped: sent again, as it can succeed)
    assert sent[0]["stream"] and not any(body["stream"] for body in sent[1:])
    assert 2 <= len(sent) <= 2 + model.max_retries


# --- negotiation with scripted models -------------------------------------------------


def test_forms_fall_back_to_text_which_is_read_leniently() -> None:
    asked: list[Request] = []

    def reply(request: Request) -> str:
        asked.append(request)
        if request.response_schema is not None:
            raise FormRefused(request.response_form, "not here")
        return "Here is the plan:\n1. Book the flights\n2. Find a hotel\n"

    model = FunctionModel(reply, capabilities=Capabilities(structured=("json_schema", "json_object")))
    planner = Planner(model, step_tokens=50, retries=1)
    plan = planner.plan("trip", max_tasks=3)
    assert plan.value == ["Book the flights", "Find a hotel"] and plan.attempts == 1 and plan.form == "text"
    assert [(r.response_schema is not None, r.response_form) for r in asked] == [
        (True, "json_schema"), (True, "json_object"), (False, "json_schema")]
    planner.plan("trip", max_tasks=3)
    assert asked[-1].response_schema is None and len(asked) == 4


def test_a_model_that_declares_no_form_is_asked_in_text() -> None:
    model = FunctionModel(lambda request: '{"order": [2, 1]}')
    out = ask_structured(model, system="s", user="u", schema={"type": "object"}, parse=lambda d: d["order"],
                         max_tokens=20, forms=Forms(model))
    assert out.value == [2, 1] and out.form == "text" and model.requests[0].response_schema is None


def test_plain_text_readers() -> None:
    assert tasks_in_text("Sure!\n1. Book flights\n- \"Find a hotel\",\nThanks", allow_empty=False) == [
        "Book flights", "Find a hotel"]
    assert tasks_in_text("nothing more", allow_empty=False) is None
    assert tasks_in_text("nothing more", allow_empty=True) == []
    assert order_in_text("Do 3 first, then 1.") == [3, 1] and order_in_text("none") is None
    judged = judgement_in_text("Yes, the flights are booked.")
    assert judged is not None and judged.done and judged.reason == "Yes, the flights are booked."
    assert judgement_in_text("No.") is not None and not judgement_in_text("No.").done  # type: ignore[union-attr]
    assert judgement_in_text("maybe") is None


def test_the_backend_refuses_a_form_it_does_not_declare() -> None:
    model = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", mode="completions")
    assert model.capabilities.structured == ()
    with pytest.raises(Exception, match="does not take structured output as json_schema"):
        answer(model, Request(COUNT, response_schema=SCHEMA))


# --- the retry rules ------------------------------------------------------------------


def status_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(status, request=request, headers=headers or {}, json={"error": body})
    client = openai.OpenAI(base_url="http://127.0.0.1/v1", api_key="x")
    return client._make_status_error_from_response(response)


def test_which_failures_are_sent_again() -> None:
    validation = status_error(500, {"message": "1 validation error: Input should be 'text' or 'json_object'"})
    crash = status_error(500, {"message": "the model crashed"})
    busy = status_error(429, {"message": "slow down"}, {"retry-after": "0"})
    bad = status_error(400, {"message": "bad request"})
    connection = openai.APIConnectionError(request=httpx2.Request("POST", "http://127.0.0.1/v1"))
    assert [can_succeed_later(e) for e in (validation, crash, busy, bad, connection)] == [
        False, True, True, False, True]
    for error, tries in ((validation, 1), (bad, 1), (crash, 3), (busy, 3), (connection, 3)):
        sent: list[float] = []

        def send() -> str:
            raise error

        with pytest.raises(type(error)):
            with_retries(send, retries=2, sleep=sent.append)
        assert len(sent) == tries - 1, error
    attempts = iter([crash, "ok"])

    def flaky() -> str:
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    assert with_retries(flaky, retries=2, sleep=lambda s: None) == "ok"


def test_context_length_refusals_are_recognised() -> None:
    error = status_error(400, {"message": "This model's maximum context length is 2048 tokens. However, you "
                               "requested 3072 tokens (2048 in the messages, 1024 in the completion).",
                               "code": "context_length_exceeded"})
    overflow = context_overflow(error)
    assert overflow is not None and (overflow.needed, overflow.window) == (3072, 2048)
    assert context_overflow(status_error(400, {"message": "bad"})) is None
