from byte_platform.service import serve

from byte_contacts.settings import ContactsSettings

serve("byte_contacts.main:create_app", ContactsSettings())
