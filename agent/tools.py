"""Tools: typed functions the model may call, and the toolbox that names them.

`@tool` turns a function into a `Tool`. The `Tool` owns everything about the tool's
interface: name, description and per-parameter docs (from the docstring), the parameter
model (from the type hints), the JSON schema, the few-shot examples that teach the
markup, and the conversion from a parsed call to keyword arguments.
"""

from __future__ import annotations

import inspect
import re
import warnings
import weakref
from functools import cached_property
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, TypeVar, get_type_hints, overload, runtime_checkable

import docstring_parser
from pydantic import BaseModel, ValidationError, create_model

from agent.detector import MAX_NAME_CHARS, is_call_name
from agent.errors import BadArguments, ConfigError, UnknownTool
from agent.markup import ParsedCall
from agent.models.base import ToolSpec

ENTRY_POINT_GROUP = "interleaf.tools"
_KEYWORD_START = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")

F = TypeVar("F", bound=Callable[..., Any])

_PLAIN_TYPES = (int, str, bool)
"""Parameter types whose values of exactly that type pydantic validates to themselves."""
_IMMUTABLE = (int, str, bool, float, type(None))
_REQUIRED = object()
_MADE_HERE: weakref.WeakSet[type[BaseModel]] = weakref.WeakSet()
"""Parameter models made from a function's signature (no validators or config of their own)."""


@dataclass(frozen=True, eq=False)
class Tool:
    name: str
    description: str
    fn: Callable[..., Any]
    parameters: type[BaseModel]
    param_docs: Mapping[str, str] = field(default_factory=dict)
    examples: tuple[str, ...] = ()
    """Texts that use the tool in the default markup, e.g. "2 + 2 is [Calculator(2 + 2) → 4]"."""
    timeout: float | None = None
    """Seconds a call may take; None uses the agent's default."""
    reset: Callable[[], None] | None = None
    """Called when an agent run ends, for tools that keep state for the length of a run."""
    inline: bool = False
    """Run on the agent's own thread: no thread hand-off, but no time limit can stop it.
    For fast pure functions and tools that bound their own time."""
    grammar: str | None = None
    """GBNF for what follows `[Name(` under constrained decoding: the arguments, `)` and a
    `close` rule that the markup supplies. None derives one from the parameters."""
    raw: bool = False
    """The call's text between the parentheses goes, as written, to the first (`str`)
    parameter unless it names this tool's parameters as keywords: for tools whose input is a
    language of its own, where `[Calculator(x = 5)]` is an equation, not a keyword argument."""

    def __post_init__(self) -> None:
        if not is_call_name(self.name):
            raise ConfigError(
                f"tool name {self.name!r} cannot be written in a call: use letters, digits and _, "
                f"not starting with a digit, at most {MAX_NAME_CHARS} characters"
            )
        if self.raw and self.raw_param is None:
            raise ConfigError(f"tool {self.name}: raw=True needs a first str parameter and every other one optional")

    @cached_property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    @cached_property
    def param_names(self) -> list[str]:
        return list(self.parameters.model_fields)

    @cached_property
    def _plain(self) -> dict[str, tuple[Any, Any]] | None:
        """Each parameter's type and default (or `_REQUIRED`), when every parameter is a
        plain int, str or bool without constraints, in a model made from the signature:
        then arguments of exactly those types are valid as they are. Else None."""
        if self.parameters not in _MADE_HERE:
            return None
        plain: dict[str, tuple[Any, Any]] = {}
        for name, f in self.parameters.model_fields.items():
            if f.annotation not in _PLAIN_TYPES or f.metadata or f.default_factory is not None:
                return None
            if f.is_required():
                plain[name] = (f.annotation, _REQUIRED)
            elif type(f.default) in _IMMUTABLE:
                plain[name] = (f.annotation, f.default)
            else:
                return None
        return plain

    @cached_property
    def raw_param(self) -> str | None:
        """The parameter that takes the raw text between the parentheses, if the tool
        has a first `str` parameter and every other parameter is optional."""
        fields = list(self.parameters.model_fields.items())
        if not fields or fields[0][1].annotation is not str:
            return None
        if any(f.is_required() for _, f in fields[1:]):
            return None
        return fields[0][0]

    def json_schema(self) -> dict[str, Any]:
        schema = self.parameters.model_json_schema()
        schema.pop("title", None)
        for name, prop in schema.get("properties", {}).items():
            prop.pop("title", None)
            if name in self.param_docs:
                prop.setdefault("description", self.param_docs[name])
        return schema

    def spec(self) -> ToolSpec:
        """The tool as a model with native function calling sees it."""
        return ToolSpec(self.name, self.description, self.json_schema())

    def signature(self) -> str:
        parts = []
        for name, f in self.parameters.model_fields.items():
            text = f"{name}: {type_text(f.annotation)}"
            if not f.is_required():
                text += f" = {f.default!r}"
            parts.append(text)
        return f"{self.name}({', '.join(parts)})"

    def bind(self, call: ParsedCall) -> dict[str, Any]:
        """Keyword arguments for `call`, validated against the parameters."""
        raw = self.raw_param
        if self.raw and raw is not None and call.kwargs and not set(call.kwargs) & set(self.param_names):
            return self._validate((call.raw.strip(),), {})
        if call.problem is not None and (raw is None or set(call.keywords) <= set(self.param_names)):
            raise BadArguments(self.name, call.problem)
        if call.args is None and raw is not None and self._written_as_keywords(call.raw):
            raise BadArguments(self.name, f"the keyword arguments did not parse; write Python literals, as in {self.signature()}")
        if call.args is not None:
            try:
                return self._validate(call.args, call.kwargs or {})
            except BadArguments:
                is_one_string = len(call.args) == 1 and isinstance(call.args[0], str)
                if raw is None or call.kwargs or is_one_string:
                    raise
        if raw is not None:
            return self._validate((call.raw.strip(),), {})
        raise BadArguments(
            self.name, f"write Python literals, as in {self.signature()}; got {call.raw!r}"
        )

    def _written_as_keywords(self, raw: str) -> bool:
        """Whether `raw` starts as keyword arguments to this tool (`query=...`)."""
        match = _KEYWORD_START.match(raw)
        return match is not None and match.group(1) in self.param_names

    def _validate(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        names = self.param_names
        if len(args) > len(names):
            raise BadArguments(self.name, f"takes {len(names)} arguments, got {len(args)}")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise BadArguments(self.name, f"no parameter {key!r}; parameters: {', '.join(names)}")
            if key in values:
                raise BadArguments(self.name, f"{key!r} given twice")
            values[key] = value
        plain = self._plain
        if plain is not None:
            bound = _as_given(values, plain)
            if bound is not None:
                return bound
        try:
            model = self.parameters.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise BadArguments(self.name, problems) from None
        return {name: getattr(model, name) for name in names}


def _as_given(values: dict[str, Any], plain: dict[str, tuple[Any, Any]]) -> dict[str, Any] | None:
    """`values` with defaults filled in when each is of exactly its parameter's plain
    type (what pydantic would return, without asking it); None when pydantic must decide."""
    bound: dict[str, Any] = {}
    for name, (kind, default) in plain.items():
        if name in values:
            value = values[name]
            if type(value) is not kind or (kind is int and not -(2**63) <= value < 2**63):
                return None
            bound[name] = value
        elif default is _REQUIRED:
            return None
        else:
            bound[name] = default
    return bound


@overload
def tool(fn: F, /) -> Tool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None,
    examples: Iterable[str] = (), timeout: float | None = None, inline: bool = False, strict: bool = False,
    reset: Callable[[], None] | None = None, grammar: str | None = None, raw: bool = False,
) -> Callable[[F], Tool]: ...


def tool(
    fn: F | None = None, /, *, name: str | None = None, description: str | None = None,
    examples: Iterable[str] = (), timeout: float | None = None, inline: bool = False, strict: bool = False,
    reset: Callable[[], None] | None = None, grammar: str | None = None, raw: bool = False,
) -> Tool | Callable[[F], Tool]:
    """Make a `Tool` of a typed function: `@tool` or `@tool(name=..., examples=[...])`.
    A tool without a description (docstring) gets a warning, or under `strict=True` a
    ConfigError. `reset` is called when a run ends; `grammar` and `raw` are described on
    `Tool`."""

    def wrap(f: F) -> Tool:
        return make_tool(f, name=name, description=description, examples=examples, timeout=timeout,
                         inline=inline, strict=strict, reset=reset, grammar=grammar, raw=raw)

    return wrap(fn) if fn is not None else wrap


def make_tool(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None,
    examples: Iterable[str] = (), timeout: float | None = None,
    reset: Callable[[], None] | None = None, inline: bool = False, strict: bool = False,
    grammar: str | None = None, raw: bool = False,
) -> Tool:
    doc = docstring_parser.parse(inspect.getdoc(fn) or "")
    summary = " ".join(p for p in (doc.short_description, doc.long_description) if p)
    tool_name = name or fn.__name__
    parameters = _parameter_model(fn)
    if not (description or summary).strip():
        _no_description(tool_name, strict)
    return Tool(
        name=tool_name,
        description=description or summary,
        fn=fn,
        parameters=parameters,
        param_docs={p.arg_name: p.description or "" for p in doc.params},
        examples=tuple(examples),
        timeout=timeout,
        reset=reset,
        inline=inline and not inspect.iscoroutinefunction(fn),
        grammar=grammar,
        raw=raw,
    )


def _no_description(name: str, strict: bool) -> None:
    message = f"tool {name!r} has no description, so the model sees only its name: give it a docstring"
    if strict:
        raise ConfigError(message)
    frame, level = inspect.currentframe(), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)  # points at the caller's line


def _parameter_model(fn: Callable[..., Any]) -> type[BaseModel]:
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as exc:  # unresolvable forward references
        raise ConfigError(f"tool {fn.__name__}: cannot read its type hints: {exc}") from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigError(f"tool {fn.__name__}: *args and **kwargs are not supported")
        if param.name not in hints:
            raise ConfigError(f"tool {fn.__name__}: parameter {param.name!r} needs a type hint")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], default)
    model: type[BaseModel] = create_model(f"{fn.__name__}_params", **fields)
    _MADE_HERE.add(model)
    return model


@runtime_checkable
class ToolSource(Protocol):
    """Something that offers tools it finds only when asked (an MCP server): its
    `tools()` are listed the first time an agent needs them, and `close()` releases
    what it holds (a process, a connection)."""

    def tools(self) -> list[Tool]: ...

    def close(self) -> None: ...


ToolLike = Tool | Callable[..., Any] | str | ToolSource


class Toolbox(Mapping[str, Tool]):
    """The tools of one agent, looked up by name without regard to case. Tool sources
    are listed when a tool is first looked up or the tools are counted."""

    def __init__(self, tools: Iterable[ToolLike] = ()) -> None:
        """Tools, plain functions (made tools), names of installed tools, or tool sources."""
        self._tools: dict[str, Tool] = {}
        self.sources: list[ToolSource] = []
        for t in tools:
            if isinstance(t, ToolSource) and not isinstance(t, Tool):
                self.sources.append(t)
                continue
            self._add(t if isinstance(t, Tool) else installed(t) if isinstance(t, str) else make_tool(t))
        self._pending = list(self.sources)

    def _add(self, item: Tool) -> None:
        key = item.name.casefold()
        if key in self._tools:
            raise ConfigError(f"two tools are named {item.name!r}")
        self._tools[key] = item

    def _loaded(self) -> dict[str, Tool]:
        while self._pending:
            for item in self._pending.pop(0).tools():
                self._add(item)
        return self._tools

    def __getitem__(self, name: str) -> Tool:
        try:
            return self._loaded()[name.casefold()]
        except KeyError:
            raise UnknownTool(name, self.names()) from None

    def __iter__(self) -> Iterator[str]:
        return (t.name for t in self._loaded().values())

    def __len__(self) -> int:
        return len(self._loaded())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.casefold() in self._loaded()

    def names(self) -> list[str]:
        return [t.name for t in self._loaded().values()]

    def close(self) -> None:
        """Close every tool source (each closes whatever it started)."""
        for source in self.sources:
            source.close()


def installed_tools(warn: list[str] | None = None) -> dict[str, Tool]:
    """Tools registered under the `interleaf.tools` entry-point group, by entry-point
    name. A plugin that fails to load raises `ConfigError`, or is named in `warn` and
    left out when a list is given."""
    found: dict[str, Tool] = {}
    names: set[str] = set()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            item = obj if isinstance(obj, Tool) else make_tool(obj)
        except Exception as exc:
            message = f"tool plugin {ep.name!r} ({ep.value}) did not load: {exc}"
            if warn is None:
                raise ConfigError(message) from exc
            warn.append(message)
            continue
        if item.name.casefold() not in names:
            names.add(item.name.casefold())
            found[ep.name] = item
    return found


def installed(name: str) -> Tool:
    """The installed tool called `name` (its own name or its entry-point name, any case)."""
    tools = installed_tools()
    wanted = name.strip().casefold()
    for key, item in tools.items():
        if wanted in (key.casefold(), item.name.casefold()):
            return item
    listed = ", ".join(sorted(t.name for t in tools.values())) or "none"
    raise ConfigError(f"no installed tool is named {name!r}; installed tools: {listed}")


def type_text(annotation: Any) -> str:
    """An annotation as a signature shows it: `int`, `list[str]`, `Literal['km', 'mi']`."""
    if getattr(annotation, "__args__", None):  # a generic: its arguments say what is accepted
        return re.sub(r"\btyping\.", "", str(annotation)).replace("NoneType", "None")
    return getattr(annotation, "__name__", None) or str(annotation)
