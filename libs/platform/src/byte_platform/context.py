"""Who a command runs for, whatever the entrypoint: an HTTP request, a consumed event or a
Temporal activity.

Handlers take a `Context` and a command; they never see a request, a Kafka message or an
activity. The org they scope every query by comes from here: from the identity the gateway
signed (HTTP), or from the envelope of an event another service committed (consumers).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from byte_contracts import Envelope
from byte_contracts.errors import Forbidden

from byte_platform.identity import ADMIN_ROLES, Identity

SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Context:
    org_id: str
    actor: str
    """A user id, or `system:<service>` for work no person asked for."""
    roles: frozenset[str] = field(default_factory=frozenset)
    correlation_id: str | None = None
    """The request or flow this work belongs to; every event it emits carries it on."""
    causation_id: str | None = None
    """The event (or delivery) that caused this work, when one did."""

    @property
    def user_id(self) -> str:
        return self.actor

    @property
    def is_system(self) -> bool:
        return SYSTEM_ROLE in self.roles

    @property
    def is_admin(self) -> bool:
        return bool(self.roles & ADMIN_ROLES) or self.is_system

    @property
    def is_read_only(self) -> bool:
        """A guest, or anyone holding no role at all, may only read."""
        return not self.roles or self.roles == {"guest"}

    @classmethod
    def of_identity(cls, identity: Identity, correlation_id: str | None = None) -> Context:
        return cls(org_id=identity.org_id, actor=identity.user_id, roles=identity.roles, correlation_id=correlation_id)

    @classmethod
    def of_event(cls, envelope: Envelope, *, actor: str | None = None) -> Context:
        """Work a consumer does because of `envelope`, in the event's org and flow. The actor
        is the event's own (whoever asked for it) unless the consumer acts for itself."""
        return cls(
            org_id=envelope.org_id,
            actor=actor or envelope.actor,
            roles=frozenset({SYSTEM_ROLE}),
            correlation_id=envelope.correlation_id or str(envelope.id),
            causation_id=str(envelope.id),
        )

    @classmethod
    def system(
        cls, org_id: str, service: str, *, correlation_id: str | None = None, causation_id: str | None = None
    ) -> Context:
        return cls(
            org_id=org_id,
            actor=f"system:{service}",
            roles=frozenset({SYSTEM_ROLE}),
            correlation_id=correlation_id,
            causation_id=causation_id,
        )

    def in_org(self, org_id: str) -> Context:
        return replace(self, org_id=org_id)


def require_writer(ctx: Context) -> None:
    if ctx.is_read_only:
        raise Forbidden("read-only role: this action changes data")


def require_admin(ctx: Context) -> None:
    if not ctx.is_admin:
        raise Forbidden("only an org admin or owner may do this")
