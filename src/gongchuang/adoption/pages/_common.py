"""What the adoption pages share: the label maps and weights every template reads, forms read
into the API's command models (yuan typed, fen given), photo uploads and QR codes."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import UploadFile
from pydantic import BaseModel
from sqlalchemy.orm import Session

from gongchuang.adoption.models import (
    COMPLAINT_STATUS_LABELS,
    DELIVERY_METHOD_LABELS,
    LEDGER_KIND_LABELS,
    OFFERING_STATUS_LABELS,
    ORDER_STATUS_LABELS,
    SALE_UNIT_LABELS,
    SHORTFALL_REMEDY_LABELS,
)
from gongchuang.adoption.service.progress import share_url
from gongchuang.core import files
from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_
from gongchuang.core.pdf import qr_modules
from gongchuang.core.permissions import Principal

Command = TypeVar("Command", bound=BaseModel)

# The photo types a diary post or a complaint takes (no documents).
PHOTO_TYPES = frozenset(files.IMAGE_TYPES)
MAX_PHOTOS = 9


def kg(grams: int | None) -> str:
    """Grams as kilograms to the gram, without trailing zeros: 12.5, 0.75."""
    value = Decimal(grams or 0) / 1000
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def labels() -> dict[str, Any]:
    return {
        "order_status": ORDER_STATUS_LABELS,
        "offering_status": OFFERING_STATUS_LABELS,
        "sale_units": SALE_UNIT_LABELS,
        "delivery_methods": DELIVERY_METHOD_LABELS,
        "complaint_status": COMPLAINT_STATUS_LABELS,
        "ledger_kinds": LEDGER_KIND_LABELS,
        "remedies": SHORTFALL_REMEDY_LABELS,
        "kg": kg,
    }


def saved_photos(
    session: Session, principal: Principal, uploads: list[UploadFile] | None
) -> list[int]:
    """The photos chosen in a form's file field, stored (at most nine, pictures only)."""
    chosen = [u for u in uploads or [] if u.filename]
    if len(chosen) > MAX_PHOTOS:
        raise InvalidInput(
            N_("At most %(count)s photos"),
            count=MAX_PHOTOS,
            errors=[{"field": "photos", "message": N_("too many photos")}],
        )
    return [
        files.save_upload(
            session,
            principal,
            filename=upload.filename or "photo",
            data=files.read_upload(upload.file),
            accepted=PHOTO_TYPES,
        ).id
        for upload in chosen
    ]


def qr_runs(text: str) -> dict[str, Any]:
    """The QR code of `text` as its size and dark runs (x, y, length): the template draws the
    SVG (adoption/_qr.html), so no markup is made here and nothing is shown unescaped."""
    modules = qr_modules(text)
    runs: list[tuple[int, int, int]] = []
    for y, row in enumerate(modules):
        x = 0
        for dark, group in itertools.groupby(row):
            length = len(list(group))
            if dark:
                runs.append((x, y, length))
            x += length
    return {"size": len(modules), "runs": runs}


def share_block(site: str, code: str) -> dict[str, Any]:
    """A share link's full URL and its QR code."""
    url = share_url(site, code)
    return {"share_url": url, "share_qr": qr_runs(url)}
