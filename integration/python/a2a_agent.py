"""A2A agent built with the official A2A Python SDK (a2a-sdk 1.x), JSON-RPC binding only,
serving protocol v1.0 and (compat) v0.3 on one endpoint. It answers every message with
"echo: <text>". Usage: a2a_agent.py PORT PUBLIC_URL

PUBLIC_URL is where clients reach the JSON-RPC endpoint (the gateway), so the agent card
points clients through the gateway.
"""

import sys
import uuid

import uvicorn
from starlette.applications import Starlette

from a2a.server.agent_execution.agent_executor import AgentExecutor
from a2a.server.agent_execution.context import RequestContext
from a2a.server.events.event_queue import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks.inmemory_task_store import InMemoryTaskStore
from a2a.server.tasks.task_updater import TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Message,
    Part,
    Role,
)


class EchoExecutor(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        # An immediate answer: one Message.
        await event_queue.enqueue_event(
            Message(
                role=Role.ROLE_AGENT,
                message_id=str(uuid.uuid4()),
                context_id=context.context_id or "",
                parts=[Part(text="echo: " + context.get_user_input())],
            )
        )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = TaskUpdater(
            event_queue=event_queue,
            task_id=context.task_id or "",
            context_id=context.context_id or "",
        )
        await updater.cancel()


def main() -> None:
    port, public = int(sys.argv[1]), sys.argv[2]
    card = AgentCard(
        name="payments",
        description="test agent behind sec0-gateway",
        version="1.0.0",
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=["text"],
        default_output_modes=["text"],
        skills=[AgentSkill(id="echo", name="echo", description="echoes", tags=["test"])],
        supported_interfaces=[
            AgentInterface(protocol_binding="JSONRPC", protocol_version="1.0", url=public),
            AgentInterface(protocol_binding="JSONRPC", protocol_version="0.3", url=public),
        ],
    )
    handler = DefaultRequestHandler(
        agent_executor=EchoExecutor(), task_store=InMemoryTaskStore(), agent_card=card
    )
    routes = create_jsonrpc_routes(
        request_handler=handler, rpc_url="/a2a/jsonrpc", enable_v0_3_compat=True
    )
    routes += create_agent_card_routes(agent_card=card)
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
