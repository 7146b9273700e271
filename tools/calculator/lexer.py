"""From what a model writes to Python expression syntax, through a whitelist of tokens.

Only numbers, names, `+ - * / // % ** ^ ( ) , = !` and `√` survive; any other character
is an error, so strings, brackets, attribute access and statements never reach the
parser. The rewrites, in order:

- `×` `·` `÷` `−` and friends become ASCII operators, `^` is a power, `π` is `pi`,
  `x²` is `x**2`, `°` is degrees (`°C` and `°F` are temperatures), `$ € £` are dropped,
  and `3 x 4` between two numbers is a product.
- `1,234,567` is one number where a comma cannot separate arguments: outside
  parentheses, in grouping parentheses, in calls of one-argument functions, and in calls
  whose arguments are separated by ", " (`max(1,000, 2,500)`); `max(1,234)` has two.
- `%` after an operand and before an operator or the end is a percentage (`80 * 15%`);
  followed by an operand it is the remainder (`17 % 5`). `percent` is `%`, and
  `15% of 80` is 15% times 80. `n!` is `factorial(n)`.
- A number or `)` directly followed by a name, a number or `(` multiplies: `2pi`,
  `3(4 + 5)`, `120 km/h`; so does a variable followed by `(` or a name.
- `A in B` and `A to B` at the top level are `convert(A, B)`.
- `=` is an equation (`==`); a trailing `=` is ignored.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from agent.errors import ToolError
from tools.calculator import limits, names
from tools.calculator.names import PERCENT

_REPLACEMENTS = str.maketrans({
    "×": "*", "✕": "*", "✖": "*", "·": "*", "⋅": "*", "∙": "*", "∗": "*",
    "÷": "/", "∕": "/", "−": "-", "–": "-", "—": "-", "＋": "+",
    "π": " pi ", "∞": " oo ", "²": "**2", "³": "**3", "℃": " degC", "℉": " degF",
    "$": " ", "€": " ", "£": " ", "\u00a0": " ", "\u202f": " ",
})
_DEGREES = re.compile(r"°\s*([CF])(?![A-Za-z0-9_])|°")
_TIMES = re.compile(r"(?<=[0-9])\s*x\s*(?=[0-9.])")
_TOKEN = re.compile(
    r"(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|//|==|[-+*/%^=!,√()])"
)
_HINTS = {
    "[": "brackets are not supported; use parentheses", "]": "brackets are not supported; use parentheses",
    "{": "braces are not supported; use parentheses", "}": "braces are not supported; use parentheses",
    "'": "quotes are not supported", '"': "quotes are not supported",
    ".": "attribute access is not supported",
}
_FIRST_GROUP = re.compile(r"[0-9]{1,3}")
_GROUP = re.compile(r"[0-9]{3}")
_LAST_GROUP = re.compile(r"[0-9]{3}(?:\.[0-9]*)?")


@dataclass(frozen=True)
class Token:
    kind: str
    """"num", "name", "op", "(", ")" or ","."""
    text: str
    start: int
    end: int


def lex(expression: str) -> str:
    """`expression` in Python expression syntax, tokens separated by spaces."""
    if len(expression) > limits.MAX_INPUT_CHARS:
        raise ToolError(f"the expression is too long ({len(expression)} characters; at most {limits.MAX_INPUT_CHARS})")
    text = normalize(expression)
    tokens = tokenize(text)
    if not tokens:
        raise ToolError("the expression is empty")
    for rewrite in (_square_roots, _thousands, _postfix, _implicit_products, _conversion, _equations):
        tokens = rewrite(tokens)
    return " ".join(t.text for t in tokens)


def normalize(expression: str) -> str:
    text = expression.translate(_REPLACEMENTS)
    text = _DEGREES.sub(lambda m: f" deg{m.group(1)}" if m.group(1) else " deg", text)
    return _TIMES.sub("*", text)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    depth = 0
    pos = _skip_space(text, 0)
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            hint = _HINTS.get(char)
            if char in "[]":
                raise ToolError(_HINTS[char])
            raise ToolError(f"unexpected character {char!r}" + (f": {hint}" if hint else ""))
        kind = match.lastgroup or "op"
        token = _checked(Token(kind, match.group(), match.start(), match.end()))
        if token.kind in ("(", ")"):
            depth += 1 if token.text == "(" else -1
            if depth > limits.MAX_NESTING:
                raise ToolError(f"the expression is nested too deeply (at most {limits.MAX_NESTING} parentheses)")
            if depth < 0:
                raise ToolError("unbalanced parentheses: a ')' has no '('")
        tokens.append(token)
        pos = _skip_space(text, match.end())
    if depth:
        raise ToolError("unbalanced parentheses: a '(' is never closed")
    return tokens


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _checked(token: Token) -> Token:
    text = token.text
    if token.kind == "num":
        mantissa, _, exponent = text.lower().partition("e")
        if sum(c.isdigit() for c in mantissa) > limits.MAX_LITERAL_DIGITS:
            raise ToolError(f"a number has too many digits (at most {limits.MAX_LITERAL_DIGITS})")
        if exponent and abs(int(exponent)) > limits.MAX_LITERAL_EXPONENT:
            raise ToolError(f"the exponent of {text} is out of range (at most {limits.MAX_LITERAL_EXPONENT})")
        return token
    if token.kind == "name":
        if text.startswith("_") or "__" in text:
            raise ToolError(f"unknown name {text!r}")
        if keyword.iskeyword(text) and text != "in":
            raise ToolError(f"{text!r} is not supported")
        if text == "percent":
            return Token("op", "%", token.start, token.end)
        return token
    if text == "^":
        return Token("op", "**", token.start, token.end)
    return Token(text if text in ("(", ")", ",") else "op", text, token.start, token.end)


def _square_roots(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.text != "√":
            out.append(token)
            continue
        nxt = tokens[i] if i < len(tokens) else None
        out.append(Token("name", "sqrt", token.start, token.end))
        if nxt is not None and nxt.kind == "(":
            continue
        if nxt is None or nxt.kind not in ("num", "name"):
            raise ToolError("'√' needs a number or parentheses after it")
        out += [Token("(", "(", nxt.start, nxt.start), nxt, Token(")", ")", nxt.end, nxt.end)]
        i += 1
    return out


def _thousands(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    groups_allowed = [True]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "(":
            prev = out[-1] if out else None
            call = prev is not None and prev.kind == "name" and names.is_function(prev.text)
            one = prev is not None and names.takes_one_argument(prev.text)
            groups_allowed.append(not call or one or _spaced_commas(tokens, i))
        elif token.kind == ")":
            groups_allowed.pop()
        elif token.kind == "num" and groups_allowed[-1] and _FIRST_GROUP.fullmatch(token.text):
            run = _comma_run(tokens, i)
            if len(run) > 1 and _is_grouping(run):
                out.append(Token("num", "".join(t.text for t in run), run[0].start, run[-1].end))
                i += 2 * len(run) - 1
                continue
        out.append(token)
        i += 1
    return out


def _spaced_commas(tokens: list[Token], i: int) -> bool:
    """Whether the arguments of the call opened at `i` are separated by ", " (with a
    space): then a comma with no space around it, as in max(1,000, 2,500), groups digits."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[j].kind, 0)
        if depth == 0:
            return False
        if depth == 1 and tokens[j].kind == "," and j + 1 < len(tokens) and tokens[j + 1].start > tokens[j].end:
            return True
    return False


def _comma_run(tokens: list[Token], i: int) -> list[Token]:
    run = [tokens[i]]
    while i + 2 < len(tokens):
        comma, nxt = tokens[i + 1], tokens[i + 2]
        if comma.kind != "," or nxt.kind != "num" or comma.start != run[-1].end or nxt.start != comma.end:
            break
        run.append(nxt)
        i += 2
    return run


def _is_grouping(run: list[Token]) -> bool:
    middle, last = run[1:-1], run[-1]
    return all(_GROUP.fullmatch(t.text) for t in middle) and bool(_LAST_GROUP.fullmatch(last.text))


def _postfix(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for i, token in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.text == "%" and not _starts_operand(nxt):
            _wrap(out, PERCENT, token)
        elif token.text == "!":
            if nxt is not None and nxt.text in ("!", "=", "=="):
                raise ToolError(f"'!{nxt.text}' is not supported")
            _wrap(out, "factorial", token)
        elif token.kind == "name" and token.text == "of":
            if not out or out[_operand_start(out, token)].text != PERCENT:
                raise ToolError("'of' must follow a percentage, as in 15% of 80")
            out.append(Token("op", "*", token.start, token.end))
        else:
            out.append(token)
    return out


def _starts_operand(token: Token | None) -> bool:
    if token is None:
        return False
    return token.kind in ("num", "(") or (token.kind == "name" and token.text not in names.WORDS)


def _wrap(out: list[Token], function: str, at: Token) -> None:
    start = _operand_start(out, at)
    operand = out[start:]
    del out[start:]
    out += [Token("name", function, at.start, at.start), Token("(", "(", at.start, at.start), *operand,
            Token(")", ")", at.end, at.end)]


def _operand_start(out: list[Token], at: Token) -> int:
    last = out[-1] if out else None
    if last is not None and last.kind in ("num", "name"):
        return len(out) - 1
    if last is None or last.kind != ")":
        raise ToolError(f"{at.text!r} needs a number before it")
    depth = 0
    for j in range(len(out) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(out[j].kind, 0)
        if depth == 0:
            return j - 1 if j > 0 and out[j - 1].kind == "name" else j
    raise ToolError("unbalanced parentheses")


def _implicit_products(tokens: list[Token]) -> list[Token]:
    out: list[Token] = tokens[:1]
    for a, b in zip(tokens, tokens[1:]):
        if a.kind == "name" and names.is_function(a.text) and b.kind != "(" and _starts_operand(b):
            raise ToolError(f"write {a.text}(...) with parentheses")
        if _ends_operand(a, b) and _starts_operand(b):
            if b.kind == "num" and a.kind != ")":
                raise ToolError(f"missing operator between {a.text!r} and {b.text!r}")
            out.append(Token("op", "*", b.start, b.start))
        out.append(b)
    return out


def _ends_operand(token: Token, nxt: Token) -> bool:
    if token.kind == "name":
        if token.text in names.WORDS or names.is_function(token.text):
            return False
        return nxt.kind != "(" or token.text in names.CONSTANTS or names.is_variable(token.text)
    return token.kind in ("num", ")")


def _conversion(tokens: list[Token]) -> list[Token]:
    depth, at = 0, []
    for i, token in enumerate(tokens):
        depth += {"(": 1, ")": -1}.get(token.kind, 0)
        if token.kind == "name" and token.text in ("in", "to"):
            if depth:
                raise ToolError(f"'{token.text}' converts units at the top level only, as in 120 km/h in m/s")
            at.append(i)
    if not at:
        return tokens
    if len(at) > 1:
        raise ToolError("convert one quantity at a time: use 'in' or 'to' once")
    i = at[0]
    if i == 0 or i == len(tokens) - 1:
        raise ToolError(f"'{tokens[i].text}' needs a quantity before it and a unit after it, as in 120 km/h in m/s")
    first, last = tokens[0], tokens[-1]
    return [Token("name", "convert", first.start, first.start), Token("(", "(", first.start, first.start),
            *tokens[:i], Token(",", ",", tokens[i].start, tokens[i].end), *tokens[i + 1:],
            Token(")", ")", last.end, last.end)]


def _equations(tokens: list[Token]) -> list[Token]:
    if len(tokens) > 1 and tokens[-1].text in ("=", "=="):
        tokens = tokens[:-1]
    return [Token("op", "==", t.start, t.end) if t.text == "=" else t for t in tokens]
