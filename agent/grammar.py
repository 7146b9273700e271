"""GBNF grammars for a call's arguments, decoded once the model has opened `[Name(`.

Each grammar covers the rest of the call: the arguments, `)` and the close marker. A
tool's grammar is its own (`@tool(grammar=...)`, or a `grammar` attribute on its
function), or else comes from its parameter schema: Python-literal keyword arguments, or a
plain or quoted string for tools that take one raw string (only quoted when the tool has
other parameters, which may then be given as keywords).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from agent.markup import DEFAULT_MARKUP, Markup
from agent.tools import Tool, Toolbox

MAX_STRING_CHARS = 120
MAX_ITEMS = 8

_SCALARS: dict[str, str] = {
    "integer": '"-"? [0-9]{1,15}',
    "number": '"-"? [0-9]{1,15} ("." [0-9]{1,10})? ("e" "-"? [0-9]{1,3})?',
    "string": (f'"\\"" [^"\\\\\\n]{{0,{MAX_STRING_CHARS}}} "\\"" | '
               f'"\'" [^\'\\\\\\n]{{0,{MAX_STRING_CHARS}}} "\'"'),
    "boolean": '"True" | "False"',
    "null": '"None"',
}
_VALUE = "integer | number | string | boolean | null | list | dict"
_LIST = f'"[" ws (value ("," ws value){{0,{MAX_ITEMS - 1}}})? "]"'
_DICT = f'"{{" ws (string ":" ws value ("," ws string ":" ws value){{0,{MAX_ITEMS - 1}}})? "}}"'


def literal(text: str) -> str:
    """`text` as a GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def with_close(body: str, markup: Markup = DEFAULT_MARKUP) -> str:
    """Complete a grammar that refers to a `close` rule with the markup's close marker."""
    if "\nclose ::=" in body or body.startswith("close ::="):
        return body
    return f"{body}\nclose ::= {literal(markup.close.strip())}"


def tool_grammar(tool: Tool, markup: Markup = DEFAULT_MARKUP) -> str:
    """The grammar for the arguments of a call to `tool`."""
    own = tool.grammar or getattr(tool.fn, "grammar", None)
    if isinstance(own, str):
        return with_close(own, markup)
    if tool.raw_param is not None and len(tool.param_names) == 1:
        return with_close(raw_string_grammar(), markup)
    grammar = schema_grammar(tool.json_schema())
    if tool.raw_param is not None:
        quoted = raw_string_grammar().splitlines()[1]
        grammar = "\n".join([grammar.replace("root ::= ", "root ::= quoted \")\" close | ", 1), quoted])
    return with_close(grammar, markup)


def grammar_for(toolbox: Toolbox, markup: Markup = DEFAULT_MARKUP) -> Callable[[str], str | None]:
    """`LoopConfig.grammar_for` for the tools of `toolbox`; grammars are built once each."""
    cache: dict[str, str | None] = {}

    def lookup(name: str) -> str | None:
        key = name.casefold()
        if key not in cache:
            cache[key] = tool_grammar(toolbox[name], markup) if name in toolbox else None
        return cache[key]

    return lookup


def raw_string_grammar(max_chars: int = MAX_STRING_CHARS) -> str:
    """One string argument, plain (`what is new`) or quoted (`"what is new"`)."""
    return "\n".join([
        'root ::= (quoted | plain) ")" close',
        f'quoted ::= "\\"" [^"\\\\\\n]{{1,{max_chars}}} "\\""',
        f'plain ::= [^"()\\[\\]\\n] [^()\\[\\]\\n]{{0,{max_chars - 1}}}',
    ])


def schema_grammar(schema: Mapping[str, Any]) -> str:
    """Keyword arguments as Python literals: the required ones in the schema's order,
    then any of the optional ones."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    defs: Mapping[str, Any] = schema.get("$defs", {})
    rules: dict[str, str] = {}
    needed: list[str] = []
    optional: list[str] = []
    for index, (name, prop) in enumerate(properties.items()):
        rule = f"p{index}"
        rules[rule] = _value_rule(_resolve(prop, defs), defs, rules)
        (needed if name in required else optional).append(f"{literal(name + '=')} {rule}")
    if optional:
        rules["opt"] = " | ".join(f"({o})" for o in optional)
    head = ' "," ws '.join(needed)
    if needed and optional:
        head += f' ("," ws opt){{0,{len(optional)}}}'
    elif len(optional) > 1:
        head = f'(opt ("," ws opt){{0,{len(optional) - 1}}})?'
    elif optional:
        head = "opt?"
    lines = [f'root ::= {head} ")" close'.replace("root ::=  ", "root ::= ")]
    lines += [f"{k} ::= {v}" for k, v in rules.items()]
    lines += _base_rules()
    return "\n".join(lines)


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"))
        if isinstance(target, Mapping):
            return target
    return prop


def _value_rule(prop: Mapping[str, Any], defs: Mapping[str, Any], rules: dict[str, str]) -> str:
    """A GBNF alternative for one JSON-schema value."""
    if "enum" in prop:
        return " | ".join(_constant(v) for v in prop["enum"]) or "value"
    if "const" in prop:
        return _constant(prop["const"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            options = [_value_rule(_resolve(p, defs), defs, rules) for p in prop[key]]
            return " | ".join(f"({o})" for o in options)
    kind = prop.get("type")
    if isinstance(kind, list):
        return " | ".join(f"({_value_rule({'type': k}, defs, rules)})" for k in kind)
    if kind in ("integer", "number", "string", "boolean", "null"):
        return str(kind)
    if kind == "array":
        items = prop.get("items")
        if isinstance(items, Mapping) and items:
            name = f"items{len(rules)}"
            rules[name] = ""
            rules[name] = _value_rule(_resolve(items, defs), defs, rules)
            return f'"[" ws ({name} ("," ws {name}){{0,{MAX_ITEMS - 1}}})? "]"'
        return "list"
    if kind == "object":
        return "dict"
    return "value"


def _constant(value: object) -> str:
    if isinstance(value, str) and '"' not in value:
        return f"{literal(repr(value))} | {literal(json.dumps(value))}"
    return literal(repr(value))


def _base_rules() -> list[str]:
    base = {**_SCALARS, "value": _VALUE, "list": _LIST, "dict": _DICT, "ws": '" "?'}
    return [f"{name} ::= {body}" for name, body in base.items()]


def call_grammar(toolbox: Toolbox, markup: Markup = DEFAULT_MARKUP) -> str | None:
    """A grammar for a whole call after the open marker: one of the tools' names, `(`,
    that tool's arguments, `)` and the close marker. None without tools."""
    tools = list(toolbox.values())
    if not tools:
        return None
    lines: list[str] = []
    choices: list[str] = []
    for index, tool in enumerate(tools):
        prefix = f"t{index}-"
        lines += prefixed(tool_grammar(tool, markup), prefix)
        choices.append(f"{literal(tool.name + '(')} {prefix}root")
    return "\n".join([f"root ::= {' | '.join(choices)}", *lines])


def prefixed(grammar: str, prefix: str) -> list[str]:
    """The grammar's rules with `prefix` before every rule name."""
    rules: list[tuple[str, str]] = []
    for line in grammar.splitlines():
        name, sep, body = line.partition("::=")
        if sep:
            rules.append((name.strip(), body.strip()))
        elif line.strip() and rules:
            rules[-1] = (rules[-1][0], f"{rules[-1][1]} {line.strip()}")
    names = {name for name, _ in rules}
    return [f"{prefix}{name} ::= {_rename(body, names, prefix)}" for name, body in rules]


def _rename(body: str, names: set[str], prefix: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c in "\"[":
            end = _literal_end(body, i, '"' if c == '"' else "]")
            out.append(body[i:end])
            i = end
        elif c.isalpha():
            j = i
            while j < len(body) and (body[j].isalnum() or body[j] in "-_"):
                j += 1
            word = body[i:j]
            out.append(prefix + word if word in names else word)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _literal_end(body: str, start: int, closer: str) -> int:
    i = start + 1
    while i < len(body):
        if body[i] == "\\":
            i += 2
        elif body[i] == closer:
            return i + 1
        else:
            i += 1
    return len(body)
