"""Claims are fenced: each carries a generation (``fence``) raised on every take-over.

Frozen: no imports of live code.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade():
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("fence", sa.Integer, nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("fence")
