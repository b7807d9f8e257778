"""Verified request signatures, each claimed once (a replay of a signed request is refused).

Frozen: the table as it was at this revision, written out here (never imported from live code).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade():
    op.create_table(
        "request_claims",
        sa.Column("request_key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade():
    op.drop_table("request_claims")
