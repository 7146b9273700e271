"""MCP both ways, through the `mcp` package (`pip install 'interleaf[mcp]'`).

`MCPServer` makes an MCP server's tools ordinary Interleaf tools
(`Agent(tools=[MCPServer.stdio("command", ["arg"])])`): a tool source, at the layer of
the tools. The other way, serving Interleaf's tools to MCP clients, is the command
`agent mcp serve` (`agent.cli.mcp_server`). `import agent` never imports this package.
"""

from __future__ import annotations

from agent.mcp.client import MCPServer

__all__ = ["MCPServer"]
