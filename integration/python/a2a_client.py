"""Drive an A2A agent with the official A2A Python SDK client (a2a-sdk 1.x) and print one
JSON object with what it saw. Usage: a2a_client.py BASE_URL VERSION STREAMING TEXT...

VERSION (1.0 or 0.3) keeps only the card's JSON-RPC interface of that protocol version, so
the SDK speaks that generation's method names; STREAMING is "stream" or "send". Each TEXT is
sent as one message; a refused message is reported with the error the SDK raised.
"""

import asyncio
import json
import sys
import uuid

import httpx

from a2a.client import A2ACardResolver, ClientConfig, create_client
from a2a.types import AgentCard, Message, Part, Role, SendMessageRequest


def texts_of(event) -> list[str]:
    out = []
    if event.HasField("message"):
        out += [p.text for p in event.message.parts if p.text]
    if event.HasField("task"):
        for a in event.task.artifacts:
            out += [p.text for p in a.parts if p.text]
    if event.HasField("artifact_update"):
        out += [p.text for p in event.artifact_update.artifact.parts if p.text]
    return out


async def main() -> None:
    base, version, mode, texts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    async with httpx.AsyncClient() as http:
        card = await A2ACardResolver(http, base).get_agent_card()
    keep = [i for i in card.supported_interfaces if i.protocol_version == version]
    trimmed = AgentCard()
    trimmed.CopyFrom(card)
    del trimmed.supported_interfaces[:]
    trimmed.supported_interfaces.extend(keep)
    client = await create_client(trimmed, client_config=ClientConfig(streaming=(mode == "stream")))
    results = []
    for text in texts:
        msg = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[Part(text=text)])
        seen: list[str] = []
        try:
            async for event in client.send_message(SendMessageRequest(message=msg)):
                seen += texts_of(event)
            results.append({"text": text, "replies": seen})
        except Exception as e:  # the SDK's error for a refused call
            results.append({"text": text, "error": str(e), "error_type": type(e).__name__})
    await client.close()
    print(json.dumps({"agent": card.name, "results": results}))


asyncio.run(main())
