"""Chart PNGs served at unguessable links (``[serve] public_url``): the token's SHA-256, the PNG, its expiry.

Numbered 0008 because another branch takes 0007; until both are merged it follows 0006.
Frozen: the table as it was at this revision, written out here (never imported from live code).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008"
down_revision = "0007"


def upgrade():
    op.create_table(
        "chart_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("png", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade():
    op.drop_table("chart_links")
