"""The official `mcp` (1.x) client connecting to the gateway over TLS with a client
certificate (mTLS). Usage: tls_client.py URL CA_PEM [CLIENT_PEM CLIENT_KEY_PEM].
Prints one JSON object: the server it reached, the tools it listed, a tool result, and the
refusal (if any) of `whoami`, which the test's rules deny for the certificate's identity."""

import asyncio
import json
import ssl
import sys

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError


def factory(ca: str, cert: str | None, key: str | None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)

    def make(headers=None, timeout=None, auth=None):
        return httpx.AsyncClient(
            headers=headers,
            timeout=timeout or httpx.Timeout(30.0),
            auth=auth,
            verify=ctx,
            follow_redirects=True,
        )

    return make


async def main(url: str, ca: str, cert: str | None, key: str | None) -> dict:
    async with streamablehttp_client(url, httpx_client_factory=factory(ca, cert, key)) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            added = await session.call_tool("add", {"a": 2, "b": 40})
            refusal = None
            try:
                await session.call_tool("shell_exec", {"command": "id"})
            except McpError as e:
                refusal = {"code": e.error.code, "reason": (e.error.data or {}).get("reason")}
            return {
                "server": init.serverInfo.name,
                "tools": sorted(t.name for t in tools.tools),
                "add": added.content[0].text,
                "refusal": refusal,
            }


if __name__ == "__main__":
    args = sys.argv[1:]
    cert, key = (args[2], args[3]) if len(args) >= 4 else (None, None)
    print(json.dumps(asyncio.run(main(args[0], args[1], cert, key))))
