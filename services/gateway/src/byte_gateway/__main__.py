from byte_platform.service import serve

from byte_gateway.settings import GatewaySettings

serve("byte_gateway.main:create_app", GatewaySettings())
