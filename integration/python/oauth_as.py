"""An OAuth 2.1 authorization server for the MCP authorization tests, built on the official
`mcp` package's authorization-server handlers (metadata, dynamic client registration,
/authorize with PKCE, /token), issuing RS256 JWT access tokens (PyJWT) whose `aud` is the
RFC 8707 `resource` the client asked for. The user always consents (headless): /authorize
redirects straight back with a code. Usage: oauth_as.py PORT [CC_SECRET]

Test-only extras: `GET /jwks` (the signing key), `GET /mint?aud=…&scope=…` (a token for any
audience, as a token obtained for another resource would be), `GET /log` (the
authorizations granted: scope and resource of each), and with CC_SECRET a confidential
client `sec0-gateway` that gets tokens by the client-credentials grant (RFC 6749 §4.4,
client_secret_basic or client_secret_post, RFC 8707 `resource` as audience) at
`POST /cc-token` — the SDK's token handler has no such grant — with `GET /cc-log` counting
the tokens issued."""

import base64
import secrets
import sys
import time
from urllib.parse import unquote_plus

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.routes import create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.shared.auth import OAuthToken

SCOPES = ["mcp:tools", "notes:write"]
port = int(sys.argv[1])
issuer = AnyHttpUrl(f"http://127.0.0.1:{port}")
ISSUER = str(issuer)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "test-key-1"
granted = []
CC_SECRET = sys.argv[2] if len(sys.argv) > 2 else None
cc_issued = []


def sign(sub: str, aud: str, scopes: list[str], client_id: str) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": sub,
        "aud": aud,
        "scope": " ".join(scopes),
        "client_id": client_id,
        "iat": now,
        "exp": now + 600,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": KID})


class Provider:
    def __init__(self):
        self.clients = {}
        self.codes = {}

    async def get_client(self, client_id):
        return self.clients.get(client_id)

    async def register_client(self, client_info):
        # The server decides what a client may ask for: every scope it knows, so a client
        # registered for one scope can step up to another later.
        client_info.scope = " ".join(SCOPES)
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client, params: AuthorizationParams) -> str:
        code = secrets.token_urlsafe(24)
        scopes = params.scopes or []
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=scopes,
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
            subject="alice",
        )
        granted.append({"scope": " ".join(scopes), "resource": params.resource})
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client, code):
        c = self.codes.get(code)
        return c if c and c.client_id == client.client_id else None

    async def exchange_authorization_code(self, client, code):
        self.codes.pop(code.code, None)
        token = sign(code.subject or "alice", code.resource or "", code.scopes, client.client_id)
        return OAuthToken(
            access_token=token,
            token_type="Bearer",
            expires_in=600,
            scope=" ".join(code.scopes),
        )

    async def load_refresh_token(self, client, refresh_token):
        return None

    async def exchange_refresh_token(self, client, refresh_token, scopes):
        raise NotImplementedError

    async def load_access_token(self, token):
        return None

    async def revoke_token(self, token):
        return None


async def jwks(request):
    key = RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
    key.update({"kid": KID, "use": "sig", "alg": "RS256"})
    return JSONResponse({"keys": [key]})


async def mint(request):
    aud = request.query_params["aud"]
    scopes = request.query_params.get("scope", "mcp:tools").split()
    return JSONResponse({"access_token": sign("mallory", aud, scopes, "other-client")})


async def log(request):
    return JSONResponse(granted)


def cc_error(code, status=400):
    return JSONResponse({"error": code}, status_code=status)


async def cc_token(request):
    if CC_SECRET is None:
        return cc_error("unsupported_grant_type")
    form = await request.form()
    client_id, secret = form.get("client_id"), form.get("client_secret")
    auth = request.headers.get("authorization", "")
    if auth.startswith("Basic "):
        raw = base64.b64decode(auth[6:]).decode()
        cid, _, sec = raw.partition(":")
        client_id, secret = unquote_plus(cid), unquote_plus(sec)
    if form.get("grant_type") != "client_credentials":
        return cc_error("unsupported_grant_type")
    if client_id != "sec0-gateway" or not secrets.compare_digest(secret or "", CC_SECRET):
        return cc_error("invalid_client", 401)
    scopes = (form.get("scope") or "mcp:tools").split()
    if any(s not in SCOPES for s in scopes):
        return cc_error("invalid_scope")
    resource = form.get("resource") or ""
    cc_issued.append({"scope": " ".join(scopes), "resource": resource})
    return JSONResponse(
        {
            "access_token": sign("sec0-gateway", resource, scopes, "sec0-gateway"),
            "token_type": "Bearer",
            "expires_in": 600,
        }
    )


async def cc_log(request):
    return JSONResponse(cc_issued)


routes = create_auth_routes(
    Provider(),
    issuer,
    client_registration_options=ClientRegistrationOptions(
        enabled=True, valid_scopes=SCOPES, default_scopes=["mcp:tools"]
    ),
)
routes += [Route("/jwks", jwks), Route("/mint", mint), Route("/log", log)]
routes += [Route("/cc-token", cc_token, methods=["POST"]), Route("/cc-log", cc_log)]
uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning")
