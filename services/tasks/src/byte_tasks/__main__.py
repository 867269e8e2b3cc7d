from byte_platform.service import serve

from byte_tasks.settings import TasksSettings

serve("byte_tasks.main:create_app", TasksSettings())
