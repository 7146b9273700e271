"""Parse the lexer's output with `ast` and keep only a whitelist of node types.

Nothing is ever evaluated by Python: the tree is checked here and walked by
`evaluate.Evaluator`, which builds the sympy expression node by node.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from agent.errors import ToolError
from tools.calculator import limits, names
from tools.calculator.lexer import lex

_ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant, ast.Compare, ast.Tuple,
    ast.Load, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.UAdd, ast.USub, ast.Eq,
)


@dataclass(frozen=True)
class Parsed:
    tree: ast.expr
    source: str
    """The Python-syntax text the tree was parsed from (ASCII only)."""

    def segment(self, node: ast.expr) -> str:
        return self.source[node.col_offset : node.end_col_offset]

    def needs_worker(self) -> bool:
        """Whether evaluating may run long: an equation, or solve, integrate and the like."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Compare):
                return True
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if names.canonical(node.func.id) in names.SYMBOLIC:
                    return True
        return False


def parse(expression: str) -> Parsed:
    source = lex(expression)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ToolError(_syntax_message(source, exc)) from None
    except (RecursionError, MemoryError, ValueError):
        raise ToolError("the expression is too complex") from None
    _validate(tree)
    return Parsed(tree.body, source)


def _syntax_message(source: str, exc: SyntaxError) -> str:
    offset = max((exc.offset or 1) - 1, 0)
    near = source[offset : offset + 12].strip()
    return f"cannot parse the expression near {near!r}" if near else "the expression ends too early"


def _validate(tree: ast.Expression) -> None:
    if sum(1 for _ in ast.walk(tree)) > limits.MAX_AST_NODES:
        raise ToolError(f"the expression is too long (more than {limits.MAX_AST_NODES} parts)")
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_AST_DEPTH:
            raise ToolError(f"the expression is nested too deeply (more than {limits.MAX_AST_DEPTH} levels)")
        _check_node(node)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_node(node: ast.AST) -> None:
    if not isinstance(node, _ALLOWED):
        raise ToolError(f"unsupported syntax ({type(node).__name__})")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise ToolError("call functions by name with plain arguments, as in max(1, 2)")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise ToolError("unsupported syntax (Starred)")
    elif isinstance(node, ast.Compare):
        if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq):
            raise ToolError("an equation has one '=' sign")
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
            raise ToolError("only numbers are allowed as literals")
