"""MCP on the command line: `agent run --mcp "COMMAND ARGS"` and the `mcpServers` of
`mcp.json` in the Interleaf home folder make MCP servers' tools part of a run;
`agent mcp serve` serves the installed tools to MCP clients. The `mcp` package is
imported only when one of these is used."""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError

if TYPE_CHECKING:
    from agent.mcp import MCPServer
    from agent.tools import Tool

CONFIG_NAME = "mcp.json"
DEFAULT_PORT = 8765
LOOPBACK = "127.0.0.1"


def add_run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mcp", action="append", default=[], metavar="COMMAND",
                        help="an MCP server whose tools the run may use: a command line run over stdio, or an "
                        "http:// URL (repeatable; servers listed in mcp.json in the home folder are added)")


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    mcp = sub.add_parser("mcp", help="serve the installed tools over MCP")
    actions = mcp.add_subparsers(dest="action", metavar="ACTION", parser_class=type(mcp))
    actions.required = True
    serve = actions.add_parser("serve", help="serve the installed tools to MCP clients", description=(
        "Serve the installed tools (the sandboxed Python interpreter, one per client connection; the "
        "calculator; search; the calendar) over stdio, or over streamable HTTP on 127.0.0.1 with --http."))
    serve.add_argument("--http", action="store_true", help=f"streamable HTTP on {LOOPBACK} instead of stdio")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help="the HTTP port")
    serve.add_argument("--tools", metavar="A,B", help="installed tools to serve (default: all)")
    serve.add_argument("--python-timeout", type=float, default=None, metavar="SECONDS",
                       help="wall-clock limit of one Python call")
    serve.add_argument("--python-memory-mb", type=int, default=None, metavar="MB",
                       help="memory of each client's Python sandbox as a whole")


def config_path(home: str | None) -> Path:
    from agent.tasks.store import default_home

    return (Path(home).expanduser() if home else default_home()) / CONFIG_NAME


def configured(home: str | None) -> list[dict[str, Any]]:
    """The servers of `mcp.json`'s `mcpServers` (the format MCP clients share):
    `{"name": {"command": ..., "args": [...], "env": {...}}}` or `{"name": {"url": ...}}`."""
    path = config_path(home)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None
    servers = data.get("mcpServers", {}) if isinstance(data, dict) else None
    if not isinstance(servers, dict) or not all(isinstance(v, dict) for v in servers.values()):
        raise ConfigError(f"{path}: 'mcpServers' must map names to servers")
    return [{"name": name, **entry} for name, entry in servers.items()]


def _server(entry: Mapping[str, Any]) -> MCPServer:
    from agent.mcp import MCPServer

    name = str(entry["name"])
    prefix = str(entry.get("prefix", ""))
    timeout = None if entry.get("timeout") is None else float(entry["timeout"])
    if isinstance(entry.get("url"), str):
        return MCPServer.http(entry["url"], name=name, prefix=prefix, timeout=timeout)
    command, args, env = entry.get("command"), entry.get("args", []), entry.get("env") or {}
    if not isinstance(command, str) or not isinstance(args, list) or not isinstance(env, dict):
        raise ConfigError(f"MCP server {name!r}: give a 'command' (with a list of 'args') or a 'url'")
    return MCPServer.stdio(command, [str(a) for a in args], env={str(k): str(v) for k, v in env.items()},
                           cwd=entry.get("cwd"), name=name, prefix=prefix, timeout=timeout)


@contextmanager
def mcp_tools(args: argparse.Namespace) -> Iterator[list[Tool]]:
    """The tools of the run's MCP servers (`--mcp` and mcp.json), for as long as the
    command runs; the servers are stopped when it ends. A server that does not start is
    a `ConfigError`."""
    entries = configured(getattr(args, "home", None))
    lines = list(getattr(args, "mcp", None) or [])
    if not entries and not lines:
        yield []
        return
    try:
        from agent.mcp import MCPServer
    except ImportError as exc:
        raise ConfigError(str(exc)) from None
    servers: list[MCPServer] = []
    try:
        for entry in entries:
            servers.append(_server(entry))
        for line in lines:
            servers.append(MCPServer.command_line(line))
        yield [tool for server in servers for tool in server.tools()]
    finally:
        for server in servers:
            server.close()


def cmd_mcp(args: argparse.Namespace, out: Any) -> int:
    """`agent mcp serve`: blocks until stdin closes (stdio) or the process is stopped."""
    if args.http and not 0 < args.port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {args.port}")
    server = tool_server(args)
    signal.signal(signal.SIGTERM, _exit)  # stopped by a signal, the sandboxes are still closed
    if not args.http:
        import anyio

        anyio.run(server.serve_stdio)
        return 0
    import uvicorn

    out.print(f"Serving MCP on http://{LOOPBACK}:{args.port}/mcp", markup=False, highlight=False)
    try:
        uvicorn.run(server.http_app(host=LOOPBACK), host=LOOPBACK, port=args.port, log_level="warning")
    finally:
        server.close()
    return 0


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


def tool_server(args: argparse.Namespace) -> Any:
    """The installed tools (those `--tools` picks) as a `ToolServer`; the Python tool is
    made anew for each client connection, with the limits given."""
    from dataclasses import replace

    from agent.cli.mcp_server import ToolServer
    from agent.cli.parser import _version
    from agent.cli.setup import installed, select_tools
    from tools.python import SandboxLimits, python_tool

    tools = installed()
    chosen = select_tools(tools, args.tools)
    if chosen is not None:
        tools = [t for t in tools if t.name in chosen]
    limits = SandboxLimits()
    if args.python_timeout is not None:
        limits = replace(limits, timeout=args.python_timeout)
    if args.python_memory_mb is not None:
        limits = replace(limits, sandbox_memory_mb=args.python_memory_mb, memory_mb=args.python_memory_mb)
    shared = [t for t in tools if t.name != "Python"]
    factories = [lambda: python_tool(limits=limits)] if len(shared) < len(tools) else []
    timeout = max([60.0, *(t.timeout or 0.0 for t in tools), limits.timeout + 60.0])
    return ToolServer(shared, factories, timeout=timeout, version=_version())
