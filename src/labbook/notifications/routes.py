"""HTTP routes for webhooks (admins register endpoints, read the delivery log, replay deliveries) and
for the optional messages each person chooses."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from labbook.core.access import ADMIN, AUTHENTICATED
from labbook.core.paging import MAX_OFFSET
from labbook.core.principal import Principal
from labbook.notifications import service
from labbook.notifications.schemas import (
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    MessageChoices,
    MessageChoicesUpdate,
)

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]


class WebhookController(Controller):
    path = "/api/v1/webhooks"
    tags = ("webhooks",)
    opt = {"access": ADMIN}  # noqa: RUF012 - Litestar reads it as the layer option

    @post("/", summary="Register a webhook endpoint (the signing secret is shown this once)")
    async def create_webhook(self, pool: Pool, me: Me, data: JSONBody[EndpointCreate]) -> EndpointCreated:
        endpoint, secret = await service.register_endpoint(
            pool, me, url=data.url, events=list(data.events), description=data.description
        )
        return msgspec.convert({**msgspec.structs.asdict(endpoint), "secret": secret}, EndpointCreated)

    @get("/", summary="Webhook endpoints (never their secrets)")
    async def list_webhooks(self, pool: Pool) -> list[EndpointOut]:
        return [
            msgspec.convert(msgspec.structs.asdict(e), EndpointOut)
            for e in await service.list_endpoints(pool)
        ]

    @get("/{endpoint_id:uuid}/deliveries", summary="The delivery log of one endpoint, newest first")
    async def list_webhook_deliveries(
        self,
        pool: Pool,
        endpoint_id: FromPath[UUID],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> list[DeliveryOut]:
        rows = await service.list_deliveries(pool, endpoint_id, limit=limit, offset=offset)
        return [msgspec.convert(msgspec.structs.asdict(r), DeliveryOut) for r in rows]

    @post("/deliveries/{delivery_id:uuid}/replay", status_code=HTTP_200_OK, summary="Send a delivery again")
    async def replay_webhook_delivery(self, pool: Pool, me: Me, delivery_id: FromPath[UUID]) -> DeliveryOut:
        delivery = await service.replay_delivery(pool, me, delivery_id)
        return msgspec.convert(msgspec.structs.asdict(delivery), DeliveryOut)


class MyMessagesController(Controller):
    path = "/api/v1/me/notifications"
    tags = ("accounts",)
    opt = {"access": AUTHENTICATED}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/", summary="Which optional e-mail messages I get")
    async def get_my_notifications(self, pool: Pool, me: Me) -> MessageChoices:
        return await service.get_message_choices(pool, me)

    @patch("/", summary="Turn optional e-mail messages on or off")
    async def update_my_notifications(
        self, pool: Pool, me: Me, data: JSONBody[MessageChoicesUpdate]
    ) -> MessageChoices:
        """For my address; messages about a booking's fate, invitations and resets cannot be turned off."""
        return await service.choose_messages(pool, me, data)


route_handlers: list[Any] = [WebhookController, MyMessagesController]
