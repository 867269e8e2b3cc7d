from byte_platform.service import serve

from byte_executions.settings import ExecutionsSettings

serve("byte_executions.main:create_app", ExecutionsSettings())
