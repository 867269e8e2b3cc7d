"""user_profiles.has_own_profile: whether a user.* event filled the profile

A membership's public_user_data fills a profile until the user's own event arrives. Whether it
had was read from `source_updated_at > 0`, which a user event without `updated_at` leaves at 0,
so the next membership overwrote the user's email and names.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user_profiles", sa.Column("has_own_profile", sa.Boolean, nullable=False, server_default=sa.false()))
    # A profile with a Clerk time came from a user event; one without cannot be told apart from
    # a membership's and is left to the user's next event.
    op.execute("UPDATE user_profiles SET has_own_profile = true WHERE source_updated_at > 0")


def downgrade() -> None:
    op.drop_column("user_profiles", "has_own_profile")
