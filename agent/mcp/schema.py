"""MCP tools as Interleaf tools: a tool's JSON schema becomes the parameter model that
binds arguments, drives the call grammar and describes the tool in the prompt; a
call's content becomes the text that is spliced.

Nothing here imports the `mcp` package: the listing and the result arrive as plain
JSON (the SDK's models dumped by alias), so this module is also what the tests of the
conversion import.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from agent.detector import MAX_NAME_CHARS
from agent.errors import ToolError
from agent.results import ToolOutput
from agent.tools import Tool

JSON_TYPES: dict[str, Any] = {
    "string": str, "integer": int, "number": float, "boolean": bool, "object": dict[str, Any], "null": type(None),
}

CallFn = Callable[[str, dict[str, Any]], Awaitable[Mapping[str, Any]]]
"""Calls a tool of the server by its own name with JSON arguments; returns the
`CallToolResult` as JSON."""


def call_name(name: str, prefix: str = "") -> str:
    """`name` as the markup can write it: characters that are not letters, digits or _
    become _, and a name that starts with a digit (or is a keyword) gets a leading _."""
    text = re.sub(r"\W", "_", prefix + name, flags=re.ASCII)
    if not text or text[0].isdigit() or keyword.iskeyword(text):
        text = "_" + text
    return text[:MAX_NAME_CHARS]


def python_type(schema: Mapping[str, Any]) -> Any:
    """The Python type pydantic validates a JSON schema fragment with; what it cannot
    express (nested references, combinations) is taken as any JSON value."""
    if "enum" in schema and schema["enum"] and all(isinstance(v, (str, int, bool)) for v in schema["enum"]):
        return Literal.__getitem__(tuple(schema["enum"]))
    kind = schema.get("type")
    if isinstance(kind, list):
        types = [python_type({**schema, "type": k}) for k in kind if k != "null"]
        inner = types[0] if len(types) == 1 else Any
        return Optional[inner] if "null" in kind else inner
    if kind == "array":
        items = schema.get("items")
        return list.__class_getitem__(python_type(items) if isinstance(items, Mapping) else Any)
    if isinstance(kind, str) and kind in JSON_TYPES:
        return JSON_TYPES[kind]
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        types = [python_type(o) for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
        nullable = any(isinstance(o, Mapping) and o.get("type") == "null" for o in options)
        inner = types[0] if len(types) == 1 else Any
        return Optional[inner] if nullable else inner
    return Any


def parameter_model(tool_name: str, schema: Mapping[str, Any]) -> tuple[type[BaseModel], dict[str, str], dict[str, str]]:
    """The parameter model of a tool with input schema `schema`, the parameters' docs,
    and the parameters' own names by field name (names the markup cannot write as
    keywords get a field name that it can)."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    fields: dict[str, Any] = {}
    docs: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, prop in properties.items():
        prop = prop if isinstance(prop, Mapping) else {}
        field_name = _field_name(name, names)
        names[field_name] = name
        annotation = python_type(prop)
        described = {"description": prop["description"]} if isinstance(prop.get("description"), str) else {}
        if name in required:
            fields[field_name] = (annotation, Field(..., **described))
        else:
            fields[field_name] = (annotation, Field(prop.get("default"), **described))  # None: left out
        if described:
            docs[field_name] = described["description"]
    model: type[BaseModel] = create_model(
        f"{call_name(tool_name)}_params", __config__=ConfigDict(extra="forbid"), **fields,
    )
    return model, docs, names


def _field_name(name: str, taken: Mapping[str, str]) -> str:
    """A field name for the parameter `name` that pydantic and the markup accept."""
    text = re.sub(r"\W", "_", name, flags=re.ASCII)
    if not text or not text.isidentifier() or keyword.iskeyword(text) or text.startswith(("_", "model_")):
        text = "p_" + text.lstrip("_")
    while text in taken:
        text += "_"
    return text


def make_mcp_tool(listed: Mapping[str, Any], call: CallFn, *, prefix: str = "", timeout: float | None = None,
                  examples: Sequence[str] = ()) -> Tool:
    """An Interleaf tool for the MCP tool `listed` (its entry of `tools/list`, as JSON)."""
    remote = str(listed["name"])
    schema = listed.get("inputSchema") or {"type": "object", "properties": {}}
    parameters, docs, names = parameter_model(remote, schema)
    required = set(schema.get("required") or ())

    async def run(**arguments: Any) -> ToolOutput | str:
        sent = {names[k]: v for k, v in arguments.items() if v is not None or names[k] in required}
        return tool_output(await call(remote, sent))

    description = str(listed.get("description") or listed.get("title") or f"The {remote} tool of an MCP server.")
    return Tool(name=call_name(remote, prefix), description=" ".join(description.split()), fn=run,
                parameters=parameters, param_docs=docs, examples=tuple(examples), timeout=timeout)


def tool_output(result: Mapping[str, Any]) -> ToolOutput | str:
    """The text to splice for a `CallToolResult`: text content as it is, other content
    described (and kept whole in the call record); an error result raises `ToolError`."""
    blocks: Sequence[Mapping[str, Any]] = result.get("content") or []
    texts = [describe(block) for block in blocks]
    if not blocks and result.get("structuredContent") is not None:
        texts.append(_json(result["structuredContent"]))
    text = "\n".join(t for t in texts if t)
    if result.get("isError"):
        raise ToolError(text or "the tool reported an error")
    kept = tuple(dict(b) for b in blocks if b.get("type") != "text")
    return ToolOutput(text, kept) if kept else text


def describe(block: Mapping[str, Any]) -> str:
    """One content block as text: text as it is, anything else named with its type,
    MIME type and size."""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind in ("image", "audio"):
        return f"[{kind}: {block.get('mimeType', 'unknown type')}, {_decoded_size(block.get('data', ''))} bytes]"
    if kind == "resource_link":
        return f"[resource: {block.get('uri', '')}{_mime(block)}]"
    if kind == "resource":
        resource = block.get("resource") or {}
        if "text" in resource:
            return str(resource["text"])
        return f"[resource: {resource.get('uri', '')}{_mime(resource)}, {_decoded_size(resource.get('blob', ''))} bytes]"
    return f"[{kind or 'unknown'} content]"


def _mime(block: Mapping[str, Any]) -> str:
    mime = block.get("mimeType")
    return f", {mime}" if mime else ""


def _decoded_size(data: object) -> int:
    text = data if isinstance(data, str) else ""
    return len(text) * 3 // 4 - text[-2:].count("=")


def _json(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
