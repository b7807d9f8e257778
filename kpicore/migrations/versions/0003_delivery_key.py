"""The ledger key becomes (kind, name, period, segment, destination); claims get a lease.

Existing rows are digests (kind ``digest``, empty segment). Frozen: no imports of live code.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("uq_deliveries_digest_period_destination", type_="unique")
        batch.alter_column(
            "digest", new_column_name="name", existing_type=sa.String(200), existing_nullable=False
        )
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="digest"))
        batch.add_column(sa.Column("segment", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(100), nullable=True))
    with op.batch_alter_table("deliveries") as batch:  # a second pass: SQLite drops it when made in the first
        batch.create_unique_constraint(
            "uq_deliveries_key", ["kind", "name", "period", "segment", "destination"]
        )


def downgrade():
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("uq_deliveries_key", type_="unique")
        batch.drop_column("owner")
        batch.drop_column("lease_until")
        batch.drop_column("segment")
        batch.drop_column("kind")
        batch.alter_column(
            "name", new_column_name="digest", existing_type=sa.String(200), existing_nullable=False
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.create_unique_constraint(
            "uq_deliveries_digest_period_destination", ["digest", "period", "destination"]
        )
