"""A batch file: JSON Lines, one objective per line with optional settings of its own.

    {"objective": "plan a trip to Lisbon"}
    {"objective": "What is 17 * 23?", "single": true, "model": "smollm2-135m", "max_tokens": 400}

Settings a line may hold (the command line's options are the defaults): model, tools (a
list or a comma list of names; [] for none), single, max_tasks, max_calls, max_tokens,
timeout, max_cost, grammar, trigger, examples, check_arithmetic."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.tasks.state import ObjectiveOptions

_LIMITS = {"max_tasks": int, "max_calls": int, "max_tokens": int, "timeout": float, "max_cost": float}
_OVERRIDES = {"grammar": ("grammar", bool), "trigger": ("trigger_k", int), "examples": ("examples", int),
              "check_arithmetic": ("check_arithmetic", bool)}
SETTINGS = ("objective", "model", "tools", "single", *_LIMITS, *_OVERRIDES)


@dataclass(frozen=True)
class Defaults:
    """What a line that does not say otherwise gets (the command line's options)."""

    model: str | None = None
    options: ObjectiveOptions = field(default_factory=ObjectiveOptions)


@dataclass(frozen=True)
class BatchItem:
    line: int
    """1-based line of the file."""
    key: str
    """The line's settings as written, hashed, with the count of identical lines before
    it: what `--resume` knows an item by, wherever the line moves."""
    objective: str
    model: str | None
    """A model spec; None: the default model."""
    options: ObjectiveOptions


def read_items(path: Path, defaults: Defaults | None = None) -> list[BatchItem]:
    """The items of a batch file; a line that is not a valid item is a `ConfigError`
    naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no batch file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the batch file {path}: {exc}") from None
    seen: Counter[str] = Counter()
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
            item = parse_item(number, data, defaults or Defaults())
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path}, line {number}: {exc}") from None
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
        seen[digest] += 1
        items.append(replace(item, key=f"{digest}-{seen[digest]}"))
    return items


def parse_item(line: int, data: Any, defaults: Defaults) -> BatchItem:
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with an \"objective\"")
    unknown = sorted(set(data) - set(SETTINGS))
    if unknown:
        raise ValueError(f"unknown settings {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    objective = data.get("objective")
    if not isinstance(objective, str) or not objective.strip():
        raise ValueError("\"objective\" must be a non-empty text")
    model = data.get("model", defaults.model)
    if model is not None and not isinstance(model, str):
        raise ValueError("\"model\" must be a model spec (text)")
    return BatchItem(line=line, key="", objective=objective.strip(), model=model,
                     options=_options(data, defaults.options))


def _options(data: dict[str, Any], base: ObjectiveOptions) -> ObjectiveOptions:
    limits: dict[str, Any] = {name: _number(data[name], kind, name) for name, kind in _LIMITS.items() if name in data}
    overrides: dict[str, Any] = {field_name: _value(data[name], kind, name)
                 for name, (field_name, kind) in _OVERRIDES.items() if name in data}
    single = data.get("single", base.single)
    if not isinstance(single, bool):
        raise ValueError("\"single\" must be true or false")
    return replace(base, limits=replace(base.limits, **limits) if limits else base.limits,
                   overrides=replace(base.overrides, **overrides) if overrides else base.overrides,
                   tools=_tools(data["tools"]) if "tools" in data else base.tools, single=single)


def _tools(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(n.strip() for n in value.split(",") if n.strip())
    if isinstance(value, list) and all(isinstance(n, str) for n in value):
        return tuple(value)
    raise ValueError("\"tools\" must be a list of tool names or a comma list")


def _number(value: Any, kind: type, name: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ValueError(f"\"{name}\" must be a {'whole ' if kind is int else ''}number")
    if value <= 0:
        raise ValueError(f"\"{name}\" must be above zero")
    return kind(value)  # type: ignore[no-any-return]


def _value(value: Any, kind: type, name: str) -> bool | int | None:
    if value is None:
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"\"{name}\" must be true, false or null")
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"\"{name}\" must be a whole number, zero or more")
    return value


__all__ = ["BatchItem", "Defaults", "SETTINGS", "parse_item", "read_items"]
