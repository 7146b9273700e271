"""A model's capabilities are declared by its backend, passed through by every wrapper,
and read by the framework, never guessed from attributes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from agent import Agent
from agent.models import resolve_model
from agent.models.base import Capabilities, Model, Profile, Recipe
from agent.models.catalog import TINY_PROFILE, model_path
from agent.models.openai import OpenAIModel
from agent.tasks.metering import TimedModel
from agent.testing import FunctionModel, ScriptedModel

ROOT = Path(__file__).resolve().parent.parent

WRAPPERS: list[Callable[[Model], Model]] = [TimedModel, lambda m: TimedModel(TimedModel(m))]
"""Every wrapper the project has (and wrappers of wrappers)."""


def backends() -> list[Model]:
    local = resolve_model("smollm2-135m")
    return [
        local,
        resolve_model(str(model_path("smollm2-135m")), n_ctx=1024),
        OpenAIModel("m", base_url="http://127.0.0.1:9/v1", dialect="native", grammar_field="grammar",
                    context_window=8192, profile=Profile(task=Recipe(examples=4))),
        OpenAIModel("m", base_url="http://127.0.0.1:9/v1", mode="completions", include_usage=False),
        ScriptedModel([], capabilities=Capabilities(grammar=True, context_window=99)),
        FunctionModel(lambda r: "", capabilities=Capabilities(native_tools=True)),
    ]


@pytest.mark.parametrize("wrap", WRAPPERS)
def test_every_wrapper_passes_every_backends_capabilities_through(wrap: Callable[[Model], Model]) -> None:
    for backend in backends():
        wrapped = wrap(backend)
        assert wrapped.capabilities == backend.capabilities and wrapped.name == backend.name


def test_backends_declare_what_they_can_do() -> None:
    local, by_path, native, completions, _, _ = backends()
    assert local.capabilities.grammar and local.capabilities.prefix_cache and local.capabilities.exact_usage
    assert local.capabilities.context_window == 4096 and local.capabilities.profile == TINY_PROFILE
    assert by_path.capabilities.context_window == 1024 and by_path.capabilities.profile == Profile()
    assert native.capabilities.native_tools and native.capabilities.grammar
    assert native.capabilities.context_window == 8192 and native.capabilities.profile.task.examples == 4
    assert "json_schema" in native.capabilities.structured
    assert not completions.capabilities.native_tools and not completions.capabilities.exact_usage


def test_an_agent_decodes_by_the_wrapped_models_recipe() -> None:
    wrapped = TimedModel(resolve_model("smollm2-135m"))
    question = Agent(model=wrapped, tools=["Calculator"]).decoding()
    assert question.grammar and question.layout == "question" and question.examples == 3
    task = Agent(model=wrapped, tools=["Calculator"], purpose="task").decoding()
    assert task.grammar and task.layout == "chat"
    chosen = Agent(model=wrapped, tools=["Calculator"], constrain=False, max_examples=1).decoding()
    assert not chosen.grammar and chosen.examples == 1


def test_a_native_model_gets_the_toolbox_as_tools_and_no_markup_lesson() -> None:
    model = ScriptedModel(["Done."], capabilities=Capabilities(native_tools=True))
    agent = Agent(model=model, tools=["Calculator"], tool_choice="required")
    agent.run("What is 2 + 2?")
    request = model.requests[0]
    assert [t.name for t in request.tools] == ["Calculator"] and request.tool_choice == "required"
    assert "[Calculator(" not in request.prompt.system and request.grammar is None


def test_nothing_probes_a_model_for_capabilities() -> None:
    probe = re.compile(r"getattr\([^,]+,\s*[\"'](supports_\w*|n_ctx|options|capabilities|context_window|dialect)[\"']")
    found = [f"{path}:{n}" for path in [*ROOT.joinpath("agent").rglob("*.py"), *ROOT.joinpath("tools").rglob("*.py")]
             for n, line in enumerate(path.read_text().splitlines(), 1) if probe.search(line)]
    assert not found


def test_a_native_model_is_offered_no_call_once_the_budget_is_spent() -> None:
    model = ScriptedModel(["[Calculator(1 + 1)]", "Two."], capabilities=Capabilities(native_tools=True))
    Agent(model=model, tools=["Calculator"], max_calls=1).run("What is 1 + 1?")
    assert [r.tool_choice for r in model.requests] == [None, "none"]
