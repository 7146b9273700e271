"""The `agent` command line."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from typing import NoReturn

from agent.cli import train
from agent.tasks.state import Approve, TaskLimits

DEFAULTS = TaskLimits()


class UsageError(Exception):
    """A bad command line; its message is one line."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (try --help)")


INDEX_ADD = ("Index the documents under each PATH. Indexed types: {types}; other files are counted as not "
             "indexed, hidden files and folders are left out.")


class IndexParser(Parser):
    """Names the indexed file types in its help, read from the index only when shown
    (the search package is not loaded for every command)."""

    def format_help(self) -> str:
        if self.description and "{types}" in self.description:
            from tools.search.text import SUPPORTED_SUFFIXES

            self.description = self.description.format(types=", ".join(sorted(SUPPORTED_SUFFIXES)))
        return super().format_help()


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _whole_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above zero, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above zero, got {text}")
    return value


def build_parser() -> Parser:
    parser = Parser(prog="agent", description="Interleaf: agents that call tools inline while they write.")
    home = Parser(add_help=False)
    home.add_argument("--home", metavar="DIR", help="where runs are stored (default: $INTERLEAF_HOME or the "
                      "user data directory)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    run = sub.add_parser("run", parents=[home], help="work on an objective with a task list",
                         description="Plan an objective as tasks and work through them with tools.")
    run.add_argument("objective")
    _model_options(run)
    run.add_argument("--tools", metavar="A,B", help="installed tools to use (default: all; '' for none)")
    _limit_options(run)
    run.add_argument("--single", action="store_true",
                     help="no planning: one agent run on the objective, asked as a question")
    _decoding_options(run)
    resume = sub.add_parser("resume", parents=[home], help="continue a stopped or crashed run")
    resume.add_argument("run_id", metavar="RUN")
    _model_options(resume, resuming=True)
    _limit_options(resume, resuming=True)
    runs = sub.add_parser("runs", parents=[home], help="list stored runs")
    runs.add_argument("--limit", type=positive_int, default=20, metavar="N")
    runs.add_argument("--json", action="store_true")
    show = sub.add_parser("show", parents=[home], help="show one run: tasks, results, answer")
    show.add_argument("run_id", metavar="RUN")
    show.add_argument("--json", action="store_true", help="the run, its tasks and its events as JSON")
    sub.add_parser("tools", help="list the installed tools")
    sub.add_parser("models", help="list the known models")
    _index_parser(sub)
    _export_parser(sub, home)
    train.add_parser(sub, home)
    evals = sub.add_parser("eval", help="run the evaluation harness", add_help=False)
    evals.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _model_options(parser: argparse.ArgumentParser, *, resuming: bool = False) -> None:
    parser.add_argument("--model", metavar="SPEC",
                        help="the run's own model" if resuming else "model spec (default: $INTERLEAF_MODEL, "
                        "else the registry default); python:MODULE:FACTORY calls a factory")
    parser.add_argument("--approve", choices=[a.value for a in Approve], default=None if resuming else "none",
                        help="ask before each tool call (all), before Python only (python), or never")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="JSON Lines events on stdout")
    mode.add_argument("--quiet", "-q", action="store_true", help="print only the answer")


def _limit_options(parser: argparse.ArgumentParser, *, resuming: bool = False) -> None:
    """The run's budgets; on `resume` they default to the run's own, and raising the one
    that stopped a finished run lets it go on."""
    group = parser.add_argument_group("limits (default: the run's own)" if resuming else "limits")
    group.add_argument("--max-tasks", type=positive_int, default=None if resuming else DEFAULTS.max_tasks,
                       metavar="N", help="tasks executed in all")
    group.add_argument("--max-calls", type=positive_int, default=None if resuming else DEFAULTS.max_calls,
                       metavar="N", help="tool calls over the whole run")
    group.add_argument("--max-tokens", type=positive_int, default=None if resuming else DEFAULTS.max_tokens,
                       metavar="N", help="tokens the model may write over the whole run")
    group.add_argument("--timeout", type=positive_float, default=None if resuming else DEFAULTS.timeout,
                       metavar="SECONDS", help="wall-clock seconds over the whole run")
    group.add_argument("--max-cost", type=positive_float, default=None, metavar="USD",
                       help="stop when the run has cost this much (models with a known price)")


def _decoding_options(parser: argparse.ArgumentParser) -> None:
    """Settings over the model's recipe (`agent models` lists the recipes)."""
    group = parser.add_argument_group("decoding (default: the model's recipe, measured by its evals)")
    group.add_argument("--grammar", action=argparse.BooleanOptionalAction, default=None,
                       help="decode each call's arguments under its tool's grammar")
    group.add_argument("--trigger", type=non_negative_int, default=None, metavar="K",
                       help="start a call whenever '[' is among the K likeliest tokens (0: never force one)")
    group.add_argument("--examples", type=non_negative_int, default=None, metavar="N",
                       help="few-shot examples per tool in the prompt")
    group.add_argument("--check-arithmetic", action=argparse.BooleanOptionalAction, default=None,
                       help="recompute each 'a op b =' the model writes and splice the value")
    group.add_argument("--n-ctx", type=positive_int, default=None, metavar="N",
                       help="context window of a local model, in tokens")
    group.add_argument("--threads", type=positive_int, default=None, metavar="N",
                       help="llama.cpp threads of a local model")


def _index_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    index = sub.add_parser("index", help="the local search index")
    index.add_argument("--index", metavar="FILE", help="index file (default: $INTERLEAF_INDEX or the data dir)")
    actions = index.add_subparsers(dest="action", metavar="ACTION", parser_class=IndexParser)
    actions.required = True
    add = actions.add_parser("add", help="index the documents under PATH", description=INDEX_ADD)
    add.add_argument("paths", nargs="+", metavar="PATH")
    search = actions.add_parser("search", help="search the index")
    search.add_argument("query", nargs="+")
    search.add_argument("-k", type=positive_int, default=5, metavar="N", help="results to show")


def _export_parser(sub: argparse._SubParsersAction[Parser], home: Parser) -> None:
    export = sub.add_parser("export", help="fine-tuning data from the saved runs (JSON Lines)")
    kinds = export.add_subparsers(dest="kind", metavar="KIND", parser_class=Parser)
    kinds.required = True
    kinds.add_parser("pairs", parents=[home], help="instruction-answer pairs of tasks and answers that went well")
    judged = kinds.add_parser("calls", parents=[home], help="Toolformer's filter: the calls whose results "
                              "make the following text easier to predict")
    judged.add_argument("--model", default="smollm2-135m", metavar="NAME", help="packaged model that scores")
    judged.add_argument("--tau", type=float, default=1.0, help="least loss reduction a kept call brings")


def _version() -> str:
    try:
        return metadata.version("interleaf")
    except metadata.PackageNotFoundError:
        return "unknown"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line; `command` is None for a bare `agent`. What follows `agent
    eval` goes to the harness as it is (its own `--help` included)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["eval"]:
        return argparse.Namespace(command="eval", rest=args[1:])
    return build_parser().parse_args(args)
