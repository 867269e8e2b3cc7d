from byte_ingest.models import metadata
from byte_ingest.settings import IngestSettings
from byte_platform.migrations import run_env

run_env(metadata, IngestSettings().database_url)
