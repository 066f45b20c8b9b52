"""outbox: dedupe key (one digest per day and recipient) and an index by request

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23 08:56:29.488410
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True))
        batch_op.create_index("ix_outbox_request", ["request_id", "kind"], unique=False)
        batch_op.create_index("uq_outbox_dedupe_key", ["dedupe_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("uq_outbox_dedupe_key")
        batch_op.drop_index("ix_outbox_request")
        batch_op.drop_column("dedupe_key")
