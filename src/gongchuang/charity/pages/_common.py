"""What the charity pages share: the label maps every template reads, forms read into the API's
command models (yuan typed, fen given), a pot's rule said in words, a ledger account's name, and
where a donation comes from (the device cookie and the address) for the anti-gaming screening."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import Request, Response

from gongchuang.charity.models import (
    CAMPAIGN_KIND_LABELS,
    DONATION_STATUS_LABELS,
    ENTRY_KIND_LABELS,
    EXPENSE_STATUS_LABELS,
    MATCH_STATUS_LABELS,
    PROJECT_STATUS_LABELS,
    PROPOSAL_STATUS_LABELS,
    Pot,
)
from gongchuang.charity.service import DonationOrigin, ledger
from gongchuang.charity.service.rules import RatioRule
from gongchuang.core import money
from gongchuang.core.i18n import N_, gettext
from gongchuang.core.web import client_source, cookie_secure

# A long-lived random cookie naming the browser, so that a burst of gifts from one phone is
# seen as one device whoever is logged in (screening keeps only a keyed hash of it).
DEVICE_COOKIE = "gc_device"
DEVICE_COOKIE_SECONDS = 400 * 24 * 3600  # the longest a browser keeps a cookie
# The quick picks offered beside the amount, in yuan.
QUICK_PICKS_YUAN = (1, 10, 50, 100)
# The memos the service itself writes in the ledger (in English, as data); shown in the
# reader's language. Any other memo is what a person typed (a payee, a reviewer's note).
SYSTEM_MEMOS: dict[str, str] = {
    "quadratic funding": N_("Quadratic funding"),
    "refund of the donation": N_("Refunded"),
    "review": N_("Reviewer"),
}


def percent(pct: int) -> str:
    return f"{pct}%"


def yuan(fen: int) -> str:
    """An amount of a pot's terms as people say it: 100, not 100.00; 0.50 stays."""
    text = money.fen_to_yuan(fen)
    return text[:-3] if text.endswith(".00") else text


def rule_words(pot: Pot) -> list[str]:
    """A pot's terms as a donor reads them, one phrase each, in the reader's language: "each
    gift matched at random 10%–100%", "at most ¥100 per person a day"."""
    if pot.rule == RatioRule.quadratic:
        return [gettext("Shared out at the end by how many people gave, more than how much")]
    if pot.rule == RatioRule.random or pot.ratio_max_pct != pot.ratio_min_pct:
        words = [
            gettext(
                "Each gift matched at random %(low)s–%(high)s",
                low=percent(pot.ratio_min_pct),
                high=percent(pot.ratio_max_pct),
            )
        ]
    else:
        words = [gettext("Each gift matched %(ratio)s", ratio=percent(pot.ratio_min_pct))]
    if pot.min_donation_fen > 1:
        words.append(gettext("gifts from ¥%(amount)s", amount=yuan(pot.min_donation_fen)))
    if pot.max_match_fen:
        words.append(gettext("at most ¥%(amount)s a gift", amount=yuan(pot.max_match_fen)))
    if pot.cap_donor_day_fen:
        words.append(
            gettext("at most ¥%(amount)s per person a day", amount=yuan(pot.cap_donor_day_fen))
        )
    if pot.daily_budget_fen:
        words.append(gettext("¥%(amount)s a day in all", amount=yuan(pot.daily_budget_fen)))
    words.append(gettext("one match per person per project"))
    return words


def account_name(account: str, names: Mapping[str, str]) -> str:
    """A ledger account said in words: donors, the pot's sponsor, the project's title, the
    payee, the grantee organisation."""
    if account == ledger.DONORS:
        return gettext("All donors")
    return names.get(account) or account


def memo_words(memo: str) -> str:
    """A ledger movement's memo as the reader reads it."""
    said = SYSTEM_MEMOS.get(memo)
    return gettext(said) if said else memo


def labels() -> dict[str, Any]:
    return {
        "donation_status": DONATION_STATUS_LABELS,
        "match_status": MATCH_STATUS_LABELS,
        "project_status": PROJECT_STATUS_LABELS,
        "campaign_kinds": CAMPAIGN_KIND_LABELS,
        "entry_kinds": ENTRY_KIND_LABELS,
        "expense_status": EXPENSE_STATUS_LABELS,
        "proposal_status": PROPOSAL_STATUS_LABELS,
        "rule_words": rule_words,
        "account_name": account_name,
        "memo_words": memo_words,
        "quick_picks": QUICK_PICKS_YUAN,
    }


def typed_or_picked(form: Mapping[str, object]) -> object:
    """The amount typed, else the quick pick chosen (the form has both, so that it works
    without scripts)."""
    typed = form.get("amount_yuan")
    if isinstance(typed, str) and typed.strip():
        return typed
    return form.get("pick_yuan") or ""


def device_of(request: Request) -> str:
    return request.cookies.get(DEVICE_COOKIE) or request.headers.get("user-agent", "")


def origin_of(request: Request) -> DonationOrigin:
    return DonationOrigin(device=device_of(request), address=client_source(request))


def keep_device(request: Request, response: Response) -> Response:
    """Give the browser its device cookie if it has none yet."""
    if not request.cookies.get(DEVICE_COOKIE):
        response.set_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(18),
            max_age=DEVICE_COOKIE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=cookie_secure(request),
        )
    return response
