"""The digest delivery ledger: one row per (digest, period, destination)."""

from alembic import op

from kpicore.digest.ledger import deliveries_columns

revision = "0002"
down_revision = "0001"


def upgrade():
    op.create_table("deliveries", *deliveries_columns())


def downgrade():
    op.drop_table("deliveries")
