"""One endpoint of a fleet: a FastMCP server from the official `mcp` package (1.x) that
says which port served a call. Usage: fleet_server.py PORT MODE  (MODE: stateless |
stateful; JSON answers either way)."""

import sys

from mcp.server.fastmcp import FastMCP

port = int(sys.argv[1])
stateless = sys.argv[2] == "stateless"

mcp = FastMCP(
    "fleet-endpoint",
    host="127.0.0.1",
    port=port,
    log_level="WARNING",
    stateless_http=stateless,
    json_response=True,
)


@mcp.tool()
def whoami() -> str:
    """The port of the endpoint that served this call."""
    return str(port)


mcp.run(transport="streamable-http")
