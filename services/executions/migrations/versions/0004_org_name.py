"""the org's name (from identity.organization.*), for the templates of its cases

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("provisioned_orgs", sa.Column("name", sa.Text))


def downgrade() -> None:
    op.drop_column("provisioned_orgs", "name")
