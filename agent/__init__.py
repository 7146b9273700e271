"""Interleaf: a Toolformer-style agent framework."""

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

__all__ = [
    "Agent", "BadArguments", "CallFinished", "CallRecord", "CallStarted", "CallTrigger", "Completion",
    "ConfigError", "ContextOverflow", "Event", "InterleafError", "MalformedCall", "Markup", "Model",
    "ModelError", "ModelNotFound", "ParsedCall", "Prompt", "Request", "RunFinished", "RunResult",
    "StopReason", "TextDelta", "Tool", "ToolCallError", "ToolError", "ToolFailed", "ToolTimeout",
    "Toolbox", "UnknownTool", "Usage", "UserError", "installed_tools", "tool",
]
