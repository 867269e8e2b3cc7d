from byte_platform.settings import ServiceSettings


class TasksSettings(ServiceSettings):
    service_name: str = "tasks"
    port: int = 8002
    database_url: str = "postgresql+asyncpg://tasks:tasks@127.0.0.1:54320/tasks"
    page_size_default: int = 50
    page_size_max: int = 200
    # Kafka consumer groups are `<consumer_group>.workflow` and `<consumer_group>.identity`.
    # Every replica of one deployment shares them; a second deployment (or a test process on
    # its own database) needs its own.
    consumer_group: str = "tasks"
    consumers_enabled: bool = True
