"""The gateway's own API models (everything else is the services' models, passed through)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UserPublic(BaseModel):
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    roles: list[str]


class UserPage(BaseModel):
    items: list[UserPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class WebhookResult(BaseModel):
    status: str = Field(description="processed, duplicate (this svix-id was handled before) or ignored")
