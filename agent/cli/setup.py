"""What a command needs before it runs: the model, the installed tools, the run store."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points

from agent.errors import ConfigError, ModelNotFound
from agent.models import resolve_model
from agent.models.base import Model
from agent.tools import ENTRY_POINT_GROUP, Tool, make_tool

PYTHON_PREFIX = "python:"


def load_model(spec: str | None) -> Model:
    """`python:MODULE:FACTORY` calls FACTORY() from MODULE; anything else goes to
    `agent.models.resolve_model`."""
    if spec is not None and spec.startswith(PYTHON_PREFIX):
        return _factory_model(spec)
    return resolve_model(spec)


def _factory_model(spec: str) -> Model:
    target = spec[len(PYTHON_PREFIX):]
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ModelNotFound(spec, ["python:MODULE:FACTORY"])
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelNotFound(spec, [f"python:MODULE:FACTORY ({exc})"]) from None
    model = factory()
    if not isinstance(model, Model):
        raise ConfigError(f"{target}() returned {type(model).__name__}, not a model")
    return model


def installed(warn: list[str] | None = None) -> list[Tool]:
    """Every tool registered under the `interleaf.tools` entry points that loads; the
    ones that fail are named in `warn`."""
    found: list[Tool] = []
    names: set[str] = set()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            item = obj if isinstance(obj, Tool) else make_tool(obj)
        except Exception as exc:
            if warn is not None:
                warn.append(f"tool plugin {ep.name!r} ({ep.value}) did not load: {exc}")
            continue
        if item.name.casefold() not in names:
            names.add(item.name.casefold())
            found.append(item)
    return found


def select_tools(tools: Iterable[Tool], names: str | None) -> tuple[str, ...] | None:
    """The tool names a comma list picks (by tool or entry-point name, any case); None
    for all. An empty list picks no tool."""
    if names is None:
        return None
    available = {t.name.casefold(): t.name for t in tools}
    chosen: list[str] = []
    for raw in names.split(","):
        name = raw.strip()
        if not name:
            continue
        if name.casefold() not in available:
            listed = ", ".join(sorted(available.values())) or "none"
            raise ConfigError(f"unknown tool {name!r}; installed tools: {listed}")
        chosen.append(available[name.casefold()])
    return tuple(chosen)
