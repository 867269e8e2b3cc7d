"""The contacts service: people, their details, tags and custom fields."""
