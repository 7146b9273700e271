"""The `agent` command: `agent run "OBJECTIVE"` and friends. The one place that
imports rich."""

from __future__ import annotations

import sys

from rich.console import Console

from agent.cli.commands import COMMANDS, Consoles
from agent.cli.parser import UsageError, parse
from agent.errors import InterleafError

__all__ = ["main"]


def main(argv: list[str] | None = None, *, consoles: Consoles | None = None) -> int:
    """Run the command line; returns the exit code. Mistakes a user can make print one
    line to stderr."""
    consoles = consoles or Consoles(Console(), Console(stderr=True))
    try:
        args = parse(argv)
        return COMMANDS[args.command](args, consoles)
    except UsageError as exc:
        _fail(consoles, str(exc))
        return 2
    except InterleafError as exc:
        _fail(consoles, f"agent: {exc}")
        return 1
    except KeyboardInterrupt:
        _fail(consoles, "agent: interrupted")
        return 130
    except BrokenPipeError:
        return 1


def _fail(consoles: Consoles, message: str) -> None:
    consoles.err.print(message, markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
