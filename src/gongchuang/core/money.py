"""Money as people type and read it: yuan on screen and in forms, integer fen everywhere else.

Parsed as a decimal, never through a float: "0.1" + "0.2" yuan is 30 fen. Only plain amounts
are read ("12", "12.5", "¥1,000.50"; full-width digits from a Chinese keyboard too): an
exponent ("1e999999999"), "inf" or "NaN" is refused as input, never a crash."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_

# Larger than any amount the platform handles (a hundred million yuan).
MAX_FEN = 100_000_000_00
AMOUNT_PROBLEM = N_("an amount in yuan, like 12 or 12.50")
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?|\.[0-9]{1,2}")


def yuan_to_fen(text: str, field: str, *, allow_zero: bool = False) -> int:
    """ "12", "12.5" or "12.50" yuan (a "¥" and spaces allowed) as fen; anything else refused
    with the field named."""
    # NFKC: full-width digits, point and yen sign (０.５, ￥) read as their ASCII forms.
    cleaned = unicodedata.normalize("NFKC", text).strip().lstrip("¥").strip().replace(",", "")
    amount = Decimal(cleaned) if _PLAIN_AMOUNT.fullmatch(cleaned) else None
    if amount is None or (amount == 0 and not allow_zero) or amount * 100 > MAX_FEN:
        raise InvalidInput(
            N_("%(field)s: please give an amount in yuan, like 12 or 12.50"),
            field=field,
            errors=[{"field": field, "message": AMOUNT_PROBLEM}],
        )
    return int(amount * 100)


def fen_to_yuan(fen: int) -> str:
    """1234 → "12.34", exactly."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"
