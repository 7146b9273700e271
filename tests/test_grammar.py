"""Grammars for call arguments, checked with a small GBNF recognizer (the subset the
framework writes: literals, character classes, groups, alternation, ?, *, +, {m,n})."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

import pytest

from agent import tool
from agent.grammar import (
    call_grammar, grammar_for, prefixed, raw_string_grammar, schema_grammar, tool_grammar, with_close,
)
from agent.markup import Markup
from agent.tools import Toolbox, make_tool
from tools.calculator import calculator
from tools.calculator.grammar import ARITHMETIC

Node = tuple[Any, ...]


class Gbnf:
    def __init__(self, text: str) -> None:
        self.rules: dict[str, Node] = {}
        for line in text.splitlines():
            name, sep, body = line.partition("::=")
            if sep:
                self.rules[name.strip()] = _Parser(body).parse()

    def accepts(self, text: str) -> bool:
        @lru_cache(maxsize=None)
        def rule(name: str, i: int) -> frozenset[int]:
            return ends(self.rules[name], i)

        def ends(node: Node, i: int) -> frozenset[int]:
            kind = node[0]
            if kind == "lit":
                return frozenset({i + len(node[1])}) if text.startswith(node[1], i) else frozenset()
            if kind == "cls":
                ok = i < len(text) and (re.fullmatch(node[1], text[i]) is not None)
                return frozenset({i + 1}) if ok else frozenset()
            if kind == "ref":
                return rule(node[1], i)
            if kind == "alt":
                return frozenset().union(*(ends(n, i) for n in node[1]))
            if kind == "seq":
                at = frozenset({i})
                for child in node[1]:
                    at = frozenset().union(*(ends(child, p) for p in at)) if at else at
                return at
            _, child, low, high = node
            result = {i} if low == 0 else set()
            current, count = frozenset({i}), 0
            while current and (high is None or count < high):
                current = frozenset().union(*(ends(child, p) for p in current)) - ({i} if count else set())
                count += 1
                if count >= low:
                    result |= current
                if high is None and count > len(text) + 1:
                    break
            return frozenset(result)

        return len(text) in rule("root", 0)


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def parse(self) -> Node:
        node = self.alt()
        assert self.i == len(self.s), f"unparsed: {self.s[self.i:]!r}"
        return node

    def skip(self) -> None:
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1

    def alt(self) -> Node:
        options = [self.seq()]
        while self.i < len(self.s) and self.s[self.i] == "|":
            self.i += 1
            options.append(self.seq())
        return ("alt", options)

    def seq(self) -> Node:
        items: list[Node] = []
        self.skip()
        while self.i < len(self.s) and self.s[self.i] not in "|)":
            items.append(self.postfix(self.atom()))
            self.skip()
        return ("seq", items)

    def atom(self) -> Node:
        c = self.s[self.i]
        if c == '"':
            end = self.s.index('"', self.i + 1)
            while self.s[end - 1] == "\\" and not self.s[self.i + 1 : end].endswith("\\\\"):
                end = self.s.index('"', end + 1)
            raw = self.s[self.i : end + 1]
            self.i = end + 1
            return ("lit", eval(raw))  # the test's own literals, in Python's string syntax
        if c == "[":
            end = self.i + 1
            while self.s[end] != "]" or self.s[end - 1] == "\\":
                end += 1
            body = self.s[self.i : end + 1].replace("\\n", "\n")
            self.i = end + 1
            return ("cls", re.compile(body, re.DOTALL))
        if c == "(":
            self.i += 1
            node = self.alt()
            assert self.s[self.i] == ")"
            self.i += 1
            return node
        match = re.compile(r"[A-Za-z0-9_-]+").match(self.s, self.i)
        assert match, f"bad grammar at {self.s[self.i:]!r}"
        self.i = match.end()
        return ("ref", match.group(0))

    def postfix(self, node: Node) -> Node:
        if self.i < len(self.s) and self.s[self.i] in "?*+":
            op = self.s[self.i]
            self.i += 1
            return ("rep", node, 1 if op == "+" else 0, 1 if op == "?" else None)
        match = re.compile(r"\{(\d+)(,(\d*))?\}").match(self.s, self.i)
        if match:
            self.i = match.end()
            low = int(match.group(1))
            high = low if match.group(2) is None else (int(match.group(3)) if match.group(3) else None)
            return ("rep", node, low, high)
        return node


def Calculator(expression: str) -> str:
    """Compute."""
    return expression


def triangle(base: int, height: float, unit: str = "m", tags: list[str] | None = None,
             mode: Literal["fast", "exact"] = "fast", strict: bool = False) -> int:
    """A tool with typed parameters."""
    return 0


def search(query: str, limit: int = 3) -> str:
    """A tool with a raw string and one option."""
    return query


def note(text: str) -> str:
    """A tool with one string."""
    return text


def today() -> str:
    """No parameters."""
    return ""


@pytest.mark.parametrize("text", ["23 * 48)]", "(8 + 4) / 3)]", "1200-35)]", "-2.5 ^ 2)]", "sqrt(16) + 1)]",
                                  "12 % 5)]"])
def test_arithmetic_grammar_accepts_expressions(text: str) -> None:
    assert Gbnf(tool_grammar(make_tool(Calculator, grammar=ARITHMETIC))).accepts(text)


@pytest.mark.parametrize("text", ["23 boxes)]", "23 * 48)", "x + 1)]", "1,200 - 3)]", "(1 + 2)]", "2 +)]"])
def test_arithmetic_grammar_rejects_other_text(text: str) -> None:
    assert not Gbnf(tool_grammar(make_tool(Calculator, grammar=ARITHMETIC))).accepts(text)


def test_the_calculator_owns_its_grammar_and_the_name_alone_gives_none() -> None:
    assert tool_grammar(calculator) == with_close(ARITHMETIC)
    plain = tool_grammar(make_tool(Calculator))
    assert plain != with_close(ARITHMETIC) and Gbnf(plain).accepts("23 boxes)]")


def test_a_tool_can_carry_its_own_grammar() -> None:
    def yes_no(answer: str) -> str:
        """Yes or no."""
        return answer

    yes_no.grammar = 'root ::= ("yes" | "no") ")" close'  # type: ignore[attr-defined]
    g = Gbnf(tool_grammar(make_tool(yes_no)))
    assert g.accepts("yes)]") and not g.accepts("maybe)]")


def test_tool_decorator_takes_a_grammar() -> None:
    @tool(grammar='root ::= ("red" | "blue") ")" close')
    def colour(name: str) -> str:
        """A colour."""
        return name

    g = Gbnf(tool_grammar(colour))
    assert g.accepts("red)]") and not g.accepts("green)]")


@pytest.mark.parametrize("text", [
    "base=10, height=5)]", "base=10,height=2.5)]", "base=-3, height=1e3, unit='cm')]",
    'base=1, height=2, mode="exact", strict=True)]', "base=1, height=2, tags=['a', \"b\"])]",
    "base=1, height=2, tags=None)]", "base=1, height=2, strict=False, unit=\"km\")]",
])
def test_schema_grammar_accepts_keyword_literals(text: str) -> None:
    assert Gbnf(tool_grammar(make_tool(triangle))).accepts(text)


@pytest.mark.parametrize("text", [
    "height=5)]", "base=10)]", 'base="10", height=5)]', "base=1, height=2, mode='slow')]",
    "base=1, height=2, strict=yes)]", "base=1, height=2, colour=3)]", "10, 5)]", "base=1, height=2\n)]",
])
def test_schema_grammar_rejects_bad_arguments(text: str) -> None:
    assert not Gbnf(tool_grammar(make_tool(triangle))).accepts(text)


def test_single_string_tool_takes_plain_or_quoted_text() -> None:
    g = Gbnf(tool_grammar(make_tool(note)))
    assert g.accepts("buy milk)]") and g.accepts('"buy milk")]')
    assert not g.accepts("buy ] milk)]") and not g.accepts("line\nbreak)]") and not g.accepts(")]")
    assert not g.accepts("x" * 200 + ")]")


def test_raw_string_tool_with_options_takes_quoted_text_or_keywords() -> None:
    g = Gbnf(tool_grammar(make_tool(search)))
    assert g.accepts('"cats")]') and g.accepts('query="cats", limit=5)]') and g.accepts("query='cats')]")
    assert not g.accepts("cats)]")


def test_no_parameters() -> None:
    g = Gbnf(tool_grammar(make_tool(today)))
    assert g.accepts(")]") and not g.accepts("x)]")


def test_optional_only_parameters() -> None:
    def page(number: int = 1, size: int = 10) -> int:
        """Paged."""
        return number

    g = Gbnf(schema_grammar(make_tool(page).json_schema()) + '\nclose ::= "]"')
    assert g.accepts(")]") and g.accepts("size=3)]") and g.accepts("number=2, size=3)]")


def test_close_marker_follows_the_markup() -> None:
    g = Gbnf(tool_grammar(make_tool(Calculator, grammar=ARITHMETIC), Markup(open="<API>", close="</API>")))
    assert g.accepts("1 + 1)</API>") and not g.accepts("1 + 1)]")


def test_grammar_for_caches_and_ignores_unknown_tools() -> None:
    lookup = grammar_for(Toolbox([make_tool(Calculator, grammar=ARITHMETIC)]))
    assert lookup("calculator") is lookup("Calculator")
    assert lookup("Nope") is None


def test_call_grammar_covers_names_and_arguments_of_every_tool() -> None:
    grammar = call_grammar(Toolbox([make_tool(Calculator, grammar=ARITHMETIC), make_tool(triangle), make_tool(today)]))
    assert grammar is not None
    g = Gbnf(grammar)
    assert g.accepts("Calculator(2 + 3)]") and g.accepts("triangle(base=1, height=2)]") and g.accepts("today()]")
    assert not g.accepts("Calculator(base=1)]") and not g.accepts("Search(x)]") and not g.accepts("calculator(1)]")
    assert call_grammar(Toolbox([])) is None


def test_prefixed_renames_rules_but_not_literals() -> None:
    lines = prefixed('root ::= expr "expr" [a-z]\nexpr ::= "x"', "t0-")
    assert lines == ['t0-root ::= t0-expr "expr" [a-z]', 't0-expr ::= "x"']


def test_raw_string_grammar_bounds_length() -> None:
    g = Gbnf(with_close(raw_string_grammar(max_chars=5)))
    assert g.accepts("abcde)]") and not g.accepts("abcdef)]")


@pytest.mark.model
def test_grammars_compile_in_llama_cpp() -> None:
    from agent.models import resolve_model
    from agent.models.llama import LlamaModel

    model = resolve_model("smollm2-135m")
    assert isinstance(model, LlamaModel)
    tools = Toolbox([make_tool(Calculator, grammar=ARITHMETIC), make_tool(triangle), make_tool(search), make_tool(note), make_tool(today)])
    grammars = [tool_grammar(t) for t in tools.values()] + [call_grammar(tools)]
    for grammar in grammars:
        assert grammar is not None
        model.engine.vocab.check_grammar(grammar)
