"""What a call to an MCP tool over stdio costs beside calling the same function.

The server is tests/helpers/mcp_server.py (the SDK's `MCPServer`), its `add` tool; the
same `add` as a local Interleaf tool is the baseline. Each is called through the
agent's dispatcher exactly as the loop calls a tool, and the rounds alternate between
them so drift of the machine's load affects both alike. Also printed: the plain Python
call, the server's start (process, handshake, tool listing), and the SDK's own call on
its event loop, which splits the overhead into what the protocol costs and what handing
the call between the agent's threads costs.

    python benchmarks/mcp_overhead.py [--calls N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.dispatch import Dispatcher  # noqa: E402
from agent.markup import ParsedCall  # noqa: E402
from agent.mcp import MCPServer  # noqa: E402
from agent.tools import Toolbox, tool  # noqa: E402


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


def per_call_us(dispatcher: Dispatcher, calls: int) -> float:
    """Mean microseconds of one `add(2, 3)` through `dispatcher`."""
    call = ParsedCall.of("add", "2, 3")
    start = time.perf_counter()
    for _ in range(calls):
        outcome = dispatcher.run(call)
        assert outcome.result == "5", outcome
    return (time.perf_counter() - start) / calls * 1e6


def sdk_call_us(server: MCPServer, calls: int) -> float:
    """Mean microseconds of one `add` call made with the SDK's client on its own event
    loop (no thread hand-off): what the protocol, the SDK and the server cost."""
    async def job(client: Any) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await client.call_tool("add", {"a": 2, "b": 3})
        return (time.perf_counter() - start) / calls * 1e6

    session = server._session  # the benchmark looks inside: the client the tools use
    assert session is not None
    value: float = session.run(job, 600)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    server = MCPServer.stdio(sys.executable, [str(ROOT / "tests" / "helpers" / "mcp_server.py")], include=["add"])
    remote = Dispatcher(Toolbox([server]))
    remote.toolbox.names()  # starts the server and lists its tools
    started = time.perf_counter() - start
    local = Dispatcher(Toolbox([tool(add)]))
    direct_start = time.perf_counter()
    for _ in range(args.calls * args.rounds):
        add(2, 3)
    direct = (time.perf_counter() - direct_start) / (args.calls * args.rounds) * 1e6

    per_call_us(remote, 20), per_call_us(local, 20), sdk_call_us(server, 20)  # warm every path
    mcp_times, local_times, sdk_times = [], [], []
    for _ in range(args.rounds):
        mcp_times.append(per_call_us(remote, args.calls))
        local_times.append(per_call_us(local, args.calls))
        sdk_times.append(sdk_call_us(server, args.calls))
    server.close()
    remote.close()
    local.close()

    mcp_us, local_us, sdk_us = (statistics.median(t) for t in (mcp_times, local_times, sdk_times))
    print(f"server start (process, handshake, listing): {started * 1000:.0f} ms")
    print(f"plain Python call add(2, 3):               {direct:.2f} µs")
    print(f"local tool through the dispatcher:         {local_us:.0f} µs per call (median of {args.rounds} rounds)")
    print(f"MCP tool over stdio through the dispatcher: {mcp_us:.0f} µs per call (median of {args.rounds} rounds)")
    print(f"the SDK's own call on its event loop:       {sdk_us:.0f} µs per call (median of {args.rounds} rounds)")
    print(f"ratio MCP / local tool: {mcp_us / local_us:.1f}×; MCP overhead per call: {mcp_us - local_us:.0f} µs, "
          f"of which the hand-off between threads: {mcp_us - sdk_us:.0f} µs")
    print(f"ratio MCP / plain Python call: {mcp_us / direct:,.0f}×")


if __name__ == "__main__":
    main()
