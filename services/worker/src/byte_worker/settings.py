from byte_platform.settings import ServiceSettings

from byte_worker.messages import TASK_QUEUE


class WorkerSettings(ServiceSettings):
    service_name: str = "worker"
    port: int = 8004

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    # Every replica of one deployment polls the same queue; a test process on the shared Temporal
    # polls one of its own, so another build's worker never runs its cases.
    temporal_task_queue: str = TASK_QUEUE
    # how long a `state` query may take before the caller gives up (used by consumers' checks too)
    temporal_rpc_timeout_seconds: float = 5.0
    max_concurrent_activities: int = 50
    # While Temporal cannot be reached the worker retries, backing off to this interval.
    temporal_reconnect_max_seconds: float = 15.0

    # A signal for a case whose workflow has not started yet is retried (its `execution.created`
    # may still be on its way) for this long after the relayed event occurred; after that it is
    # dead-lettered, so a case that never starts cannot hold its partition for good.
    signal_start_patience_seconds: float = 300.0

    # Serve only these orgs' cases (comma-separated ids; empty: every org). A deployment that runs
    # beside another on the same topics (a canary, a test on a shared broker) takes its share only.
    org_ids: str = ""

    @property
    def served_orgs(self) -> frozenset[str]:
        return frozenset(org.strip() for org in self.org_ids.split(",") if org.strip())

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_use_tls: bool = False  # implicit TLS (port 465)
    smtp_start_tls: bool | None = None  # None: STARTTLS when the server offers it
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "BYTE <no-reply@byte.localhost>"
