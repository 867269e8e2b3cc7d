"""What the worker may be asked to do to a case's workflow, by the events it consumes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from byte_worker.messages import CaseInput


@dataclass(frozen=True)
class StartCase:
    """`execution.created`: start the case's workflow, once."""

    case: CaseInput


@dataclass(frozen=True)
class SignalCase:
    """Relay an event to the case's workflow as the signal `name` carrying `payload`.
    `occurred_at` is the relayed event's: how long a not-yet-started case is waited for counts
    from it."""

    execution_id: uuid.UUID
    name: str
    payload: BaseModel
    occurred_at: datetime
