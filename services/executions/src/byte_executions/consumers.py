"""Kafka subscribers: parse the event into a command, call the handler.

- `identity.organization.created|updated` (the gateway): the org's default definition, once.

They go through `byte_platform.consumers.subscribe` (offsets committed after success, poison and
refusals dead-lettered, transient failures retried).
"""

from __future__ import annotations

from byte_contracts import Envelope, topics
from byte_platform.consumers import subscribe
from byte_platform.context import Context
from faststream.kafka import KafkaBroker

from byte_executions.commands import ProvisionOrg
from byte_executions.handlers import Provisioning
from byte_executions.handlers.definitions import SERVICE

# An update names an org too: one created before this service ran is provisioned then.
ORGANIZATION_TYPES = frozenset({"identity.organization.created", "identity.organization.updated"})


def register(broker: KafkaBroker, provisioning: Provisioning, group: str) -> None:
    async def on_organization(envelope: Envelope) -> None:
        await provisioning.provision(Context.of_event(envelope, actor=f"system:{SERVICE}"), ProvisionOrg())

    subscribe(broker, topics.IDENTITY, group_id=f"{group}.identity", handler=on_organization, types=ORGANIZATION_TYPES)
