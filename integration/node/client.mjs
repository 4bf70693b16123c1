// The official TypeScript MCP SDK client (@modelcontextprotocol/sdk, v1 line) driving a
// session through the gateway. Usage: node client.mjs URL
// It calls add(13, 1), which the test rules deny, records the error the SDK raised, then
// goes on: lists tools, calls add(2, 40). Prints one JSON object.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.argv[2]);
const client = new Client({ name: "sec0-e2e-ts", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(url));

let refusal = { raised: false };
try {
  // A soft denial (`routes[].soft_deny`) arrives as a tool result with isError.
  const r = await client.callTool({ name: "add", arguments: { a: 13, b: 1 } });
  refusal = { raised: false, is_error: r.isError ?? false, text: r.content?.[0]?.text ?? null, meta: r._meta ?? null };
} catch (e) {
  refusal = { raised: true, code: e.code, message: e.message, data: e.data ?? null };
}
const tools = await client.listTools();
const added = await client.callTool({ name: "add", arguments: { a: 2, b: 40 } });
await client.close();
console.log(
  JSON.stringify({
    refusal,
    tools: tools.tools.map((t) => t.name).sort(),
    add: added.content[0].text,
    add_is_error: added.isError ?? false,
  }),
);
