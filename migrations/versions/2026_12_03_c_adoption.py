"""adoption: farms, fields and seasons offered for adoption, orders with their transitions,
share links, the growth diary, harvests and shares, complaints and the village's income ledger

Revision ID: c1a0ac7e0011
Revises: c1a0ac7e0010
Create Date: 2026-12-03 15:38:29.424353+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gongchuang.core.db

revision: str = "c1a0ac7e0011"
down_revision: str | None = "c1a0ac7e0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "adoption_farm",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("offers_pickup", sa.Boolean(), nullable=False),
        sa.Column("offers_courier", sa.Boolean(), nullable=False),
        sa.Column("service_region_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_adoption_farm_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["region.id"], name=op.f("fk_adoption_farm_region_id_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_farm")),
    )
    with op.batch_alter_table("adoption_farm", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adoption_farm_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "adoption_field",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("farm_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("area_m2", sa.Integer(), nullable=False),
        sa.Column("crop", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("area_m2 > 0", name=op.f("ck_adoption_field_ck_adoption_field_area")),
        sa.ForeignKeyConstraint(
            ["farm_id"], ["adoption_farm.id"], name=op.f("fk_adoption_field_farm_id_adoption_farm")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_field")),
    )
    with op.batch_alter_table("adoption_field", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_adoption_field_farm_id"), ["farm_id"], unique=False)

    op.create_table(
        "adoption_offering",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("farm_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("season", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sale_unit", sa.String(length=8), nullable=False),
        sa.Column("unit_area_m2", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("total_units", sa.Integer(), nullable=False),
        sa.Column("min_units", sa.Integer(), nullable=False),
        sa.Column("max_units", sa.Integer(), nullable=False),
        sa.Column("guaranteed_g_per_unit", sa.Integer(), nullable=False),
        sa.Column("reservation_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("allocated_units", sa.Integer(), nullable=False),
        sa.Column("reserved_units", sa.Integer(), nullable=False),
        sa.Column("opened_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_adopted_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "allocated_units >= 0 AND reserved_units >= 0 AND allocated_units + reserved_units <= total_units",
            name=op.f("ck_adoption_offering_ck_adoption_offering_stock"),
        ),
        sa.CheckConstraint(
            "price_fen > 0", name=op.f("ck_adoption_offering_ck_adoption_offering_price")
        ),
        sa.CheckConstraint(
            "total_units > 0", name=op.f("ck_adoption_offering_ck_adoption_offering_total")
        ),
        sa.ForeignKeyConstraint(
            ["farm_id"],
            ["adoption_farm.id"],
            name=op.f("fk_adoption_offering_farm_id_adoption_farm"),
        ),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["adoption_field.id"],
            name=op.f("fk_adoption_offering_field_id_adoption_field"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_adoption_offering_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_offering")),
    )
    with op.batch_alter_table("adoption_offering", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_adoption_offering_farm_id"), ["farm_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_adoption_offering_field_id"), ["field_id"], unique=False
        )
        batch_op.create_index(
            "ix_adoption_offering_status", ["status", "organisation_id"], unique=False
        )

    op.create_table(
        "adoption_diary_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("photo_file_ids", sa.JSON(), nullable=False),
        sa.Column("video_url", sa.String(length=500), nullable=False),
        sa.Column("posted_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["person.id"], name=op.f("fk_adoption_diary_post_author_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["offering_id"],
            ["adoption_offering.id"],
            name=op.f("fk_adoption_diary_post_offering_id_adoption_offering"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_diary_post")),
    )
    with op.batch_alter_table("adoption_diary_post", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adoption_diary_post_offering_id"), ["offering_id"], unique=False
        )

    op.create_table(
        "adoption_harvest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("total_g", sa.Integer(), nullable=False),
        sa.Column("remedy", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("recorded_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "total_g >= 0", name=op.f("ck_adoption_harvest_ck_adoption_harvest_total")
        ),
        sa.ForeignKeyConstraint(
            ["offering_id"],
            ["adoption_offering.id"],
            name=op.f("fk_adoption_harvest_offering_id_adoption_offering"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["person.id"], name=op.f("fk_adoption_harvest_recorded_by_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_harvest")),
        sa.UniqueConstraint("offering_id", name=op.f("uq_adoption_harvest_offering_id")),
    )
    op.create_table(
        "adoption_share_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["offering_id"],
            ["adoption_offering.id"],
            name=op.f("fk_adoption_share_link_offering_id_adoption_offering"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["person.id"], name=op.f("fk_adoption_share_link_owner_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_share_link")),
        sa.UniqueConstraint("code", name=op.f("uq_adoption_share_link_code")),
        sa.UniqueConstraint("offering_id", "owner_id", name="uq_adoption_share_link_owner"),
    )
    op.create_table(
        "adoption_order",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=False),
        sa.Column("adopter_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("holds_reservation", sa.Boolean(), nullable=False),
        sa.Column("reserved_until", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("share_link_id", sa.Integer(), nullable=True),
        sa.Column("plot_numbers", sa.JSON(), nullable=False),
        sa.Column("delivery_method", sa.String(length=16), nullable=False),
        sa.Column("recipient_name", sa.String(length=50), nullable=False),
        sa.Column("recipient_phone", sa.String(length=20), nullable=False),
        sa.Column("address_region_id", sa.Integer(), nullable=True),
        sa.Column("address_line", sa.String(length=200), nullable=False),
        sa.Column("courier", sa.String(length=30), nullable=False),
        sa.Column("tracking_no", sa.String(length=40), nullable=False),
        sa.Column("created_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("allocated_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "amount_fen > 0", name=op.f("ck_adoption_order_ck_adoption_order_amount")
        ),
        sa.CheckConstraint("units > 0", name=op.f("ck_adoption_order_ck_adoption_order_units")),
        sa.ForeignKeyConstraint(
            ["address_region_id"],
            ["region.id"],
            name=op.f("fk_adoption_order_address_region_id_region"),
        ),
        sa.ForeignKeyConstraint(
            ["adopter_id"], ["person.id"], name=op.f("fk_adoption_order_adopter_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["offering_id"],
            ["adoption_offering.id"],
            name=op.f("fk_adoption_order_offering_id_adoption_offering"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_adoption_order_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["share_link_id"],
            ["adoption_share_link.id"],
            name=op.f("fk_adoption_order_share_link_id_adoption_share_link"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_order")),
        sa.UniqueConstraint("code", name=op.f("uq_adoption_order_code")),
    )
    with op.batch_alter_table("adoption_order", schema=None) as batch_op:
        batch_op.create_index(
            "ix_adoption_order_adopter", ["adopter_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_adoption_order_offering_status", ["offering_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_adoption_order_share_link_id"), ["share_link_id"], unique=False
        )
        batch_op.create_index(
            "uq_adoption_order_pending",
            ["offering_id", "adopter_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "adoption_complaint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("photo_file_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("refund_fen", sa.Integer(), nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("created_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["person.id"], name=op.f("fk_adoption_complaint_author_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["adoption_order.id"],
            name=op.f("fk_adoption_complaint_order_id_adoption_order"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["person.id"], name=op.f("fk_adoption_complaint_resolved_by_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_complaint")),
    )
    with op.batch_alter_table("adoption_complaint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adoption_complaint_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            "uq_adoption_complaint_open",
            ["order_id"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "adoption_harvest_share",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("harvest_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("share_g", sa.Integer(), nullable=False),
        sa.Column("guaranteed_g", sa.Integer(), nullable=False),
        sa.Column("delivered_g", sa.Integer(), nullable=False),
        sa.Column("made_up_g", sa.Integer(), nullable=False),
        sa.Column("credit_fen", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["harvest_id"],
            ["adoption_harvest.id"],
            name=op.f("fk_adoption_harvest_share_harvest_id_adoption_harvest"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["adoption_order.id"],
            name=op.f("fk_adoption_harvest_share_order_id_adoption_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_harvest_share")),
        sa.UniqueConstraint("order_id", name=op.f("uq_adoption_harvest_share_order_id")),
    )
    with op.batch_alter_table("adoption_harvest_share", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adoption_harvest_share_harvest_id"), ["harvest_id"], unique=False
        )

    op.create_table(
        "adoption_ledger_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("farm_id", sa.Integer(), nullable=False),
        sa.Column("offering_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("memo", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'income' AND amount_fen > 0) OR (kind <> 'income' AND amount_fen < 0)",
            name=op.f("ck_adoption_ledger_entry_ck_adoption_ledger_sign"),
        ),
        sa.ForeignKeyConstraint(
            ["farm_id"],
            ["adoption_farm.id"],
            name=op.f("fk_adoption_ledger_entry_farm_id_adoption_farm"),
        ),
        sa.ForeignKeyConstraint(
            ["offering_id"],
            ["adoption_offering.id"],
            name=op.f("fk_adoption_ledger_entry_offering_id_adoption_offering"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["adoption_order.id"],
            name=op.f("fk_adoption_ledger_entry_order_id_adoption_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_ledger_entry")),
        sa.UniqueConstraint("kind", "source", name="uq_adoption_ledger_source"),
    )
    with op.batch_alter_table("adoption_ledger_entry", schema=None) as batch_op:
        batch_op.create_index("ix_adoption_ledger_farm", ["farm_id", "id"], unique=False)

    op.create_table(
        "adoption_order_transition",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("at", gongchuang.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["adoption_order.id"],
            name=op.f("fk_adoption_order_transition_order_id_adoption_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_order_transition")),
    )
    with op.batch_alter_table("adoption_order_transition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adoption_order_transition_order_id"), ["order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("adoption_order_transition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adoption_order_transition_order_id"))

    op.drop_table("adoption_order_transition")
    with op.batch_alter_table("adoption_ledger_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_adoption_ledger_farm")

    op.drop_table("adoption_ledger_entry")
    with op.batch_alter_table("adoption_harvest_share", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adoption_harvest_share_harvest_id"))

    op.drop_table("adoption_harvest_share")
    with op.batch_alter_table("adoption_complaint", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_adoption_complaint_open",
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index(batch_op.f("ix_adoption_complaint_order_id"))

    op.drop_table("adoption_complaint")
    with op.batch_alter_table("adoption_order", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_adoption_order_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_adoption_order_share_link_id"))
        batch_op.drop_index("ix_adoption_order_offering_status")
        batch_op.drop_index("ix_adoption_order_adopter")

    op.drop_table("adoption_order")
    op.drop_table("adoption_share_link")
    op.drop_table("adoption_harvest")
    with op.batch_alter_table("adoption_diary_post", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adoption_diary_post_offering_id"))

    op.drop_table("adoption_diary_post")
    with op.batch_alter_table("adoption_offering", schema=None) as batch_op:
        batch_op.drop_index("ix_adoption_offering_status")
        batch_op.drop_index(batch_op.f("ix_adoption_offering_field_id"))
        batch_op.drop_index(batch_op.f("ix_adoption_offering_farm_id"))

    op.drop_table("adoption_offering")
    with op.batch_alter_table("adoption_field", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adoption_field_farm_id"))

    op.drop_table("adoption_field")
    with op.batch_alter_table("adoption_farm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adoption_farm_organisation_id"))

    op.drop_table("adoption_farm")
