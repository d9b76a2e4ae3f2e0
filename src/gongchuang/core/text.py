"""Checks for free text that people type: names, titles, descriptions."""

from __future__ import annotations

import unicodedata

from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_

ALLOWED_CONTROL = {"\n", "\t"}


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROL for ch in value)


def clean_text(value: str | None, field: str, *, max_length: int, required: bool = True) -> str:
    """Trimmed text, or InvalidInput naming the field. Control characters are refused on every
    database alike (PostgreSQL cannot store NUL; SQLite would, silently)."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(
            N_("Please fill in every field that is needed"),
            errors=[{"field": field, "message": N_("Please fill this in.")}],
        )
    if len(text) > max_length:
        raise InvalidInput(
            N_("This is too long: please write at most %(n)s characters"),
            n=max_length,
            errors=[{"field": field, "message": N_("This is too long.")}],
        )
    if has_control_characters(text):
        raise InvalidInput(
            N_("Text may not contain control characters"),
            errors=[
                {"field": field, "message": N_("Please remove the invisible control characters.")}
            ],
        )
    return text
