"""The official `mcp` (1.x) client driving a session against URL, printing one JSON object
with what it saw. Usage: client.py URL TRANSPORT [denied]  (TRANSPORT: streamable-http | sse).
With `denied`, it first calls add(13, 1), which the gateway's test rules deny, and records
the error the SDK raised for that call before going on with the session."""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.shared.exceptions import McpError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamablehttp_client


async def main(url: str, transport: str, denied: bool) -> dict:
    ctx = streamablehttp_client(url) if transport == "streamable-http" else sse_client(url)
    async with ctx as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            refusal = None
            if denied:
                try:
                    r = await session.call_tool("add", {"a": 13, "b": 1})
                    # A soft denial (`routes[].soft_deny`) arrives as a tool result.
                    refusal = {
                        "raised": False,
                        "is_error": r.isError,
                        "text": r.content[0].text if r.content else None,
                        "meta": r.meta,
                    }
                except McpError as e:
                    refusal = {
                        "raised": True,
                        "code": e.error.code,
                        "message": e.error.message,
                        "data": e.error.data,
                    }
            tools = await session.list_tools()
            added = await session.call_tool("add", {"a": 2, "b": 40})
            progress = []

            async def on_progress(value, total, message):
                progress.append(value)

            counted = await session.call_tool(
                "count_slowly", {"n": 3}, progress_callback=on_progress
            )
            contact = await session.call_tool("contact", {})
            await session.send_ping()
            session_id = streams[2]() if len(streams) > 2 else None
            return {
                "server": init.serverInfo.name,
                "protocol": init.protocolVersion,
                "tools": sorted(t.name for t in tools.tools),
                "add": added.content[0].text,
                "add_is_error": added.isError,
                "count": counted.content[0].text,
                "progress": progress,
                "session_id": session_id,
                "refusal": refusal,
                "contact": contact.content[0].text,
            }


denied_mode = len(sys.argv) > 3 and sys.argv[3] == "denied"
print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], denied_mode))), flush=True)
