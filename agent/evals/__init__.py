"""Evals of tool use: arithmetic word problems and BFCL function calling (`agent eval`)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """`agent eval ...`: see `agent.evals.cli`."""
    from agent.evals.cli import main as run

    return run(argv)


__all__ = ["main"]
