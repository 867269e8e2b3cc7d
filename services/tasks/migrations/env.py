from byte_platform.migrations import run_env
from byte_tasks.models import metadata
from byte_tasks.settings import TasksSettings

run_env(metadata, TasksSettings().database_url)
