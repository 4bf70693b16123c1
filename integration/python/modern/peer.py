"""MCP peers from the official Python SDK 2.x, speaking the stateless 2026-07-28 era.

  peer.py server PORT          an MCPServer with tools add and shell_exec (Streamable HTTP)
  peer.py client URL MODE      a Client (MODE: 2026-07-28 | auto) that lists tools, calls
                               add(2, 40), add(13, 1) (refused by the gateway's rules) and
                               add(1, 1), and prints one JSON object with what it saw
"""

import asyncio
import json
import sys

from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError


def serve(port: int) -> None:
    server = MCPServer("e2e-modern")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def shell_exec(command: str) -> str:
        """Pretend to run a shell command (the gateway's rules hide and deny it)."""
        return f"would run: {command}"

    server.run(transport="streamable-http", host="127.0.0.1", port=port)


def text_of(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def drive(url: str, mode: str) -> None:
    out: dict = {}
    async with Client(url, mode=mode) as client:
        out["protocol_version"] = client.protocol_version
        tools = await client.list_tools()
        out["tools"] = sorted(t.name for t in tools.tools)
        out["add"] = text_of(await client.call_tool("add", {"a": 2, "b": 40}))
        try:
            r = await client.call_tool("add", {"a": 13, "b": 1})
            out["refusal"] = {"raised": False, "is_error": r.is_error, "text": text_of(r)}
        except MCPError as e:
            out["refusal"] = {
                "raised": True,
                "code": e.error.code,
                "message": e.error.message,
                "data": e.error.data,
            }
        out["after"] = text_of(await client.call_tool("add", {"a": 1, "b": 1}))
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    else:
        asyncio.run(drive(sys.argv[2], sys.argv[3]))
