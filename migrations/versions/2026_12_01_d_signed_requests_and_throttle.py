"""signed requests seen once; sign-in throttle by source, phone and browser

- ``seen_signature``: signatures accepted within their tolerance window, so that a captured
  signed request sent again (with a new Idempotency-Key) is refused in every worker.
- ``sign_in_throttle``: wrong passwords counted by phone, source and known browser, never by
  account; it replaces the account lock (``person.failed_logins``, ``person.locked_until``),
  which told registered phones from unknown ones and let anyone keep a villager out.

Revision ID: c1a0ac7e0004
Revises: c1a0ac7e0003
Create Date: 2026-12-01 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gongchuang.core.db

revision: str = "c1a0ac7e0004"
down_revision: str | None = "c1a0ac7e0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seen_signature",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("request_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seen_signature")),
        sa.UniqueConstraint("scope", "digest", name="uq_seen_signature"),
    )
    with op.batch_alter_table("seen_signature", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seen_signature_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("wait_until", gongchuang.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttle")),
    )
    with op.batch_alter_table("sign_in_throttle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_throttle_last_failure_at"), ["last_failure_at"], unique=False
        )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("locked_until", gongchuang.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("sign_in_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_throttle_last_failure_at"))
    op.drop_table("sign_in_throttle")
    with op.batch_alter_table("seen_signature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_signature_created_at"))
    op.drop_table("seen_signature")
