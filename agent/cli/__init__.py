"""The `agent` command: `agent run "OBJECTIVE"` and friends. The one place that
imports rich."""

from __future__ import annotations

import sys

from rich.console import Console

from agent.cli.commands import COMMANDS, Consoles
from agent.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from agent.cli.parser import UsageError, build_parser, parse
from agent.errors import InterleafError

__all__ = ["main"]


def main(argv: list[str] | None = None, *, consoles: Consoles | None = None) -> int:
    """Run the command line; returns the exit code. Mistakes a user can make print one
    line to stderr."""
    consoles = consoles or default_consoles()
    try:
        args = parse(argv)
        if args.command is None:
            consoles.out.print(build_parser().format_help(), markup=False, highlight=False, end="")
            return 0
        return COMMANDS[args.command](args, consoles)
    except UsageError as exc:
        _fail(consoles, str(exc))
        return EXIT_USAGE
    except InterleafError as exc:
        _fail(consoles, f"agent: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _fail(consoles, "agent: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1


def default_consoles() -> Consoles:
    """Consoles on stdout and stderr; where one is not a terminal, lines are not wrapped
    (a command in a message stays whole for the script or file that reads it)."""
    out, err = Console(), Console(stderr=True)
    out.soft_wrap, err.soft_wrap = not out.is_terminal, not err.is_terminal
    return Consoles(out, err)


def _fail(consoles: Consoles, message: str) -> None:
    consoles.err.print(message, markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
