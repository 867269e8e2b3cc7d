"""BYTE's local runtime stack: PostgreSQL, Kafka, Temporal, an SMTP sink and the services.

For pytest fixtures::

    env, started = byte_stack.ensure_infra("test")
    ...
    if started:
        byte_stack.stop("test")
"""

from .procs import StackError
from .stack import ensure_infra, status, stop, up

__all__ = ["StackError", "ensure_infra", "status", "stop", "up"]
