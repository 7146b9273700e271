"""`MCPServer`: an MCP server as a source of Interleaf tools, through the `mcp` SDK.

The server is started (or connected to) the first time its tools are needed, and
talked to from an event loop on a thread of its own, so its tools can be called from
any thread or loop. `close()` ends the session; a stdio server is then shut down as the
specification says (stdin closed, then SIGTERM, then SIGKILL to its process group).

What can go wrong, and what becomes of it:

- the server cannot be started or connected to when its tools are first listed:
  `ConfigError`, with the end of what it wrote on stderr;
- a call fails, the server dies mid-call, the connection drops: the call's error is
  spliced (`ToolError`) and the run goes on; the next call starts the server again;
- a call runs past its time limit: the caller stops waiting, the request is cancelled
  (the SDK sends `notifications/cancelled`), and the timeout is spliced.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shlex
import tempfile
import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TextIO, cast

from agent.errors import ConfigError, ToolError
from agent.mcp.schema import make_mcp_tool
from agent.tools import Tool

try:
    from mcp import Client, StdioServerParameters
    from mcp.client._transport import Transport
    from mcp.client.stdio import stdio_client
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED, Implementation
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError("MCP needs the optional `mcp` package: pip install 'interleaf[mcp]'") from exc

STARTUP_TIMEOUT = 30.0
"""Seconds a server may take to start and answer the handshake and the tool listing."""
STDERR_TAIL = 600
"""Characters of a failed server's stderr shown in the error."""
MAX_PAGES = 100
"""Pages of `tools/list` read at most (a server that paginates forever cannot hang a run)."""


class MCPServer:
    """The tools of an MCP server, as ordinary Interleaf tools.

    `MCPServer.stdio("npx", ["-y", "@modelcontextprotocol/server-filesystem", "."])`
    runs a server as a child process; `MCPServer.http("http://127.0.0.1:8000/mcp")`
    connects to one over streamable HTTP. Give either to `Agent(tools=[...])`: the agent
    starts it when the tools are first needed and stops it in `Agent.close()`. Used on
    its own it is a context manager."""

    def __init__(self, target: StdioServerParameters | str, *, name: str, prefix: str = "",
                 timeout: float | None = None, startup_timeout: float = STARTUP_TIMEOUT,
                 examples: Mapping[str, Sequence[str]] | None = None, include: Sequence[str] | None = None) -> None:
        """`examples` teach the markup for tools by their name on the server (small
        models call a tool far more often when the prompt shows it used); `include`
        keeps only the tools it names (by their name on the server)."""
        self.name = name
        self.examples = dict(examples or {})
        self.include = None if include is None else set(include)
        self.prefix = prefix
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self._target = target
        self._lock = threading.Lock()
        self._session: _Session | None = None
        self._tools: list[Tool] | None = None
        self._closed = False

    @classmethod
    def stdio(cls, command: str, args: Sequence[str] = (), *, env: Mapping[str, str] | None = None,
              cwd: str | None = None, name: str | None = None, prefix: str = "", timeout: float | None = None,
              **options: Any) -> MCPServer:
        """A server run as `command args...`, spoken to over its stdin and stdout. `env`
        is added to the few variables the SDK passes on (PATH, HOME, ...). `prefix` goes
        before each tool's name; `timeout` bounds each call (default: the agent's);
        `options` (startup_timeout, examples, include) as for `MCPServer`."""
        params = StdioServerParameters(command=command, args=list(args), env=dict(env) if env else None, cwd=cwd)
        label = name or shlex.join([os.path.basename(command), *args])[:80]
        return cls(params, name=label, prefix=prefix, timeout=timeout, **options)

    @classmethod
    def http(cls, url: str, *, name: str | None = None, prefix: str = "", timeout: float | None = None,
             **options: Any) -> MCPServer:
        """A server at `url`, spoken to over streamable HTTP; `options` as for `MCPServer`."""
        return cls(url, name=name or url, prefix=prefix, timeout=timeout, **options)

    @classmethod
    def command_line(cls, text: str, **options: Any) -> MCPServer:
        """A stdio server from one command line, split as a POSIX shell splits it
        (`agent run --mcp "python server.py --root ."`); a URL connects over HTTP."""
        if text.strip().startswith(("http://", "https://")):
            return cls.http(text.strip(), **options)
        words = shlex.split(text)
        if not words:
            raise ConfigError("an MCP server's command line is empty")
        return cls.stdio(words[0], words[1:], **options)

    def tools(self) -> list[Tool]:
        """The server's tools, listed once (the server is started for it)."""
        with self._lock:
            if self._tools is None:
                listed = [t for t in self._live().run(_list_tools, self.startup_timeout)
                          if self.include is None or t["name"] in self.include]
                self._tools = [make_mcp_tool(t, self._call, prefix=self.prefix, timeout=self.timeout,
                                             examples=self.examples.get(str(t["name"]), ())) for t in listed]
            return list(self._tools)

    def close(self) -> None:
        """End the session and stop the server; its tools fail from now on."""
        with self._lock:
            self._closed = True
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def __enter__(self) -> MCPServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _live(self) -> _Session:
        """The session, started if there is none or the last one has ended."""
        if self._closed:
            raise ToolError(f"the MCP server {self.name} is closed")
        if self._session is not None and not self._session.alive():
            self._session.close()
            self._session = None
        if self._session is None:
            self._session = _Session(self._target, self.name, self.startup_timeout)
        return self._session

    async def _call(self, name: str, arguments: dict[str, Any]) -> Mapping[str, Any]:
        session = self._session
        if session is None or not session.alive():  # (re)starting blocks: off the caller's loop
            session = await asyncio.to_thread(self._live_for_call)
        return await session.call(name, arguments)

    def _live_for_call(self) -> _Session:
        try:
            with self._lock:
                return self._live()
        except ConfigError as exc:  # a restart that fails mid-run is the call's failure
            raise ToolError(str(exc)) from None


class _Session:
    """One connection to the server: an event loop on a daemon thread of its own holds
    the SDK's client, so the SDK's task groups enter and leave in one task."""

    def __init__(self, target: StdioServerParameters | str, name: str, startup_timeout: float) -> None:
        self.name = name
        self.target = target
        self.errlog = cast(TextIO, tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace"))
        self.loop = asyncio.new_event_loop()
        self.client: Client | None = None
        self.failed: BaseException | None = None
        self.broken = False
        """The connection closed under a call (the server exited): the next call starts anew."""
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.stop: asyncio.Event | None = None
        threading.Thread(target=self.loop.run_forever, name=f"interleaf-mcp {name}", daemon=True).start()
        self.main = asyncio.run_coroutine_threadsafe(self._hold(), self.loop)
        try:
            self.ready.result(timeout=startup_timeout)
        except concurrent.futures.TimeoutError:
            self.close()
            raise ConfigError(f"the MCP server {name} did not answer within {startup_timeout:g} s{self.stderr()}") from None
        except Exception as exc:
            self.close()
            raise ConfigError(f"the MCP server {name} could not be started: {_reason(exc)}{self.stderr()}") from None

    def _transport(self) -> AbstractAsyncContextManager[Any]:
        """The SDK's client for the target; it names itself to the server."""
        info = Implementation(name="interleaf", version=_version())
        if isinstance(self.target, str):
            return Client(self.target, client_info=info)
        return Client(cast(Transport, stdio_client(self.target, errlog=self.errlog)), client_info=info)

    async def _hold(self) -> None:
        self.stop = asyncio.Event()
        try:
            async with self._transport() as client:
                self.client = client
                self.ready.set_result(None)
                await self.stop.wait()
        except BaseException as exc:
            self.failed = exc
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise
        finally:
            self.client = None

    def alive(self) -> bool:
        return self.client is not None and not self.broken and self.failed is None and not self.main.done()

    def run(self, job: Any, timeout: float) -> Any:
        """`job(client)` on the session's loop, waited for from this thread."""
        client = self.client
        if client is None:
            raise ConfigError(f"the MCP server {self.name} is not running")
        future = asyncio.run_coroutine_threadsafe(job(client), self.loop)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ConfigError(f"the MCP server {self.name} did not list its tools within {timeout:g} s") from None
        except Exception as exc:
            raise ConfigError(f"the MCP server {self.name} failed to list its tools: {_reason(exc)}") from None

    async def call(self, name: str, arguments: dict[str, Any]) -> Mapping[str, Any]:
        """Call tool `name`, awaited from any loop; cancelling the wait cancels the request."""
        client = self.client
        if client is None:
            raise ToolError(f"the MCP server {self.name} is not running")
        future = asyncio.run_coroutine_threadsafe(_call_tool(client, name, arguments), self.loop)
        try:
            return await asyncio.wrap_future(future)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self.broken = True
                raise ToolError(f"the MCP server {self.name} closed the connection (it may have exited); "
                                "the next call connects anew") from None
            raise ToolError(f"the MCP server {self.name} answered with an error: {exc}") from None
        except (asyncio.CancelledError, ToolError):
            raise
        except Exception as exc:  # the transport failed: the next call connects anew
            self.broken = True
            raise ToolError(f"the MCP server {self.name} failed: {_reason(exc)}") from None

    def stderr(self) -> str:
        try:
            self.errlog.seek(0)
            text = self.errlog.read().strip()
        except (OSError, ValueError):
            return ""
        return f"; it wrote: {text[-STDERR_TAIL:]}" if text else ""

    def close(self) -> None:
        """End the client (the SDK stops a stdio server's process tree) and the loop."""
        if self.client is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        elif not self.main.done():  # still starting: cancelling stops the process too
            self.loop.call_soon_threadsafe(_cancel_all)
        try:
            self.main.result(timeout=15)
        except BaseException:  # its failure was reported where it happened
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.errlog.close()


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("interleaf")
    except metadata.PackageNotFoundError:
        return "unknown"


def _cancel_all() -> None:
    """Cancel every task of the running loop (a session's loop runs only its own); the
    task then unwinds the SDK's transport, which stops the process."""
    for task in asyncio.all_tasks():
        task.cancel()


async def _list_tools(client: Client) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        listed.extend(t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return listed


async def _call_tool(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    dumped: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _reason(exc: BaseException) -> str:
    """A one-line reason for `exc`; exception groups of the SDK's task groups are opened."""
    while getattr(exc, "exceptions", None):
        exc = getattr(exc, "exceptions")[0]
    return str(exc) or type(exc).__name__
