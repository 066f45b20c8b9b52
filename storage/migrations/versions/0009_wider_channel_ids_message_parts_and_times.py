"""wider channel ids (WhatsApp business-scoped user ids run to 135 characters), the part of a notice each sent
WhatsApp message was, and an inbound WhatsApp message's own time

Every column holding a person's id on a channel goes from 64 to 192 characters (a longer id failed the insert on
PostgreSQL, and Meta redelivered the webhook for days); outbox.dedupe_key (which holds one) to 256 and
processed_event.event_id (a WhatsApp message id with its prefix) to 160, as whatsapp_inbox.event_id already is.

On PostgreSQL a wider VARCHAR is a catalog change only. SQLite does not enforce VARCHAR lengths at all; its
tables are copied (batch mode) to record the new declared types, except audience_request, which other tables
refer to: copying it would mean dropping it, which enforced foreign keys refuse inside the migration's
transaction. Its declared type is rewritten in place instead, the procedure SQLite documents for schema changes
that leave the stored content as it is (a VARCHAR's length changes nothing stored: the affinity stays TEXT).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 03:00:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDE = 192
# (table, column, old length, new length, nullable)
_COLUMNS = (
    ("channel_identity", "external_id", 64, WIDE, False),
    ("conversation", "external_id", 64, WIDE, False),
    ("outbox", "external_id", 64, WIDE, False),
    ("outbox", "dedupe_key", 160, 256, True),
    ("processed_event", "event_id", 128, 160, False),
    ("channel_message", "chat_id", 64, WIDE, False),
    ("channel_message", "message_id", 64, WIDE, False),
    ("contact_status", "external_id", 64, WIDE, False),
    ("whatsapp_inbox", "sender", 64, WIDE, False),
    ("whatsapp_sent", "recipient", 64, WIDE, False),
    ("whatsapp_alias", "user_id", 64, WIDE, False),
    ("whatsapp_alias", "key", 64, WIDE, False),
)
_REFERENCED = ("audience_request", "contact_external_id", 64, WIDE, False)  # other tables' foreign keys point here


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _resize(to_new: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    tables: dict[str, list[tuple[str, int, int, bool]]] = {}
    for table, column, old, new, nullable in (*_COLUMNS, *(() if sqlite else (_REFERENCED,))):
        tables.setdefault(table, []).append((column, old, new, nullable))
    for table, columns in tables.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, old, new, nullable in columns:
                before, after = (old, new) if to_new else (new, old)
                batch_op.alter_column(column, existing_type=_string(before), type_=_string(after),
                                      existing_nullable=nullable)  # fmt: skip
    if sqlite:
        table, column, old, new, _ = _REFERENCED
        _sqlite_declared_length(table, column, *((old, new) if to_new else (new, old)))


def _sqlite_declared_length(table: str, column: str, old: int, new: int) -> None:
    """Change a VARCHAR's declared length in SQLite's schema without copying the table (see the docstring)."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar()
    pattern = re.compile(rf"(\b{column}\s+VARCHAR\(){old}(\))", re.IGNORECASE)
    if sql is None or not pattern.search(sql):
        return  # already so (or not a table created by our migrations): nothing to change
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                         (pattern.sub(rf"\g<1>{new}\g<2>", sql, count=1), table))  # fmt: skip
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    problems = bind.exec_driver_sql("PRAGMA quick_check").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"SQLite reports a damaged schema after widening {table}.{column}: {problems}")


def upgrade() -> None:
    _resize(to_new=True)
    with op.batch_alter_table("whatsapp_sent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("part", sa.Integer(), nullable=True))
        batch_op.create_index("ix_whatsapp_sent_outbox", ["outbox_id"], unique=False)
    with op.batch_alter_table("whatsapp_inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_inbox", schema=None) as batch_op:
        batch_op.drop_column("sent_at")
    with op.batch_alter_table("whatsapp_sent", schema=None) as batch_op:
        batch_op.drop_index("ix_whatsapp_sent_outbox")
        batch_op.drop_column("part")
    _resize(to_new=False)
