// The official TypeScript MCP SDK client (@modelcontextprotocol/sdk, v1 line) with its OAuth
// support, driven headless: an OAuthClientProvider whose redirectToAuthorization follows the
// authorization URL in code (the test authorization server consents at once) and keeps the
// code; the app then calls transport.finishAuth(code) and goes on, as a browser redirect
// would make it. Usage: node oauth_client.mjs URL. Prints one JSON object.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const url = new URL(process.argv[2]);
const authorizations = [];
let pendingCode = null;

class HeadlessProvider {
  constructor() {
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
  }
  get redirectUrl() {
    return "http://127.0.0.1:1/callback";
  }
  get clientMetadata() {
    return {
      client_name: "sec0 e2e ts",
      redirect_uris: ["http://127.0.0.1:1/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this._client;
  }
  saveClientInformation(info) {
    this._client = info;
  }
  tokens() {
    return this._tokens;
  }
  saveTokens(tokens) {
    this._tokens = tokens;
  }
  saveCodeVerifier(v) {
    this._verifier = v;
  }
  codeVerifier() {
    return this._verifier;
  }
  async redirectToAuthorization(authorizationUrl) {
    authorizations.push({
      scope: authorizationUrl.searchParams.get("scope"),
      resource: authorizationUrl.searchParams.get("resource"),
    });
    const r = await fetch(authorizationUrl, { redirect: "manual" });
    pendingCode = new URL(r.headers.get("location")).searchParams.get("code");
  }
}

const provider = new HeadlessProvider();

// Run `f` on the transport; when the SDK stops for a login (UnauthorizedError), finish it
// with the code the "browser" brought back, and run `f` again.
async function withLogin(transport, f) {
  try {
    return await f();
  } catch (e) {
    if (!(e instanceof UnauthorizedError) || pendingCode === null) throw e;
    const code = pendingCode;
    pendingCode = null;
    await transport.finishAuth(code);
    return await f();
  }
}

let transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
let client = new Client({ name: "sec0-e2e-ts", version: "1.0.0" });
try {
  await client.connect(transport);
} catch (e) {
  if (!(e instanceof UnauthorizedError) || pendingCode === null) throw e;
  await transport.finishAuth(pendingCode);
  pendingCode = null;
  transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  client = new Client({ name: "sec0-e2e-ts", version: "1.0.0" });
  await client.connect(transport);
}
const firstToken = provider.tokens().access_token;
const tools = await client.listTools();
const added = await client.callTool({ name: "add", arguments: { a: 2, b: 40 } });
const note = await withLogin(transport, () =>
  client.callTool({ name: "write_note", arguments: { text: "hello" } }),
);
const seen = await client.callTool({ name: "authorizations", arguments: {} });
const clientTokens = new Set([firstToken, provider.tokens().access_token]);
let saw = seen.structuredContent?.result ?? JSON.parse(seen.content[0].text);
saw = saw
  .map((v) => (clientTokens.has(v.replace(/^Bearer /, "")) ? "Bearer <client token>" : v))
  .sort();
await client.close();
console.log(
  JSON.stringify({
    tools: tools.tools.map((t) => t.name).sort(),
    add: added.content[0].text,
    note: note.content[0].text,
    authorizations,
    upstream_saw: saw,
    client_tokens: clientTokens.size,
  }),
);
