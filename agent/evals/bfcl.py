"""Function calling on the Berkeley Function Calling Leaderboard's "simple" category.

The data comes from the installed `bfcl-eval` distribution's files (the package itself,
with its heavy dependencies, is never imported: install it with
`pip install --no-deps bfcl-eval`). Each function doc becomes a `Tool`; the model writes
one inline call, and the call is scored against BFCL's possible answers: the same
function, every argument given with one of its acceptable values, and every argument
whose acceptable values do not include "" (optional) given.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, create_model

from agent.agent import Agent
from agent.errors import InterleafError
from agent.evals.runner import ItemOutcome, Setup, failure, item_outcome, read_jsonl
from agent.markup import ParsedCall
from agent.models.base import CallTrigger, Model
from agent.tools import Tool

TASK = "bfcl-simple"
DISTRIBUTION = "bfcl-eval"
QUESTIONS = "bfcl_eval/data/BFCL_v4_simple_python.json"
ANSWERS = "bfcl_eval/data/possible_answer/BFCL_v4_simple_python.json"

INSTRUCTIONS = (
    "Answer each request with one call to the tool, with keyword arguments as Python literals.\n\n"
    "Examples:\n"
    "Question: What will the weather be in Paris tomorrow, in celsius?\n"
    "Answer: [get_forecast(city=\"Paris\", days=1, unit=\"celsius\")]\n"
    "Question: Convert 250 US dollars to euros.\n"
    "Answer: [convert_currency(amount=250, source=\"USD\", target=\"EUR\")]"
)
_TYPES: dict[str, Any] = {
    "integer": int, "float": float, "number": float, "string": str, "boolean": bool,
    "dict": dict[str, Any], "object": dict[str, Any], "any": Any,
}


class NotInstalled(Exception):
    """bfcl-eval is not installed."""


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    function: Mapping[str, Any]
    answers: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]]


def data_files() -> tuple[Path, Path]:
    """The question and answer files of the installed bfcl-eval distribution."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise NotInstalled(
            "bfcl-eval is not installed; install its data with: pip install --no-deps bfcl-eval"
        ) from None
    return Path(str(dist.locate_file(QUESTIONS))), Path(str(dist.locate_file(ANSWERS)))


def load_cases(questions: Path, answers: Path) -> list[Case]:
    truth = {row["id"]: row["ground_truth"] for row in read_jsonl(answers)}
    cases = []
    for row in read_jsonl(questions):
        turn = row["question"][0]
        text = next(m["content"] for m in reversed(turn) if m.get("role") == "user")
        cases.append(Case(row["id"], text, row["function"][0], truth.get(row["id"], [])))
    return cases


def tool_name(function_name: str) -> str:
    """A name the markup can carry: `math.factorial` → `math_factorial`."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", function_name)
    return f"_{name}" if name[:1].isdigit() else name


def make_tool(function: Mapping[str, Any], on_call: threading.Event | None = None) -> Tool:
    """A `Tool` for a BFCL function doc; calling it only sets `on_call`."""
    schema = function.get("parameters", {})
    required = set(schema.get("required", ()))
    fields: dict[str, Any] = {}
    docs: dict[str, str] = {}
    for name, prop in schema.get("properties", {}).items():
        kind = _annotation(prop)
        fields[name] = (kind, ...) if name in required else (kind, None)
        docs[name] = str(prop.get("description", ""))
    model: type[BaseModel] = create_model(f"{tool_name(function['name'])}_params", **fields)
    described = "; ".join(f"{k}: {v}" for k, v in docs.items() if v)
    description = str(function.get("description", "")) + (f" Arguments: {described}" if described else "")

    def call(**_arguments: Any) -> str:
        if on_call is not None:
            on_call.set()
        return "done"

    return Tool(name=tool_name(function["name"]), description=description, fn=call, parameters=model,
                param_docs=docs)


def _annotation(prop: Mapping[str, Any]) -> Any:
    if "enum" in prop and prop["enum"]:
        return Literal[tuple(prop["enum"])]
    kind = prop.get("type", "any")
    if kind in ("array", "tuple"):
        items = prop.get("items")
        return list[_annotation(items) if isinstance(items, Mapping) else Any]  # type: ignore[misc]
    return _TYPES.get(kind, Any)


def call_arguments(call: ParsedCall, tool: Tool) -> dict[str, Any] | None:
    """The arguments as the model wrote them, by parameter name; None if unreadable."""
    if call.args is None:
        raw = tool.raw_param
        return {raw: call.raw.strip()} if raw is not None else None
    names = tool.param_names
    if len(call.args) > len(names):
        return None
    return {**dict(zip(names, call.args)), **(call.kwargs or {})}


def matches(name: str, arguments: Mapping[str, Any], answers: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]]) -> bool:
    """Whether a call fits one of BFCL's possible answers."""
    return any(_fits(name, arguments, answer) for answer in answers)


def _fits(name: str, arguments: Mapping[str, Any], answer: Mapping[str, Mapping[str, Sequence[Any]]]) -> bool:
    ((expected, options),) = answer.items()
    if tool_name(name) != tool_name(expected):
        return False
    if any(key not in options for key in arguments):
        return False
    for key, acceptable in options.items():
        if key not in arguments:
            if "" not in acceptable:
                return False
        elif not any(same_value(arguments[key], ok) for ok in acceptable if ok != ""):
            return False
    return True


def same_value(value: Any, expected: Any) -> bool:
    """BFCL's comparison, leniently: strings without case, spaces and ,./-_*^; numbers by
    value; lists item by item; dicts key by key (a list in the answer lists options)."""
    if isinstance(expected, str):
        return isinstance(value, str) and _standard(value) == _standard(expected)
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    if isinstance(expected, (int, float)):
        return isinstance(value, (int, float)) and float(value) == float(expected)
    if isinstance(expected, (list, tuple)):
        return (isinstance(value, (list, tuple)) and len(value) == len(expected)
                and all(same_value(v, e) for v, e in zip(value, expected)))
    if isinstance(expected, dict):
        return isinstance(value, dict) and _same_dict(value, expected)
    return bool(value == expected)


def _same_dict(value: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    for key, options in expected.items():
        choices = options if isinstance(options, list) else [options]
        if key not in value:
            if "" not in choices:
                return False
        elif not any(same_value(value[key], c) for c in choices if c != ""):
            return False
    return all(key in expected for key in value)


def _standard(text: str) -> str:
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def run(setup: Setup, model: Model, cases: list[Case], *, max_tokens: int = 96,
        timeout: float = 120.0) -> Iterator[ItemOutcome]:
    for case in cases:
        called = threading.Event()
        tool = make_tool(case.function, called)
        agent = Agent(
            model=model, tools=[tool] if setup.tools else [], instructions=INSTRUCTIONS,
            max_tokens=max_tokens, timeout=timeout, constrain=setup.grammar,
            trigger=None if setup.k is None else CallTrigger(k=setup.k), check_arithmetic=setup.check,
            max_calls=1, stop=("\n",),
        )
        try:
            result = agent.run(case.question, cancel=called)
        except InterleafError as exc:
            yield failure(case.id, exc, expected=case.answers)
            continue
        finally:
            agent.close()
        first = result.calls[0] if result.calls else None
        arguments = call_arguments(ParsedCall.of(first.name, first.raw), tool) if first else None
        correct = first is not None and arguments is not None and matches(first.name, arguments, case.answers)
        shown = f"{first.name}({first.raw})" if first else ""
        yield item_outcome(case.id, result, correct=correct, predicted=shown, expected=case.answers)
