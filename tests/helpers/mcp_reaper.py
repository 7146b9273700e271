"""Run `agent mcp serve` under the SDK's stdio client as a child subreaper, so every
process the server starts (its sandboxes included) stays our descendant even when
orphaned. Prints JSON: the descendants while a sandbox runs, and those left once the
server has ended (`close`: the client closes stdin; `kill`: SIGKILL to the server).

    python mcp_reaper.py AGENT_SCRIPT close|kill
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import sys
import time

from mcp import Client, StdioServerParameters

PR_SET_CHILD_SUBREAPER = 36


def descendants() -> list[int]:
    """Live processes whose parent chain leads to this one."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = open(f"/proc/{name}/stat", "rb").read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if stat[0] not in (b"Z", b"X"):
            parents[int(name)] = int(stat[1])
    found: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return sorted(found)


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


async def main(agent: str, how: str) -> dict[str, object]:
    params = StdioServerParameters(command=agent, args=["mcp", "serve", "--tools", "Python"])
    during: list[int] = []
    try:
        async with Client(params) as client:
            result = await client.call_tool("Python", {"code": "import os; os.getpid()"})
            assert not result.is_error, result
            during = descendants()
            if how == "kill":
                server = [p for p in during if open(f"/proc/{p}/stat", "rb").read().split()[3] == str(os.getpid()).encode()]
                for pid in server:
                    os.kill(pid, signal.SIGKILL)
    except Exception as exc:  # the killed server's connection ends in an error
        if how != "kill":
            raise
        print(f"client: {type(exc).__name__}", file=sys.stderr)
    deadline = time.monotonic() + 15
    while descendants() and time.monotonic() < deadline:
        reap()
        time.sleep(0.1)
    left = descendants()
    states = {p: open(f"/proc/{p}/stat", "rb").read().rsplit(b")", 1)[1].split()[0].decode() for p in left}
    return {"during": len(during), "after": left, "states": states}


if __name__ == "__main__":
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
