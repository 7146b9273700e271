"""The results as text: a Markdown table, and one line per configuration."""

from __future__ import annotations

from collections.abc import Sequence

from agent.evals.runner import Row

HEADER = ("task", "model", "configuration", "items", "accuracy", "call rate", "malformed", "tokens/item", "s/item")


def table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    for r in rows:
        cells = (
            r.task, r.model, r.config, str(r.items), _pct(r.accuracy), _pct(r.call_rate),
            _pct(r.malformed_rate), f"{r.tokens:.1f}", f"{r.seconds:.2f}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def line(row: Row) -> str:
    """One finished configuration on one line, as the eval command reports progress."""
    return (f"{row.task} {row.model} [{row.config}] items={row.items} accuracy={_pct(row.accuracy)} "
            f"calls={_pct(row.call_rate)} malformed={_pct(row.malformed_rate)} "
            f"tokens={row.tokens:.1f} s/item={row.seconds:.2f}")
