from byte_executions.models import metadata
from byte_executions.settings import ExecutionsSettings
from byte_platform.migrations import run_env

run_env(metadata, ExecutionsSettings().database_url)
