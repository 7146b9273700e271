"""Interleaf: a Toolformer-style agent framework.

Every name loads its module on first use, so that importing a part of the package (the
command line, say) does not load the rest.
"""

from typing import TYPE_CHECKING

from agent.lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.agent import Agent
    from agent.errors import (
        BadArguments, ConfigError, ContextOverflow, InterleafError, MalformedCall, ModelError,
        ModelNotFound, ToolCallError, ToolError, ToolFailed, ToolTimeout, UnknownTool, UserError,
    )
    from agent.events import (
        CallFinished, CallRecord, CallStarted, Event, RunFinished, RunResult, StopReason, TextDelta,
    )
    from agent.markup import Markup, ParsedCall
    from agent.models.base import CallTrigger, Completion, Model, Prompt, Request, Usage
    from agent.tools import Tool, Toolbox, installed_tools, tool

_HOMES = {
    "agent.agent": ("Agent",),
    "agent.errors": (
        "BadArguments", "ConfigError", "ContextOverflow", "InterleafError", "MalformedCall", "ModelError",
        "ModelNotFound", "ToolCallError", "ToolError", "ToolFailed", "ToolTimeout", "UnknownTool", "UserError",
    ),
    "agent.events": (
        "CallFinished", "CallRecord", "CallStarted", "Event", "RunFinished", "RunResult", "StopReason", "TextDelta",
    ),
    "agent.markup": ("Markup", "ParsedCall"),
    "agent.models.base": ("CallTrigger", "Completion", "Model", "Prompt", "Request", "Usage"),
    "agent.tools": ("Tool", "Toolbox", "installed_tools", "tool"),
}
__getattr__ = lazy_attributes(__name__, {name: home for home, names in _HOMES.items() for name in names})

__all__ = [
    "Agent", "BadArguments", "CallFinished", "CallRecord", "CallStarted", "CallTrigger", "Completion",
    "ConfigError", "ContextOverflow", "Event", "InterleafError", "MalformedCall", "Markup", "Model",
    "ModelError", "ModelNotFound", "ParsedCall", "Prompt", "Request", "RunFinished", "RunResult",
    "StopReason", "TextDelta", "Tool", "ToolCallError", "ToolError", "ToolFailed", "ToolTimeout",
    "Toolbox", "UnknownTool", "Usage", "UserError", "installed_tools", "tool",
]
