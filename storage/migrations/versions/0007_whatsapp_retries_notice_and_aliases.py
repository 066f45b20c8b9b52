"""whatsapp inbox retries and lease, the notice of a sent message, business-scoped id aliases

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("claimed_at", storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retry_at", storage.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("whatsapp_sent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice", sa.Text(), nullable=True))
    op.create_table(
        "whatsapp_alias",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_alias")
    with op.batch_alter_table("whatsapp_sent", schema=None) as batch_op:
        batch_op.drop_column("notice")
    with op.batch_alter_table("whatsapp_inbox", schema=None) as batch_op:
        batch_op.drop_column("retry_at")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("attempts")
