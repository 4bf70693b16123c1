"""An MCP server from the official `mcp` package (FastMCP, Streamable HTTP) for the MCP
authorization tests. Usage: oauth_server.py PORT MODE [AS_URL AUDIENCE]

MODE `resource-server`: the server is the OAuth resource server (pass-through behind the
gateway): the SDK's own bearer middleware answers 401 with `resource_metadata` naming this
server's own URL and serves its protected-resource metadata; tokens are verified here
(PyJWT against AS_URL/jwks, `iss` AS_URL, `aud` AUDIENCE — the gateway's public URL, the
resource clients ask tokens for).
MODE `plain`: no authorization of its own (behind a gateway that is the resource server).

Either way every `Authorization` header the server receives is kept, and the tool
`authorizations` returns them (so a test sees what reached the upstream)."""

import sys

import jwt
import uvicorn
from pydantic import AnyHttpUrl

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.fastmcp import FastMCP

port = int(sys.argv[1])
mode = sys.argv[2]
seen = []

kwargs = {}
if mode == "resource-server":
    as_url, audience = sys.argv[3], sys.argv[4]
    keys = jwt.PyJWKClient(as_url.rstrip("/") + "/jwks")

    class Verifier:
        async def verify_token(self, token):
            try:
                key = keys.get_signing_key_from_jwt(token)
                claims = jwt.decode(
                    token, key.key, algorithms=["RS256"], audience=audience, issuer=as_url
                )
            except jwt.PyJWTError:
                return None
            return AccessToken(
                token=token,
                client_id=claims.get("client_id", ""),
                scopes=claims.get("scope", "").split(),
                expires_at=claims.get("exp"),
                subject=claims.get("sub"),
            )

    kwargs = dict(
        token_verifier=Verifier(),
        auth=AuthSettings(
            issuer_url=AnyHttpUrl(as_url),
            resource_server_url=AnyHttpUrl(f"http://127.0.0.1:{port}/mcp"),
            required_scopes=["mcp:tools"],
            validate_token_resource=False,
        ),
    )

mcp = FastMCP("oauth-tools", host="127.0.0.1", port=port, log_level="WARNING", **kwargs)


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
def write_note(text: str) -> str:
    """Write a note (the gateway asks for scope notes:write first)."""
    return f"noted: {text}"


@mcp.tool()
def authorizations() -> list[str]:
    """Every distinct Authorization header this server received so far."""
    return sorted(set(seen))


app = mcp.streamable_http_app()


class Record:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            for k, v in scope["headers"]:
                if k == b"authorization":
                    seen.append(v.decode("latin-1"))
        await self.inner(scope, receive, send)


uvicorn.run(Record(app), host="127.0.0.1", port=port, log_level="warning")
