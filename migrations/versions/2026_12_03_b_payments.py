"""payments: one core service for every domain that takes money

Payments (sandbox or WeChat Pay) for a domain's purpose and reference, their refunds, the
notifications already processed (one row per provider and notification id: a retried or
racing copy changes nothing), and the sandbox provider's keys, made once per installation.

Revision ID: c1a0ac7e0010
Revises: c1a0ac7e0009
Create Date: 2026-12-03 15:33:11+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0ac7e0010"
down_revision: str | None = "c1a0ac7e0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_notification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_notification")),
        sa.UniqueConstraint("provider", "notification_id", name="uq_payment_notification"),
    )
    op.create_table(
        "payment_sandbox_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_serial", sa.String(length=64), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("apiv3_key", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_sandbox_key")),
    )
    op.create_table(
        "payment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=50), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("refunded_fen", sa.Integer(), server_default="0", nullable=False),
        sa.Column("description", sa.String(length=127), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payment_amount_positive")),
        sa.CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen",
            name=op.f("ck_payment_refunded_within_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["person.id"], name=op.f("fk_payment_payer_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("out_trade_no", name=op.f("uq_payment_out_trade_no")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_payment_transaction_id")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_payer_id"), ["payer_id"], unique=False)
        batch_op.create_index(
            "ix_payment_purpose_reference", ["purpose", "reference"], unique=False
        )

    op.create_table(
        "payment_refund",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("out_refund_no", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payment_refund_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_payment_refund_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["person.id"], name=op.f("fk_payment_refund_requested_by_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refund")),
        sa.UniqueConstraint("out_refund_no", name=op.f("uq_payment_refund_out_refund_no")),
    )
    with op.batch_alter_table("payment_refund", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_refund_payment_id"), ["payment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_refund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_refund_payment_id"))

    op.drop_table("payment_refund")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_purpose_reference")
        batch_op.drop_index(batch_op.f("ix_payment_payer_id"))

    op.drop_table("payment")
    op.drop_table("payment_sandbox_key")
    op.drop_table("payment_notification")
