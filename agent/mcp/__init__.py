"""MCP both ways, through the `mcp` package (`pip install 'interleaf[mcp]'`).

`MCPServer` makes an MCP server's tools ordinary Interleaf tools
(`Agent(tools=[MCPServer.stdio("command", ["arg"])])`); `agent.mcp.server` serves
Interleaf's tools to MCP clients (`agent mcp serve`). `import agent` never imports
this package.
"""

from __future__ import annotations

from agent.mcp.client import MCPServer

__all__ = ["MCPServer"]
