"""The one envelope every message travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """`data` holds the payload model of `type` (see `registry.EVENTS`), as a dict on the wire."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    type: str
    version: int = 1
    org_id: str
    subject: str = Field(description="id of the entity the event is about; also the Kafka key")
    occurred_at: datetime
    correlation_id: str | None = None
    causation_id: str | None = None
    actor: str = Field(description="user id, or system:<service>")
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Envelope:
        return cls.model_validate_json(raw)


def new_event(
    event_type: str,
    *,
    org_id: str,
    subject: str,
    actor: str,
    data: BaseModel,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    event_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Builds an envelope, checking that `data` is the payload model registered for `type`.

    `event_id` is given by callers that must be deterministic (a retried Temporal activity
    republishes the same id, so consumers can drop the duplicate).
    """
    from byte_contracts.registry import payload_model

    expected = payload_model(event_type)
    if not isinstance(data, expected):
        raise TypeError(f"{event_type} carries {expected.__name__}, not {type(data).__name__}")
    spec_version = getattr(expected, "event_version", 1)
    return Envelope(
        id=event_id or uuid.uuid4(),
        type=event_type,
        version=spec_version,
        org_id=org_id,
        subject=subject,
        occurred_at=occurred_at or datetime.now(UTC),
        correlation_id=correlation_id,
        causation_id=causation_id,
        actor=actor,
        data=data.model_dump(mode="json"),
    )
