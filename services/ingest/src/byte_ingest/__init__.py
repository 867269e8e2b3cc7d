"""The ingest service: Formstack webhooks in, verified, deduplicated, mapped, handed on."""
