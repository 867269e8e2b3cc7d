"""BYTE's shared vocabulary. Pydantic models and constants only: no I/O, no framework."""

from byte_contracts.envelope import Envelope, new_event
from byte_contracts.registry import EVENTS, EventSpec, payload_model, topic_for

__all__ = ["EVENTS", "Envelope", "EventSpec", "new_event", "payload_model", "topic_for"]
