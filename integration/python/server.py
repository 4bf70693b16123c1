"""A FastMCP server from the official `mcp` package (1.x), used as an upstream nobody here
wrote. Usage: server.py PORT TRANSPORT  (TRANSPORT: streamable-http | sse)."""

import asyncio
import sys

from mcp.server.fastmcp import Context, FastMCP

port = int(sys.argv[1])
transport = sys.argv[2]

mcp = FastMCP("e2e-tools", host="127.0.0.1", port=port, log_level="WARNING")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
def shell_exec(command: str) -> str:
    """Pretend to run a shell command (the gateway's rules hide and deny it)."""
    return f"would run: {command}"


@mcp.tool()
def contact() -> str:
    """Who is on call (a result carrying personal data, for the guard)."""
    return "on call: dana.whitfield@northwind-freight.io, +1 415 555 2671"


@mcp.tool()
async def count_slowly(n: int, ctx: Context) -> str:
    """Count to n, reporting progress on the way (an SSE stream with notifications)."""
    for i in range(n):
        await ctx.report_progress(i + 1, n)
        await asyncio.sleep(0.05)
    return f"counted to {n}"


mcp.run(transport=transport)
