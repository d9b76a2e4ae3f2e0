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
            N_("%(field)s is required"),
            field=field,
            errors=[{"field": field, "message": "required"}],
        )
    if len(text) > max_length:
        raise InvalidInput(
            N_("%(field)s is longer than %(n)s characters"),
            field=field,
            n=max_length,
            errors=[{"field": field, "message": "too long"}],
        )
    if has_control_characters(text):
        raise InvalidInput(
            N_("Text may not contain control characters"),
            errors=[{"field": field, "message": "control characters"}],
        )
    return text
