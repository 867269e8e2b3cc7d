"""The worker serves no HTTP routes of its own: `/healthz`, `/readyz` (Temporal and Kafka) and
`/metrics` come from `byte_platform.http.install_health` (main.py)."""
