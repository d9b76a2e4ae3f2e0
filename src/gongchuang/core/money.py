"""Money as people type and read it: yuan on screen and in forms, integer fen everywhere else.

Parsed as a decimal, never through a float: "0.1" + "0.2" yuan is 30 fen, and "1e309" or
"inf" are refused as input rather than crashing a page."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_

# Larger than any amount the platform handles (a hundred million yuan).
MAX_FEN = 100_000_000_00
AMOUNT_PROBLEM = N_("an amount in yuan, like 12 or 12.50")


def yuan_to_fen(text: str, field: str, *, allow_zero: bool = False) -> int:
    """ "12", "12.5" or "12.50" yuan (a "¥" and spaces allowed) as fen; anything else refused
    with the field named."""
    cleaned = text.strip().lstrip("¥￥").strip().replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        amount = Decimal("NaN")
    if (
        not amount.is_finite()
        or amount < 0
        or (amount == 0 and not allow_zero)
        or amount.as_tuple().exponent < -2  # type: ignore[operator]
        or amount * 100 > MAX_FEN
    ):
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
