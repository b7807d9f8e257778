"""The incremental lifetime aggregates: per customer, per local day, per month (the fingerprint), and
the store's own settings (watermark, config fingerprint, last full recompute).

Frozen: no imports of live code.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade():
    op.create_table(
        "incremental_meta",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "incremental_customers",
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("first_order_day", sa.Integer, nullable=False),
        sa.Column("first_purchase_day", sa.Integer),
        sa.Column("second_purchase_day", sa.Integer),
        sa.Column("orders", sa.Integer, nullable=False),
        sa.Column("purchases", sa.Integer, nullable=False),
        sa.Column("amount", sa.Float, nullable=False),
    )
    op.create_table(
        "incremental_days",
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("revenue", sa.Float, nullable=False),
        sa.Column("no_amount", sa.Integer, nullable=False),
        sa.Column("no_customer", sa.Integer, nullable=False),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("purchasers", sa.Integer, nullable=False),
        sa.Column("repeaters", sa.Integer, nullable=False),
    )
    op.create_table(
        "incremental_months",
        sa.Column("month", sa.String(40), primary_key=True),
        sa.Column("orders", sa.Integer, nullable=False),
        sa.Column("amount", sa.Float, nullable=False),
        sa.Column("purchases", sa.Integer, nullable=False),
        sa.Column("hash", sa.BigInteger, nullable=False),
    )


def downgrade():
    for table in ("incremental_months", "incremental_days", "incremental_customers", "incremental_meta"):
        op.drop_table(table)
