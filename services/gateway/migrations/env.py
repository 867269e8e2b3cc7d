from byte_gateway.models import metadata
from byte_gateway.settings import GatewaySettings
from byte_platform.migrations import run_env

run_env(metadata, GatewaySettings().database_url)
