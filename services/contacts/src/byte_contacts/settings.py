from byte_platform.settings import ServiceSettings


class ContactsSettings(ServiceSettings):
    service_name: str = "contacts"
    port: int = 8001
    database_url: str = "postgresql+asyncpg://contacts:contacts@127.0.0.1:54320/contacts"
