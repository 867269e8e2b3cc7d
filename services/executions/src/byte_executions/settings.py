from byte_platform.settings import ServiceSettings


class ExecutionsSettings(ServiceSettings):
    service_name: str = "executions"
    port: int = 8003
    database_url: str = "postgresql+asyncpg://executions:executions@127.0.0.1:54320/executions"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    # `GET /v1/executions/{id}` asks the case's workflow where it stands for at most this long,
    # then answers from what the workflow last reported (the projection)
    temporal_query_timeout_seconds: float = 2.0
