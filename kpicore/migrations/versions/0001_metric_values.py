"""Stored metric values: history, and fast answers for chat."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "metric_values",
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("start_utc", sa.String(32), nullable=False),
        sa.Column("end_utc", sa.String(32), nullable=False),
        sa.Column("segment", sa.String(200), nullable=False, server_default=""),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("period", sa.String(40), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("n", sa.Integer, nullable=True),
        sa.Column("computed_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("metric", "start_utc", "end_utc", "segment", "source", name="uq_metric_values"),
    )


def downgrade():
    op.drop_table("metric_values")
