"""Whether a kept-alive connection is still worth using, asked without a round trip.

A server closes idle connections (a restart, its keep-alive timeout, a terminated backend) and
the close can sit unread in the socket while a pool hands the connection out: written to, it
fails a request that a fresh connection would have served. Pools ask `closed_by_peer` just
before they hand a connection out (the gateway's upstream pool, every service's database pool).
"""

from __future__ import annotations

import asyncio
import socket


def closed_by_peer(transport: asyncio.BaseTransport | None) -> bool:
    """True when the peer already closed this idle connection (its FIN, or a reset, or bytes
    nobody asked for, are waiting on the socket) though the event loop has not noticed yet."""
    if transport is None or transport.is_closing():
        return True
    raw = transport.get_extra_info("socket")
    if raw is None:
        return False  # not a socket (a test double): nothing to ask
    # asyncio's socket wrapper has no recv: peek through a socket object over the same descriptor
    peek = socket.socket(raw.family, raw.type, raw.proto, fileno=raw.fileno())
    try:
        peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False  # nothing to read: open and idle
    except OSError:
        return True
    finally:
        peek.detach()
    return True  # b"" (the peer's FIN) or unsolicited bytes: either way not reusable
