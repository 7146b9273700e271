"""Interleaf tools served to MCP clients, with the `mcp` SDK's low-level server.

Tools given as `shared` serve every client; tools made by a `per_connection` factory
are made anew for each client connection and closed when it ends (the Python
sandbox: each client gets an interpreter of its own whose state lasts as long as its
connection). A connection is the process's stdio, or one streamable-HTTP session
(`Mcp-Session-Id`); it ends when stdin closes, when the client deletes its session,
or when it has been idle for `idle_timeout` seconds.

Over HTTP the server advertises the handshake-era protocol versions in
`server/discover`, so a client that probes for the stateless 2026 era falls back to
`initialize` and gets a session, which is what keeps an interpreter's state between
calls. An HTTP request without a session (a client pinned to the stateless era) is a
connection of its own. Over stdio the process is the connection, in either era.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.dispatch import Dispatcher
from agent.errors import UnknownTool
from agent.markup import ParsedCall
from agent.tools import Tool, Toolbox

MAX_RESULT_CHARS = 20_000
"""Characters of a result sent to the client (a model reads it, as after an inline call)."""
IDLE_TIMEOUT = 1800.0
"""Seconds an HTTP session may stay idle before its tools (its interpreter) are closed."""
STDIO = "stdio"


@dataclass
class _Connection:
    tools: list[Tool]
    dispatcher: Dispatcher
    used: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        for tool in self.tools:
            if tool.reset is not None:
                tool.reset()
        self.dispatcher.close()


class ToolServer:
    """An MCP server of Interleaf tools; `server` is the SDK's low-level `Server`."""

    def __init__(self, shared: Sequence[Tool] = (), per_connection: Sequence[Callable[[], Tool]] = (), *,
                 timeout: float, name: str = "interleaf", version: str = "",
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.shared = list(shared)
        self.factories = list(per_connection)
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        prototypes = [make() for make in self.factories]  # for the listing; nothing is started
        self.listing = [_listed(t) for t in [*self.shared, *prototypes]]
        Toolbox([*self.shared, *prototypes])  # two tools of one name are refused now
        for tool in prototypes:
            if tool.reset is not None:
                tool.reset()
        self._connections: dict[str, _Connection] = {}
        self._lock = threading.Lock()
        self.server: Server[Any] = Server(name, version=version, on_list_tools=self._list_tools,
                                          on_call_tool=self._call_tool)

    async def _discover(self, ctx: ServerRequestContext[Any], params: types.RequestParams | None) -> types.DiscoverResult:
        return types.DiscoverResult(supported_versions=[LATEST_HANDSHAKE_VERSION],
                                    capabilities=self.server.get_capabilities(protocol_version=ctx.protocol_version))

    async def _list_tools(self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list(self.listing))

    async def _call_tool(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        key = _session_key(ctx)
        connection = self.connection(key or "")
        try:
            return await anyio.to_thread.run_sync(self._run, connection, params.name, params.arguments or {})
        finally:
            if key is None:  # a request without a session is a connection of its own
                connection.close()
            self.reap()

    def _run(self, connection: _Connection, name: str, arguments: Mapping[str, Any]) -> types.CallToolResult:
        connection.used = time.monotonic()
        try:
            tool = connection.dispatcher.toolbox[name]
        except UnknownTool as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=str(exc)) from None
        try:
            tool.parameters.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors())
            return _text(f"bad arguments for {tool.name}: {problems}", error=True)
        call = ParsedCall(tool.name, json.dumps(dict(arguments)), args=(), kwargs=dict(arguments))
        outcome = connection.dispatcher.run(call)
        connection.used = time.monotonic()
        if outcome.error is not None:
            return _text(str(outcome.error), error=True)
        return _text(outcome.result or "")

    def connection(self, key: str) -> _Connection:
        """The tools of connection `key`, made at its first call ("" makes a new one)."""
        with self._lock:
            found = self._connections.get(key) if key else None
            if found is None:
                tools = [*self.shared, *(make() for make in self.factories)]
                found = _Connection(tools, Dispatcher(Toolbox(tools), timeout=self.timeout,
                                                      max_result_chars=MAX_RESULT_CHARS))
                if key:
                    self._connections[key] = found
            return found

    def end(self, key: str) -> None:
        """Close connection `key`'s own tools (its interpreter)."""
        with self._lock:
            found = self._connections.pop(key, None)
        if found is not None:
            found.close()

    def reap(self) -> None:
        """Close the connections idle for longer than `idle_timeout`."""
        now = time.monotonic()
        with self._lock:
            idle = [k for k, c in self._connections.items() if k != STDIO and now - c.used > self.idle_timeout]
        for key in idle:
            self.end(key)

    def close(self) -> None:
        with self._lock:
            keys = list(self._connections)
        for key in keys:
            self.end(key)

    async def serve_stdio(self) -> None:
        """Serve one client on this process's stdin and stdout until stdin closes."""
        from mcp.server.stdio import stdio_server

        try:
            async with stdio_server() as (read, write):
                await self.server.run(read, write, self.server.create_initialization_options())
        finally:
            self.close()

    def http_app(self, *, host: str) -> ASGIApp:
        """The streamable-HTTP app at `/mcp`, with DNS-rebinding protection for a loopback
        `host`; a session the client deletes closes its tools."""
        self.server.add_request_handler("server/discover", types.RequestParams, self._discover)
        app = self.server.streamable_http_app(host=host, session_idle_timeout=self.idle_timeout)
        return _EndSessions(app, self)


class _EndSessions:
    """ASGI wrapper: after a `DELETE` of a session, its tools are closed."""

    def __init__(self, app: ASGIApp, tools: ToolServer) -> None:
        self.app = app
        self.tools = tools

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope.get("method") == "DELETE":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            session = headers.get("mcp-session-id")
            if session:
                await anyio.to_thread.run_sync(self.tools.end, session)


def _session_key(ctx: ServerRequestContext[Any]) -> str | None:
    """The connection a request belongs to: its HTTP session, else stdio's only one;
    None for an HTTP request without a session."""
    request = ctx.request
    headers = getattr(request, "headers", None)
    if headers is None:
        return STDIO
    session = headers.get("mcp-session-id")
    return str(session) if session else None


def _listed(tool: Tool) -> types.Tool:
    return types.Tool(name=tool.name, description=tool.description, input_schema=tool.json_schema())


def _text(text: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=error)
