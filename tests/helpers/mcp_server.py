"""An MCP server written with the SDK's server API, run by the tests as a child process:
`python mcp_server.py [MARKER]` (the marker finds the process from the host)."""

from __future__ import annotations

import base64
import os
import time

from mcp.server.mcpserver import Image, MCPServer

server = MCPServer("interleaf-test-server")

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def greet(name: str, excited: bool = False, times: int = 1) -> str:
    """Greet someone by name."""
    return " ".join([f"Hello, {name}{'!' if excited else '.'}"] * times)


@server.tool()
def mean(values: list[float], unit: str = "") -> str:
    """The mean of a list of numbers."""
    return f"{sum(values) / len(values)}{unit}"


@server.tool(name="read-file")
def read_file(path: str) -> str:
    """Read a text file."""
    with open(path, encoding="utf-8") as f:
        return f.read()


@server.tool()
def fail(message: str) -> str:
    """Always raises."""
    raise ValueError(message)


@server.tool()
def hang(seconds: float = 3600) -> str:
    """Sleeps, then answers."""
    time.sleep(seconds)
    return "woke up"


@server.tool()
def exit_now(code: int = 3) -> str:
    """Ends the server process in the middle of the call."""
    os._exit(code)


@server.tool()
def picture() -> Image:
    """A one-pixel PNG."""
    return Image(data=PNG, format="png")


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


if __name__ == "__main__":
    server.run()
