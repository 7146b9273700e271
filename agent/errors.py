"""Every exception the framework raises, split by who can fix the mistake.

    InterleafError
    ├── UserError                 the programmer's mistake: raised, never sent to the model
    │   ├── ConfigError           bad configuration (a budget below zero, a tool without hints …)
    │   └── ModelNotFound         a model spec that names nothing installed or registered
    ├── ModelError                the backend failed mid-run: the run ends, its text is kept
    │   ├── ContextOverflow       the text outgrew the model's context window
    │   └── FormRefused           the server refused a structured-output form (never retried)
    └── ToolCallError             the model's mistake: becomes "→ Error: …" in the text
        ├── MalformedCall         markup that opened a call but does not parse
        ├── UnknownTool           a call to a tool that is not registered
        ├── BadArguments          arguments that do not fit the tool's signature
        ├── ToolError             raised by a tool on purpose: its message is spliced as is
        ├── ToolFailed            the tool raised anything else
        └── ToolTimeout           the tool ran past its time limit

Exceptions carry their data as attributes and have no side effects.
"""

from __future__ import annotations


class InterleafError(Exception):
    """Base of every exception raised by the framework."""


class UserError(InterleafError):
    """A mistake in how the framework is used; fixed by the programmer."""


class ConfigError(UserError):
    """Invalid configuration."""


class ModelNotFound(UserError):
    """A model spec that does not resolve to a model."""

    def __init__(self, spec: str, known: list[str]) -> None:
        self.spec = spec
        self.known = known
        super().__init__(f"unknown model {spec!r}; known models: {', '.join(known)}")


class ToolCallError(InterleafError):
    """A mistake in a tool call written by the model; spliced back as text."""


class MalformedCall(ToolCallError):
    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"malformed call: {reason}")


class UnknownTool(ToolCallError):
    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        listed = ", ".join(available) if available else "none"
        super().__init__(f"unknown tool {name!r}; available tools: {listed}")


class BadArguments(ToolCallError):
    def __init__(self, tool: str, reason: str) -> None:
        self.tool = tool
        self.reason = reason
        super().__init__(f"bad arguments for {tool}: {reason}")


class ToolError(ToolCallError):
    """Raise from a tool to report a problem to the model in plain words."""


class ToolFailed(ToolCallError):
    def __init__(self, tool: str, error: BaseException) -> None:
        self.tool = tool
        self.error = error
        detail = str(error) or type(error).__name__
        super().__init__(f"{tool} failed: {type(error).__name__}: {detail}")


class ToolTimeout(ToolCallError):
    def __init__(self, tool: str, seconds: float) -> None:
        self.tool = tool
        self.seconds = seconds
        super().__init__(f"{tool} timed out after {seconds:g} s")


class ModelError(InterleafError):
    """The model backend failed in a way the run cannot go on from (the run ends with a
    stated reason; the text so far is kept)."""


class ContextOverflow(ModelError):
    """The prompt and the text so far no longer fit the model's context window."""

    def __init__(self, needed: int, window: int) -> None:
        self.needed = needed
        self.window = window
        super().__init__(f"the text needs {needed} tokens but the context window holds {window}")


class FormRefused(ModelError):
    """The server refused a request for the structured-output `form` it carried, in a way
    no retry can change (a 4xx, or a 500 that is a validation error): ask in another form."""

    def __init__(self, form: str, detail: str) -> None:
        self.form = form
        self.detail = detail
        super().__init__(f"the server refused the {form} form of structured output: {detail}")
