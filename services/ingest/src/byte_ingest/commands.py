"""What may be asked of the ingest service, whoever asks: an HTTP route or a consumer builds one
of these and hands it, with a `Context`, to a handler."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from byte_ingest.schemas import FieldMappingIn, FormCreate, FormUpdate


@dataclass(frozen=True)
class CreateForm:
    form: FormCreate


@dataclass(frozen=True)
class UpdateForm:
    config_id: uuid.UUID
    changes: FormUpdate


@dataclass(frozen=True)
class RotateKey:
    """A new HMAC key; the previous one still verifies for `grace_seconds`."""

    config_id: uuid.UUID
    hmac_key: str
    grace_seconds: int | None = None


@dataclass(frozen=True)
class TryMapping:
    """What `field_mappings` (or the saved ones) make of a stored submission; nothing changes."""

    config_id: uuid.UUID
    submission: uuid.UUID
    field_mappings: list[FieldMappingIn] | None = None


@dataclass(frozen=True)
class Reprocess:
    """Map a failed submission again with its form's current mappings."""

    submission: uuid.UUID


@dataclass(frozen=True)
class ReceiveDelivery:
    """One POST to a form's webhook URL, as it came: nothing in it is trusted yet."""

    token: str
    body: bytes
    content_type: str | None
    headers: dict[str, str]
    """Lower-cased names."""
    max_bytes: int = 1_048_576
    """The largest body accepted; a larger one is verified, then refused (and kept truncated)."""

    @property
    def too_large(self) -> bool:
        return len(self.body) > self.max_bytes


@dataclass(frozen=True)
class RecordCaseOpened:
    """executions opened the case for a submission."""

    submission_id: str
    execution_id: uuid.UUID
    contact_id: uuid.UUID
