"""Subscriptions of Slack users to metrics (``/kpi follow``): one row per (user, metric).

Frozen: the table as it was at this revision, written out here (never imported from live code).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade():
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(50), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("dimension", sa.String(100), nullable=False, server_default=""),
        sa.Column("channel_id", sa.String(50), nullable=False, server_default=""),
        sa.Column("channel_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "metric", name="uq_follows_user_metric"),
    )


def downgrade():
    op.drop_table("follows")
