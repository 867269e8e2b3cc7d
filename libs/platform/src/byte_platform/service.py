"""How every service process starts: logging, then uvicorn with a bounded graceful shutdown."""

from __future__ import annotations

import uvicorn

from byte_platform.logging import configure_logging
from byte_platform.settings import ServiceSettings


def serve(app_path: str, settings: ServiceSettings) -> None:
    configure_logging(
        settings.service_name,
        settings.log_level,
        repeat_limit=settings.log_repeat_limit,
        repeat_interval=settings.log_repeat_interval_seconds,
    )
    # On SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to the grace
    # period), then runs the lifespan shutdown, which flushes the outbox relay.
    uvicorn.run(
        app_path,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # named, not "auto": a missing one would otherwise fall back to the pure-Python loop
        # and parser without a word, and every request would pay for it
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        proxy_headers=False,
    )
