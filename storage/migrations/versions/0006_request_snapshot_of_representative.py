"""audience request: keep the representative's and the organization's details as given when it was submitted

Before this, a request showed whatever its representative and organization rows said now, so a second request
from the same channel account under another name rewrote the name and phone shown on the first. Existing rows
are filled from their current representative and organization (the best that is known).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:00:00.000000
"""

import sqlite3
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERSON = "FROM representative r WHERE r.id = audience_request.representative_id"
_ORGANIZATION = "FROM organization o WHERE o.id = audience_request.organization_id"
_COLUMNS = (
    ("representative_name", 120, f"SELECT full_name {_PERSON}"),
    ("representative_phone", 20, f"SELECT phone {_PERSON}"),
    ("organization_name", 200, f"SELECT name {_ORGANIZATION}"),
    ("organization_type", 32, f"SELECT type {_ORGANIZATION}"),
)


def upgrade() -> None:
    # Added NOT NULL with an empty default, then filled: on SQLite this stays a plain ALTER TABLE ADD COLUMN.
    # Batch mode would copy the table, and dropping the original fails while audit events, bookings and outbox
    # rows refer to it (foreign keys are enforced, and the pragma cannot be turned off inside the transaction).
    for name, length, _ in _COLUMNS:
        op.add_column(
            "audience_request",
            sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False, server_default=""),
        )
    op.add_column(
        "audience_request",
        sa.Column("organization_registration_number", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    assignments = ", ".join(f"{name} = ({query})" for name, _, query in _COLUMNS)
    registration = f"organization_registration_number = (SELECT registration_number {_ORGANIZATION})"
    op.execute(f"UPDATE audience_request SET {assignments}, {registration}")
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot drop a default without copying the table
        for name, length, _ in _COLUMNS:
            op.alter_column(
                "audience_request", name, existing_type=sqlmodel.sql.sqltypes.AutoString(length=length),
                existing_nullable=False, server_default=None,
            )  # fmt: skip


def downgrade() -> None:
    names = ["organization_registration_number", *(name for name, _, _ in reversed(_COLUMNS))]
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        for name in names:  # native DROP COLUMN: no copy of the table (see upgrade)
            op.execute(f"ALTER TABLE audience_request DROP COLUMN {name}")
        return
    with op.batch_alter_table("audience_request", schema=None) as batch_op:
        for name in names:
            batch_op.drop_column(name)
