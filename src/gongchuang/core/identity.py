"""Chinese phone and resident-ID numbers: validation and masking (PIPL)."""

from __future__ import annotations

import re
from datetime import date

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def normalise_phone(raw: str) -> str:
    digits = re.sub(r"[\s\-]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits


def is_valid_phone(phone: str) -> bool:
    return bool(PHONE_RE.match(phone))


def mask_name(name: str) -> str:
    """王小明 → 王**: the surname kept, one * for each other character; enough for someone
    holding a card or certificate to match, no more. A one-character name shows as *."""
    if not name:
        return "—"
    if len(name) == 1:
        return "*"
    return name[:1] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str:
    """138****0000: enough for a neighbour to recognise, not enough to call."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def id_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_valid_resident_id(raw: str) -> bool:
    """GB 11643-1999: 17 digits, a birth date that exists, and the ISO 7064 MOD 11-2 digit."""
    number = (raw or "").strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    return id_check_digit(number[:17]) == number[17]


def mask_resident_id(number: str) -> str:
    number = number.strip().upper()
    return f"{number[:3]}{'*' * 11}{number[-4:]}"
