from byte_contacts.models import metadata
from byte_contacts.settings import ContactsSettings
from byte_platform.migrations import run_env

run_env(metadata, ContactsSettings().database_url)
