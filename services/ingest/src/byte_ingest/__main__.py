from byte_platform.service import serve

from byte_ingest.settings import IngestSettings

serve("byte_ingest.main:create_app", IngestSettings())
