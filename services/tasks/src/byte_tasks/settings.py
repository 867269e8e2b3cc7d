from byte_platform.settings import ServiceSettings


class TasksSettings(ServiceSettings):
    service_name: str = "tasks"
    port: int = 8002
    database_url: str = "postgresql+asyncpg://tasks:tasks@127.0.0.1:54320/tasks"
