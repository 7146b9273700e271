from __future__ import annotations

import warnings

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent.arguments import parse_arguments_with_ast, scan_arguments
from agent.errors import BadArguments
from agent.markup import ParsedCall, format_arguments
from agent.tools import tool

tokens = st.one_of(
    st.sampled_from([
        "a", "b", "query", "x", "set", "True", "False", "None", "not", "lambda", "if", "else", "for", "in",
        "r", "rb", "f", "What", "café", "0", "7", "-3", "007", "1.5", "1e3", "2j", "10**3", "123456789012345678901",
        "'s'", '"t"', "''", '"a\\"b"', "'\\n'", "'''x'''", "\"\ud800\"", "'\t'",
        " ", "  ", "\t", "\n", ",", "=", "==", "**", "*", "+", "-", "/", "%", "<", "(", ")", "[", "]", "{", "}", ":", ".", "#",
    ]),
    st.text(alphabet="ab =,'\"1-(", max_size=4),
)
values = st.sampled_from([
    "1", "-3", "007", "1.5", "2j", "1+2j", "1 + 2j", "-1-2j", "'s'", '"t"', "''", "'''x'''", "r'x'", "f'x'", "b'x'",
    "True", "None", "set()", "set", "x", "not 'x'", "not'x'", "lambda: 1", "x if y else z", "----1", "1 / 2",
    "1 % 2", "1 * 2j", "1 ** 2", "[1, 2]", "(1,)", "{'a': 1}", "*x", "**k", "x y", "capital of Peru", "What's new",
    "café", "a == 1", "x := 1", "1 < 2", "'a' 'b'", '"\ud800"', "'\\n'", "1_000", "0x10", "12345678901234567890",
    "x 1", "print(1)", "a.b", "sin x", "The end", "if", "for x in y",
])
items = st.one_of(values, st.tuples(st.sampled_from(["a", "b", "query", "True", "not", "match", "x"]),
                                    st.sampled_from(["=", " = ", "==", " ="]), values).map("".join))
separators = st.sampled_from([",", ", ", " , ", ",,", " ", ""])
raws = st.one_of(
    st.lists(tokens, max_size=12).map("".join),
    st.lists(st.tuples(items, separators).map("".join), min_size=1, max_size=4).map("".join),
)


@settings(max_examples=500, deadline=None)
@given(raws)
@example("not'x', a=1")
@example("x, a=1")
@example("1+2j, a=1")
@example("1 % 2, a=1")
@example("capital of Peru, a=1")
@example("set(), a=1")
@example("a=1, 2")
@example("rb'x', a=1")
def test_the_scanner_decides_as_ast_does(raw: str) -> None:
    scanned = scan_arguments(raw)
    if scanned is not None:
        assert scanned == parse_arguments_with_ast(raw)


@settings(max_examples=300, deadline=None)
@given(
    args=st.lists(st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none()), max_size=3),
    kwargs=st.dictionaries(st.sampled_from(["a", "b", "query", "max_results"]),
                           st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none()), max_size=3),
)
def test_formatted_plain_values_scan_like_ast(args: list[object], kwargs: dict[str, object]) -> None:
    raw = format_arguments(*args, **kwargs)
    scanned = scan_arguments(raw)
    assert scanned is None or scanned == parse_arguments_with_ast(raw)
    assert parse_arguments_with_ast(raw)[:2] == (tuple(args), kwargs)


@pytest.mark.parametrize("raw", [
    "17", "a=17, b=2", "query=\"capital of Peru\", max_results=3", "'x', True, None",
    "The committee met on the third floor to review the annual budget for the northern district",
    "capital of Peru", "what's new", "400 / 1400", "15 * 24", "x", "print(1)",
])
def test_the_common_shapes_need_no_ast(raw: str) -> None:
    scanned = scan_arguments(raw)
    assert scanned is not None and scanned == parse_arguments_with_ast(raw)


@tool
def add(a: int, b: int) -> int:
    """Adds."""
    return a + b


@tool
def search(query: str, max_results: int = 5) -> str:
    """Searches."""
    return query


@tool
def python(code: str) -> str:
    """Runs code."""
    return code


def bind_error(fn: object, raw: str) -> str:
    assert hasattr(fn, "bind") and hasattr(fn, "name")
    with pytest.raises(BadArguments) as raised:
        fn.bind(ParsedCall.of(fn.name, raw))
    return str(raised.value)


def test_a_keyword_given_twice_is_refused() -> None:
    assert "'a' is given twice" in bind_error(add, "a=1, a=2")
    assert "'query' is given twice" in bind_error(search, 'query="x", query="y"')


def test_keyword_arguments_that_do_not_parse_are_not_taken_as_raw_text() -> None:
    message = bind_error(search, "query=----1")
    assert "keyword arguments did not parse" in message and "'query'" in message
    assert "keyword arguments did not parse" in bind_error(search, "query=capital of Peru")
    assert "keyword arguments did not parse" in bind_error(add, "a=x, b=2")
    assert search.bind(ParsedCall.of("search", "capital of Peru")) == {"query": "capital of Peru", "max_results": 5}
    assert python.bind(ParsedCall.of("python", "y = x + 1")) == {"code": "y = x + 1"}


def test_an_invalid_escape_in_a_string_is_read_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_arguments_with_ast(r'"C:\Temp"')[0] == ("C:\\Temp",)
