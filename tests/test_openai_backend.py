"""The OpenAI backend against a real OpenAI-compatible server (llama-cpp-python's, with
smollm2-135m on 127.0.0.1), and its message conversion on its own."""

from __future__ import annotations

import json

import pytest

from agent.errors import ConfigError, UserError
from agent.markup import DEFAULT_MARKUP, Markup, parse_literal_arguments
from agent.models import (
    Completion,
    OpenAIModel,
    Prompt,
    Request,
    ToolSpec,
    resolve_model,
)
from agent.models.chat_template import ChatTemplate
from agent.transcript import calls, segments
from agent.models.openai_messages import (
    CONTINUE_INSTRUCTION,
    call_markup,
    inline_messages,
    native_messages,
)

server = pytest.mark.server

SYSTEM = "You are a helpful assistant."
COUNT = Prompt(SYSTEM, "Count from 1 to 10, separated by commas.")
CALCULATOR = ToolSpec(
    "calculator",
    "Evaluate an arithmetic expression.",
    {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
)


def run(model: OpenAIModel, request: Request) -> tuple[list[str], Completion]:
    completion = Completion()
    return list(model.stream(request, completion)), completion


def chat(base_url: str, **options: object) -> OpenAIModel:
    model = resolve_model(f"openai:smollm2@{base_url}", **options)
    assert isinstance(model, OpenAIModel)
    return model


# --- against the server ---------------------------------------------------------------


@server
def test_chat_streams_and_records_usage(base_url: str) -> None:
    chunks, completion = run(chat(base_url), Request(COUNT, max_tokens=24))
    assert len(chunks) > 3 and "1" in "".join(chunks)
    usage = completion.usage
    assert usage.requests == 1 and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert 0 < usage.evaluated_tokens <= usage.prompt_tokens
    assert completion.finish_reason in ("end", "length")


@server
def test_completions_continue_the_rendered_text(base_url: str) -> None:
    template = ChatTemplate(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    model = chat(base_url, mode="completions", render=template.render)
    prompt = Prompt(SYSTEM, "Count from 1 to 10, separated by commas.", "1, 2, 3,")
    chunks, completion = run(model, Request(prompt, max_tokens=12))
    text = "".join(chunks)
    assert len(chunks) > 2 and text.lstrip().startswith("4")
    assert completion.finish_reason in ("end", "length") and completion.usage.completion_tokens > 0


@server
def test_stop_sequences_never_leak(base_url: str) -> None:
    for server_stop in (False, True):
        model = chat(base_url, server_stop=server_stop)
        chunks, completion = run(model, Request(COUNT, stop=("never", ", 5"), max_tokens=40))
        text = "".join(chunks)
        assert text.rstrip().endswith("4") and "5" not in text
        if server_stop:
            assert completion.finish_reason in ("stop", "end")
        else:
            assert completion.finish_reason == "stop" and completion.stop_sequence == ", 5"
    many = tuple(f"never{i}" for i in range(6)) + (", 5",)
    chunks, completion = run(chat(base_url), Request(COUNT, stop=many, max_tokens=40))
    assert "5" not in "".join(chunks) and completion.finish_reason == "stop"


@server
def test_closing_early_then_continuing_in_chat(base_url: str) -> None:
    model = chat(base_url)
    completion = Completion()
    stream = model.stream(Request(COUNT, max_tokens=40), completion)
    head = next(stream)
    stream.close()
    assert head and completion.usage.completion_tokens >= 1 and completion.finish_reason is None
    spliced = COUNT.extend("1, 2, 3, [Add(3, 1) → 4]")
    assert model.messages(Request(spliced))[-2:] == [
        {"role": "assistant", "content": "1, 2, 3, [Add(3, 1) → 4]"},
        {"role": "user", "content": CONTINUE_INSTRUCTION},
    ]
    chunks, follow = run(model, Request(spliced, max_tokens=16))
    assert "".join(chunks).strip() and follow.finish_reason in ("end", "length")


@server
def test_response_schema_as_response_format(base_url: str) -> None:
    schema = {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}
    model = chat(base_url, schema_format="json_object")
    chunks, _ = run(model, Request(COUNT, response_schema=schema, response_form="json_object", max_tokens=30))
    assert isinstance(json.loads("".join(chunks))["count"], int)


@server
def test_native_tool_calls_become_inline_markup_and_results_go_back(base_url: str) -> None:
    choice = {"type": "function", "function": {"name": "calculator"}}
    model = chat(base_url, dialect="native", tool_choice=choice)
    question = Prompt(SYSTEM, "What is 400 divided by 1400?")
    chunks, completion = run(model, Request(question, tools=(CALCULATOR,), max_tokens=40))
    text = "".join(chunks)
    assert text.startswith("[calculator(") and text.endswith(")]") and "expression" in text
    assert completion.finish_reason == "end"
    answering = chat(base_url, dialect="native")
    spliced = question.extend(f"{text[:-1]} → 0.2857]")
    chunks, completion = run(answering, Request(spliced, tools=(CALCULATOR,), max_tokens=24))
    assert "".join(chunks).strip() and completion.finish_reason in ("end", "length")


# --- conversion and configuration, no server --------------------------------------------


def test_inline_messages_ask_to_continue_the_assistant_text() -> None:
    assert inline_messages(Prompt("", "hi")) == [{"role": "user", "content": "hi"}]
    messages = inline_messages(Prompt("sys", "hi", "So far"), continue_instruction="Go on.")
    assert messages == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "So far"},
        {"role": "user", "content": "Go on."},
    ]


def test_completed_calls_are_parsed_with_quotes_brackets_and_both_arrows() -> None:
    text = (
        "A [Search(query=\"f(x) = ')'\", n=2) → [1] found] B [Calculator(400 / 1400) -> 0.29] "
        "C [Open(it's) → ok] [Pending(1)] [Bad( → x]"
    )
    found = [c for c in calls(text) if c.result is not None]
    assert [(c.name, c.raw, c.result) for c in found] == [
        ("Search", "query=\"f(x) = ')'\", n=2", "[1] found"),
        ("Calculator", "400 / 1400", "0.29"),
        ("Open", "it's", "ok"),
    ]
    parts = segments(text)
    assert parts[0] == "A " and parts[2] == " B " and parts[-1] == " [Bad( → x]"
    api = Markup(open="<API>", close="</API>")
    assert [c.result for c in calls("x <API>QA(q='a') → <API>b</API></API> y", api)] == [
        "<API>b</API>"
    ]


def test_native_messages_turn_completed_calls_into_tool_calls() -> None:
    assistant = "Let me see. [calculator('2+2') → 4] Then [calculator(expression=\"3*3\") → 9]"
    messages = native_messages(Prompt("sys", "q", assistant), (CALCULATOR,))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    first, second = messages[2], messages[4]
    assert first["content"] == "Let me see. " and second["content"] == " Then "
    assert json.loads(first["tool_calls"][0]["function"]["arguments"]) == {"expression": "2+2"}
    assert json.loads(second["tool_calls"][0]["function"]["arguments"]) == {"expression": "3*3"}
    assert messages[3] == {"role": "tool", "tool_call_id": "call_0", "content": "4"}
    assert messages[5]["tool_call_id"] == second["tool_calls"][0]["id"] == "call_1"
    raw = native_messages(Prompt("", "q", "[calculator(400 / 1400) → 0.29] so it is"), (CALCULATOR,))
    assert json.loads(raw[1]["tool_calls"][0]["function"]["arguments"]) == {"expression": "400 / 1400"}
    assert raw[-2:] == [{"role": "assistant", "content": " so it is"}, {"role": "user", "content": CONTINUE_INSTRUCTION}]


def test_tool_call_arguments_become_markup_the_detector_reads() -> None:
    markup = call_markup("search", '{"query": "x (y)", "limit": 3, "exact": true}')
    assert markup == "[search(query='x (y)', limit=3, exact=True)]"
    assert parse_literal_arguments(markup[len("[search(") : -2]) == ((), {"query": "x (y)", "limit": 3, "exact": True})
    assert call_markup("f", "not json") == "[f(not json)]"
    assert call_markup("f", "") == "[f()]"
    assert call_markup("f", "{}", Markup(open="<API>", close="</API>")) == "<API>f()</API>"
    assert DEFAULT_MARKUP.call("f", "") == call_markup("f", "{}")


def test_keys_retries_and_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        resolve_model("openai:gpt-4o-mini")
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        OpenAIModel("gpt-4o-mini", base_url="https://api.openai.com/v1")
    local = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", max_retries=5)
    assert local.max_retries == 5 and local.client.max_retries == 0 and local.name == "openai:m"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    keyed = resolve_model("openai:gpt-4o-mini", dialect="native")
    assert isinstance(keyed, OpenAIModel) and keyed.client.api_key == "sk-test" and keyed.dialect == "native"
    with pytest.raises(ConfigError):
        OpenAIModel("m", base_url="http://127.0.0.1:9/v1", mode="completions", dialect="native")


def test_native_messages_read_the_calls_from_parts_not_from_the_text() -> None:
    from agent.markup import DEFAULT_MARKUP
    from agent.models.openai_messages import native_messages
    from agent.parts import CallRecord

    result = "a] → b [c"
    record = CallRecord(0, "Echo", "'x'", DEFAULT_MARKUP.completed("Echo", "'x'", result),
                        arguments={"text": "x"}, result=result)
    prompt = Prompt(system="", user="go", assistant="Say " + record.text + " then", parts=("Say ", record, " then"))
    messages = native_messages(prompt)
    call, tool = messages[1], messages[2]
    assert call["content"] == "Say "
    assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == {"text": "x"}
    assert tool["content"] == result
    assert messages[3] == {"role": "assistant", "content": " then"}
    # The same prompt without parts reads them back from the escaped text.
    assert native_messages(Prompt(system="", user="go", assistant=prompt.assistant))[2]["content"] == result
