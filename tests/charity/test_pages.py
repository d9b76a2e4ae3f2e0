"""The charity pages of the public and of donors through HTTP: what each audience sees, giving
through the form (yuan typed, fen kept) to the cashier, refusals said on the page with nothing
changed, anonymous donors never named in public, and hostile text shown as text."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongchuang.charity import service
from gongchuang.charity.models import Donation, DonationStatus, RecurringGift
from gongchuang.charity.pages._common import DEVICE_COOKIE
from gongchuang.charity.schemas import DonateIn, RecurringIn
from gongchuang.core.models import Payment
from tests.charity.conftest import FundWorld
from tests.charity.giving import Giving, build_giving, give, pay
from tests.conftest import csrf_token, login
from tests.support.openapi import ValidatingClient
from tests.support.principals import acting
from tests.support.world import World

HOSTILE = '</script><script>alert(1)</script>{"x": "<img src=x onerror=alert(2)>"}'


@pytest.fixture
def giving(session: Session, world: World) -> Giving:
    built = build_giving(session, world)
    session.commit()  # a refused request rolls back to here
    return built


def donations(session: Session) -> int:
    return session.scalar(select(func.count(Donation.id))) or 0


def post(client: ValidatingClient, url: str, data: dict[str, object], **kw: Any) -> Response:
    return client.post(
        url, data={**data, "csrf_token": csrf_token(client)}, follow_redirects=False, **kw
    )


def test_anyone_reads_the_campaigns_projects_ledger_and_funds(
    client: ValidatingClient, session: Session, giving: Giving, fund_world: FundWorld
) -> None:
    give(session, giving.donors[0], giving.project, 2_000, message="加油")
    session.commit()
    project_id = giving.project.id

    home = client.get("/charity")
    assert home.status_code == 200
    assert giving.project.title in home.text and "爱心企业" in home.text
    assert "每笔配捐100%，单笔¥1起配，每人每个项目配捐一次" in home.text  # the pot's rule in words
    assert f'href="/charity/campaigns/{giving.campaign.id}"' in home.text
    assert "乙村社区基金" in home.text
    assert 'href="/charity/mine"' not in home.text

    page = client.get(f"/charity/projects/{project_id}")
    assert page.status_code == 200
    assert f'href="/login?next=/charity/projects/{project_id}"' in page.text
    assert 'action="/charity/projects/' not in page.text
    assert "¥20.00" in page.text and "加油" in page.text
    assert "捐***" in page.text and "捐赠人0" not in page.text  # the donor's name masked
    assert "食材" in page.text and "厨房设备" in page.text
    assert f'href="/charity/projects/{project_id}/ledger"' in page.text
    assert DEVICE_COOKIE in page.headers.get("set-cookie", "")

    ledger = client.get(f"/charity/projects/{project_id}/ledger")
    assert ledger.status_code == 200
    assert re.search(r'data-testid="received">¥20\.00<', ledger.text)
    assert re.search(r'data-testid="matched">¥20\.00<', ledger.text)
    assert re.search(r'data-testid="balance">¥40\.00<', ledger.text)
    assert "爱心企业" in ledger.text  # the pot's account, by its sponsor

    campaign = client.get(f"/charity/campaigns/{giving.campaign.id}")
    assert campaign.status_code == 200
    assert giving.project.title in campaign.text
    assert client.get("/charity/funds").status_code == 200
    fund = client.get(f"/charity/funds/{fund_world.fund.id}")
    assert fund.status_code == 200 and "社区微创投" in fund.text

    assert client.get("/charity/campaigns/999999").status_code == 404
    assert client.get("/charity/projects/999999").status_code == 404


def test_giving_through_the_form_leads_to_the_cashier_then_to_the_match(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    donor = giving.donors[0]
    login(client, donor.phone)
    url = f"/charity/projects/{giving.project.id}"
    assert 'href="/charity/mine"' in client.get("/charity").text
    answer = post(
        client,
        f"{url}/donate",
        {"amount_yuan": "20", "pick_yuan": "10", "message": "一点心意"},
        headers={"user-agent": "phone-browser"},
    )
    assert answer.status_code == 303, answer.text[-2000:]
    donation = session.scalar(select(Donation).where(Donation.donor_id == donor.id))
    assert donation is not None
    assert (donation.amount_fen, donation.message, donation.anonymous) == (2_000, "一点心意", False)
    assert donation.device_hash  # the device was seen (its cookie, or the user agent)
    payment = session.get(Payment, donation.payment_id)
    assert payment is not None
    assert answer.headers["location"].endswith(f"/payments/sandbox/{payment.out_trade_no}")

    waiting = client.get(f"/charity/donations/{donation.code}")
    assert 'data-status="pending"' in waiting.text
    assert f'href="/charity/donations/{donation.code}/pay"' in waiting.text
    again = client.get(f"/charity/donations/{donation.code}/pay", follow_redirects=False)
    assert again.headers["location"] == answer.headers["location"]

    pay(session, donation)
    session.commit()
    paid = client.get(f"/charity/donations/{donation.code}")
    assert 'data-status="paid"' in paid.text
    assert 'data-testid="match" data-status="credited"' in paid.text
    assert "¥20.00" in paid.text
    assert f'href="/charity/donations/{donation.code}/receipt.pdf"' in paid.text
    mine = client.get("/charity/mine")
    assert mine.status_code == 200 and donation.code in mine.text

    check = client.get(f"/charity/receipts/{donation.code}")
    assert check.status_code == 200
    assert "¥20.00" in check.text and "捐***" in check.text
    assert donor.phone not in check.text and "一点心意" not in check.text


def test_a_quick_pick_is_the_amount_when_none_is_typed(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    login(client, giving.donors[1].phone)
    answer = post(
        client,
        f"/charity/projects/{giving.project.id}/donate",
        {"amount_yuan": "", "pick_yuan": "50", "anonymous": "yes"},
    )
    assert answer.status_code == 303
    donation = session.scalar(select(Donation).where(Donation.donor_id == giving.donors[1].id))
    assert donation is not None and (donation.amount_fen, donation.anonymous) == (5_000, True)


@pytest.mark.parametrize("amount", ["abc", "0", "50000.01", "-5", "1.001"])
def test_a_refused_gift_is_said_on_the_project_page_and_changes_nothing(
    client: ValidatingClient, session: Session, giving: Giving, amount: str
) -> None:
    login(client, giving.donors[0].phone)
    url = f"/charity/projects/{giving.project.id}"
    before = donations(session)
    answer = post(
        client,
        f"{url}/donate",
        {"amount_yuan": amount, "pick_yuan": "10"},
        headers={"referer": f"http://testserver{url}"},
    )
    assert answer.status_code == 422
    assert 'id="form-problem-banner"' in answer.text
    assert '"field": "amount_yuan"' in answer.text
    assert donations(session) == before
    assert session.scalar(select(func.count(Payment.id))) == 0


def test_giving_needs_a_login_and_a_donation_is_its_donors(
    client: ValidatingClient, session: Session, world: World, giving: Giving
) -> None:
    answer = post(client, f"/charity/projects/{giving.project.id}/donate", {"amount_yuan": "5"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert donations(session) == 0

    donation = give(session, giving.donors[0], giving.project, 1_000)
    session.commit()
    code = donation.code
    assert client.get(f"/charity/donations/{code}", follow_redirects=False).status_code == 303
    for phone in (giving.donors[1].phone, world.cadre_a.phone):
        login(client, phone)
        assert client.get(f"/charity/donations/{code}").status_code == 404
        assert client.get(f"/charity/donations/{code}/receipt.pdf").status_code == 404
        assert client.get(f"/charity/donations/{code}/pay").status_code == 404
    # The receiving charity's staff see it (the law has them know their donors).
    login(client, giving.staff.phone)
    assert client.get(f"/charity/donations/{code}").status_code == 200
    # A receipt number that was never paid checks as nothing.
    assert client.get("/charity/receipts/D00000000000000").status_code == 404


def test_the_receipt_downloads_as_a_pdf(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    pytest.importorskip("gongchuang.charity.receipts")
    donation = give(session, giving.donors[0], giving.project, 1_000)
    pending = service.donate(
        session, acting(giving.donors[0]), giving.project.id, DonateIn(amount_fen=500)
    )
    session.commit()
    login(client, giving.donors[0].phone)
    answer = client.get(f"/charity/donations/{donation.code}/receipt.pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    assert client.get(f"/charity/donations/{pending.code}/receipt.pdf").status_code == 404


def test_an_anonymous_donor_is_not_named_in_public(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    donor = giving.donors[2]
    donation = give(session, donor, giving.project, 3_000, anonymous=True)
    session.commit()
    for url in (f"/charity/projects/{giving.project.id}", f"/charity/receipts/{donation.code}"):
        page = client.get(url)
        assert page.status_code == 200
        assert "匿名爱心人士" in page.text, url
        assert donor.name not in page.text and donor.name[:1] + "*" not in page.text, url
    # Her own page says so, and still shows her the donation.
    login(client, donor.phone)
    assert "¥30.00" in client.get(f"/charity/donations/{donation.code}").text


def test_hostile_text_in_a_title_and_a_message_is_shown_as_text(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    giving.project.title = HOSTILE[:100]
    give(session, giving.donors[0], giving.project, 1_000, message=HOSTILE[:200])
    session.commit()
    for url in (
        "/charity",
        f"/charity/projects/{giving.project.id}",
        f"/charity/projects/{giving.project.id}/ledger",
        f"/charity/campaigns/{giving.campaign.id}",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "<script>alert(1)" not in page.text, url
        assert "<img src=x" not in page.text, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, url


def test_a_monthly_gift_is_started_and_cancelled_through_the_forms(
    client: ValidatingClient, session: Session, giving: Giving
) -> None:
    donor = giving.donors[0]
    login(client, donor.phone)
    url = f"/charity/projects/{giving.project.id}"
    refused = post(
        client,
        f"{url}/monthly",
        {"amount_yuan": "0.5", "day_of_month": "5"},
        headers={"referer": f"http://testserver{url}"},
    )
    assert refused.status_code == 422 and '"field": "amount_yuan"' in refused.text
    assert session.scalar(select(func.count(RecurringGift.id))) == 0

    answer = post(client, f"{url}/monthly", {"amount_yuan": "30", "day_of_month": "5"})
    assert answer.status_code == 303 and answer.headers["location"] == "/charity/mine#gifts"
    gift = session.scalar(select(RecurringGift).where(RecurringGift.donor_id == donor.id))
    assert gift is not None and (gift.amount_fen, gift.day_of_month) == (3_000, 5)
    mine = client.get("/charity/mine")
    assert f'action="/charity/gifts/{gift.id}/cancel"' in mine.text

    login(client, giving.donors[1].phone)
    assert post(client, f"/charity/gifts/{gift.id}/cancel", {}).status_code == 404
    login(client, donor.phone)
    assert post(client, f"/charity/gifts/{gift.id}/cancel", {}).status_code == 303
    session.refresh(gift)
    assert gift.cancelled_at is not None


def test_giving_to_a_fund_leads_to_the_cashier(
    client: ValidatingClient, session: Session, world: World, fund_world: FundWorld
) -> None:
    login(client, world.cadre_a.phone)
    answer = post(client, f"/charity/funds/{fund_world.fund.id}/donate", {"amount_yuan": "8.8"})
    assert answer.status_code == 303
    assert "/payments/sandbox/" in answer.headers["location"]
    donation = session.scalar(select(Donation).where(Donation.fund_id == fund_world.fund.id))
    assert donation is not None
    assert (donation.amount_fen, donation.status) == (880, DonationStatus.pending)


class _VisibleText(HTMLParser):
    """The words a reader sees (not scripts, styles or code)."""

    HIDDEN = {"script", "style", "code", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.depth += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "alt", "placeholder") and value:
                self.handle_data(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth == 0:
            for token in re.findall(r"[A-Za-z0-9_#.-]+", data):
                if not re.search(r"[0-9_]", token):
                    self.words += re.findall(r"[A-Za-z]{2,}", token)


def test_a_chinese_page_says_nothing_in_english(
    client: ValidatingClient, session: Session, giving: Giving, fund_world: FundWorld
) -> None:
    donation = give(session, giving.donors[0], giving.project, 2_000)
    give(session, giving.donors[0], giving.project, 1_000)  # not matched again
    service.start_recurring(
        session,
        acting(giving.donors[0]),
        giving.project.id,
        RecurringIn(amount_fen=1_000, day_of_month=3),
    )
    session.commit()
    login(client, giving.donors[0].phone)
    later = session.scalars(
        select(Donation).where(Donation.donor_id == giving.donors[0].id).order_by(Donation.id)
    ).all()[-1]
    for url in (
        "/charity",
        f"/charity/projects/{giving.project.id}",
        f"/charity/projects/{giving.project.id}/ledger",
        f"/charity/campaigns/{giving.campaign.id}",
        "/charity/funds",
        f"/charity/funds/{fund_world.fund.id}",
        f"/charity/donations/{donation.code}",
        f"/charity/donations/{later.code}",
        f"/charity/receipts/{donation.code}",
        "/charity/mine",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        main = page.text[page.text.index("<main") : page.text.index("</main>")]
        reader = _VisibleText()
        reader.feed(main)
        assert set(reader.words) <= {"PDF"}, (url, reader.words)
    # A second gift to the project is not matched again, and the page says why.
    assert "您之前给这个项目的捐款已获得配捐" in client.get(f"/charity/donations/{later.code}").text
