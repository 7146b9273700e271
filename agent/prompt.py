"""The prompt that teaches the markup, Toolformer-style: a short instruction, each tool's
signature and description, and few-shot examples."""

from __future__ import annotations

from collections.abc import Iterable

from agent.markup import DEFAULT_MARKUP, Markup
from agent.tools import Tool
from agent.transcript import render, segments

INSTRUCTION = (
    "You can use tools while you write. To use one, write its name and input between "
    "{open} and {close}, as in the examples, and stop: the result is filled in after "
    "{arrow} and you go on writing. Never write a result yourself."
)


def system_prompt(
    tools: Iterable[Tool], *, markup: Markup = DEFAULT_MARKUP, instructions: str = "",
    max_examples: int = 2, max_example_chars: int = 1200,
) -> str:
    tools = list(tools)
    parts = [instructions.strip()] if instructions.strip() else []
    if not tools:
        return "\n\n".join(parts)
    parts.append(INSTRUCTION.format(open=markup.open.strip(), close=markup.close.strip(), arrow=markup.arrow))
    parts.append("Tools:\n" + "\n".join(f"- {t.signature()}: {t.description}" for t in tools))
    shown = examples(tools, markup=markup, per_tool=max_examples, max_chars=max_example_chars)
    if shown:
        parts.append("Examples:\n" + "\n".join(shown))
    return "\n\n".join(parts)


def example_budget(context_tokens: int | None, *, share: float = 0.25, chars_per_token: float = 3.5,
                   default: int = 1200, cap: int = 6000) -> int:
    """Characters of few-shot examples for a model: `share` of its context window (when
    known), at most `cap`."""
    if not context_tokens or context_tokens <= 0:
        return default
    return min(cap, int(context_tokens * share * chars_per_token))


def examples(tools: Iterable[Tool], *, markup: Markup = DEFAULT_MARKUP, per_tool: int = 2, max_chars: int = 1200) -> list[str]:
    """Up to `per_tool` examples of each tool, round-robin, within `max_chars` in all,
    rewritten into `markup`."""
    queues = [[render(segments(e), markup) for e in t.examples[:per_tool]] for t in tools]
    chosen: list[str] = []
    used = 0
    for rank in range(per_tool):
        for queue in queues:
            if rank < len(queue) and used + len(queue[rank]) <= max_chars:
                chosen.append(queue[rank])
                used += len(queue[rank]) + 1
    return chosen
