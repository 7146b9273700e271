"""Render a `Prompt` with a model's own chat template (Jinja, as stored in GGUF files).

The rendered text ends with the template's generation prompt; the assistant's text so far
is appended verbatim after it, so the model continues its own turn. Templates without a
system role (Gemma) get the system text folded into the first user turn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from agent.errors import ConfigError
from agent.models.base import Prompt

GEMMA3_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}"
    "{{ '<end_of_turn>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"
)
"""Gemma 3's chat template (text only). It has no system role: the system text opens the
first user turn."""

PLAIN_TEMPLATE = "{%- for message in messages -%}{{ message['content'] + '\\n\\n' }}{%- endfor -%}"
"""For models without a chat template: the messages as paragraphs."""

QA_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{{ 'Question: ' + message['content'] + '\\nAnswer:' }}"
    "{%- elif message['role'] == 'system' -%}{{ message['content'] + '\\n\\n' }}"
    "{%- else -%}{{ ' ' + message['content'] + '\\n\\n' }}{%- endif -%}"
    "{%- endfor -%}"
)
"""For pretrained (not instruction-tuned) models: the system text as a preamble, then the
request as a question the model answers."""

BUILTIN_TEMPLATES: dict[str, str] = {"gemma3": GEMMA3_TEMPLATE, "gemma2": GEMMA3_TEMPLATE}
"""Templates by GGUF `general.architecture`, for files that carry none."""


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


class ChatTemplate:
    """A compiled chat template."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        env = ImmutableSandboxedEnvironment(
            loader=jinja2.BaseLoader(),
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.loopcontrols"],
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(source)
        except jinja2.exceptions.TemplateError as error:
            raise ConfigError(f"chat template does not compile: {error}") from error
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render_messages(self, messages: list[dict[str, Any]], *, generation_prompt: bool = True) -> str:
        return self._template.render(
            messages=messages,
            add_generation_prompt=generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )

    def head(self, system: str, user: str) -> str:
        """The conversation up to and including the generation prompt."""
        if system:
            try:
                text = self.render_messages(
                    [{"role": "system", "content": system}, {"role": "user", "content": user}]
                )
            except jinja2.exceptions.TemplateError:
                text = None
            if text is not None and system.strip() in text:
                return text
            user = f"{system}\n\n{user}"
        try:
            return self.render_messages([{"role": "user", "content": user}])
        except jinja2.exceptions.TemplateError as error:
            raise ConfigError(f"chat template failed to render: {error}") from error

    def render(self, prompt: Prompt) -> str:
        """The full text the model continues: head, then the assistant's text verbatim."""
        return self.head(prompt.system, prompt.user) + prompt.assistant


def plain_render(prompt: Prompt) -> str:
    """A template-free layout for completion endpoints: paragraphs, then the assistant."""
    parts = [part for part in (prompt.system, prompt.user) if part]
    return "".join(f"{part}\n\n" for part in parts) + prompt.assistant


Renderer = Callable[[Prompt], str]
