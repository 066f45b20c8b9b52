"""one rating per audience: a unique partial index on the representatives' rating events

Two processes handling two presses of the rating buttons at once could each find no rating and record one; the
index keeps the second out (the loser's transaction is retried and finds the first). Ratings already recorded
twice keep the first; the others stay in the audit trail, marked "duplicate".

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_RATING = "action = 'feedback' AND note LIKE 'rating %'"


def upgrade() -> None:
    op.execute(
        "UPDATE audit_event SET note = 'duplicate ' || note "
        f"WHERE {ONE_RATING} AND id NOT IN "
        f"(SELECT first_id FROM (SELECT MIN(id) AS first_id FROM audit_event WHERE {ONE_RATING} "
        "GROUP BY request_id) AS firsts)"
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(
            "uq_audit_one_rating",
            ["request_id"],
            unique=True,
            sqlite_where=sa.text(ONE_RATING),
            postgresql_where=sa.text(ONE_RATING),
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("uq_audit_one_rating")
