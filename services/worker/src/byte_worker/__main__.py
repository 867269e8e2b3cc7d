from byte_platform.service import serve

from byte_worker.settings import WorkerSettings

serve("byte_worker.main:create_app", WorkerSettings())
