"""The official `mcp` (1.x) client with its OAuth support (`OAuthClientProvider`), driven
headless: it starts without a token, follows the 401 to the protected-resource metadata,
discovers the authorization server, registers, authorises (the redirect is followed here
in code: the test server consents at once) and exchanges the code, then calls tools. Prints
one JSON object with what it saw. Usage: oauth_client.py URL"""

import asyncio
import json
import sys
from urllib.parse import parse_qs, urlparse

import httpx

from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT = "http://127.0.0.1:1/callback"  # never contacted: the code is read off the redirect


class Memory(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def main(url: str) -> dict:
    authorizations = []
    pending = {}

    async def redirect_handler(authorization_url: str) -> None:
        q = parse_qs(urlparse(authorization_url).query)
        authorizations.append(
            {"scope": q.get("scope", [None])[0], "resource": q.get("resource", [None])[0],
             "endpoint": authorization_url.split("?")[0]}
        )
        async with httpx.AsyncClient() as http:
            r = await http.get(authorization_url, follow_redirects=False)
        location = parse_qs(urlparse(r.headers["location"]).query)
        pending["code"] = location["code"][0]
        pending["state"] = location.get("state", [None])[0]

    async def callback_handler() -> tuple[str, str | None]:
        return pending.pop("code"), pending.pop("state")

    storage = Memory()
    auth = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="sec0 e2e",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with streamablehttp_client(url, auth=auth) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            added = await session.call_tool("add", {"a": 2, "b": 40})
            first_token = storage.tokens.access_token
            note = await session.call_tool("write_note", {"text": "hello"})
            seen = await session.call_tool("authorizations", {})
            try:
                again = await session.call_tool("add", {"a": 1, "b": 1})
                add_again = {"raised": False, "text": again.content[0].text}
            except McpError as e:
                add_again = {"raised": True, "code": e.error.code, "data": e.error.data}
            saw = json.loads(seen.content[0].text) if seen.structuredContent is None \
                else seen.structuredContent.get("result")
            client_tokens = {first_token, storage.tokens.access_token}
            # The client's tokens are named, not printed.
            saw = sorted(
                "Bearer <client token>" if v.removeprefix("Bearer ") in client_tokens else v
                for v in saw
            )
            return {
                "tools": sorted(t.name for t in tools.tools),
                "add": added.content[0].text,
                "note": note.content[0].text,
                "note_is_error": note.isError,
                "add_again": add_again,
                "authorizations": authorizations,
                "upstream_saw": saw,
                "client_tokens": len(client_tokens),
                "final_scope": storage.tokens.scope,
            }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
