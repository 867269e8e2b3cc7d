from byte_platform.settings import ServiceSettings


class ExecutionsSettings(ServiceSettings):
    service_name: str = "executions"
    port: int = 8003
    database_url: str = "postgresql+asyncpg://executions:executions@127.0.0.1:54320/executions"
