"""Human approval of tool calls, as a tool wrapper: a wrapped tool asks `approve(name,
arguments)` first, and a refusal reaches the model as "the user declined this call"."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agent.errors import ToolError
from agent.tasks.state import Approve
from agent.settings import DEFAULTS
from agent.tools import Tool

ApproveFn = Callable[[str, Mapping[str, Any]], bool]
DECLINED = "the user declined this call"
APPROVAL_SECONDS = 600.0
"""Added to a wrapped tool's time limit: the time the user may take to answer."""
PYTHON_TOOLS = frozenset({"python"})


def needs_approval(tool: Tool, policy: Approve) -> bool:
    if policy is Approve.ALL:
        return True
    return policy is Approve.PYTHON and tool.name.casefold() in PYTHON_TOOLS


def with_approval(tool: Tool, approve: ApproveFn, *, default_timeout: float = DEFAULTS.tool_timeout) -> Tool:
    """`tool`, asking `approve` before each call."""
    fn = tool.fn

    if tool.is_async:
        @functools.wraps(fn)
        async def ask_async(**arguments: Any) -> Any:
            if not approve(tool.name, arguments):
                raise ToolError(DECLINED)
            return await fn(**arguments)

        wrapped: Callable[..., Any] = ask_async
    else:
        @functools.wraps(fn)
        def ask(**arguments: Any) -> Any:
            if not approve(tool.name, arguments):
                raise ToolError(DECLINED)
            return fn(**arguments)

        wrapped = ask
    limit = (tool.timeout if tool.timeout is not None else default_timeout) + APPROVAL_SECONDS
    return dataclasses.replace(tool, fn=wrapped, timeout=limit)


def approved_tools(tools: Iterable[Tool], policy: Approve, approve: ApproveFn | None, *,
                   default_timeout: float = DEFAULTS.tool_timeout) -> list[Tool]:
    """`tools`, those that the policy names wrapped to ask `approve` first. With no
    `approve` callback every such call is declined. Under a policy the other tools get an
    explicit time limit, as the agent-wide one (`tool_timeout`) grows by the time to answer."""
    ask = approve if approve is not None else _decline
    out: list[Tool] = []
    for t in tools:
        if needs_approval(t, policy):
            out.append(with_approval(t, ask, default_timeout=default_timeout))
        elif policy is not Approve.NONE and t.timeout is None:
            out.append(dataclasses.replace(t, timeout=default_timeout))
        else:
            out.append(t)
    return out


def tool_timeout(policy: Approve, default_timeout: float) -> float:
    """The agent-wide tool time limit that leaves the user time to answer."""
    return default_timeout if policy is Approve.NONE else default_timeout + APPROVAL_SECONDS


def _decline(name: str, arguments: Mapping[str, Any]) -> bool:
    return False
