"""The charity API end to end: a donation given through the API and paid in the sandbox is
matched by the campaign's pot; the public sees projects, their ledger and their donors masked
(an anonymous one not named at all); and every bad input is refused with a problem, nothing
changed."""

from __future__ import annotations

import base64
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gongchuang.charity.models import Campaign, Donation, Expense, Match, Pot, Project
from gongchuang.core import payments
from gongchuang.core.clock import utcnow
from gongchuang.core.models import Payment
from tests.charity.conftest import CharityWorld
from tests.charity.giving import Giving, build_giving
from tests.conftest import api_token
from tests.support.world import World

API = "/api/v1/charity"
DONATE = ["charity.donate"]
STAFF = ["charity.manage", "charity.approve"]
DEVICE = {"X-Device-Id": "device-of-the-test"}


def giving(session: Session, world: World) -> Giving:
    built = build_giving(session, world)
    # Releases the savepoint only: a refused request rolls back to here.
    session.commit()
    return built


def donate(client, project_id: int, headers: dict[str, str], **body: object) -> dict:  # type: ignore[no-untyped-def]
    response = client.post(
        f"{API}/projects/{project_id}/donations", json=body, headers={**headers, **DEVICE}
    )
    assert response.status_code == 201, response.text
    return response.json()


def pay(client, session: Session, donation: dict, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    out_trade_no = donation["checkout_href"].rsplit("/", 1)[1]
    paid = client.post(f"/api/v1/payments/sandbox/{out_trade_no}/pay", headers=headers)
    assert paid.status_code == 200, paid.text
    # The counters move by UPDATEs the test's one session has not seen; a request of the
    # running service reads them in a session of its own.
    session.expire_all()


def is_problem(response, status: int) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == status and response.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_a_paid_donation_shows_its_match(client, world: World, session: Session) -> None:  # type: ignore[no-untyped-def]
    g = giving(session, world)
    donor = api_token(client, g.donors[0].phone, DONATE)
    listed = client.get(f"{API}/projects", params={"campaign_id": g.campaign.id}).json()
    assert [p["id"] for p in listed["items"]] == [g.project.id]

    donation = donate(client, g.project.id, donor, amount_fen=10_000, message="加油")
    assert donation["status"] == "pending" and donation["matched_fen"] == 0
    assert donation["checkout_href"].startswith("/payments/sandbox/")
    pay(client, session, donation, donor)

    seen = client.get(f"{API}/donations/{donation['code']}", headers=donor).json()
    assert seen["status"] == "paid" and seen["checkout_href"] is None
    assert (seen["matched_fen"], seen["match_status"]) == (10_000, "credited")
    mine = client.get(f"{API}/donations/mine", headers=donor).json()
    assert [d["code"] for d in mine["items"]] == [donation["code"]]

    project = client.get(f"{API}/projects/{g.project.id}").json()
    assert (project["raised_fen"], project["matched_fen"]) == (10_000, 10_000)
    assert [c["id"] for c in project["campaigns"]] == [g.campaign.id]
    assert len(project["budget_lines"]) == 2
    campaign = client.get(f"{API}/campaigns/{g.campaign.id}").json()
    assert campaign["pots"][0]["remaining_fen"] == g.pot.total_fen - 10_000

    ledger = client.get(f"{API}/projects/{g.project.id}/ledger", params={"limit": 1})
    page = ledger.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        f"{API}/projects/{g.project.id}/ledger", params={"cursor": page["next_cursor"]}
    ).json()
    kinds = {e["kind"] for e in page["items"] + rest["items"]}
    assert kinds == {"donation", "match"}
    # The public answers never carry a donor's name or phone number.
    for text in (ledger.text, client.get(f"{API}/projects/{g.project.id}").text):
        assert g.donors[0].name not in text and g.donors[0].phone not in text


def test_bad_input_is_refused_and_changes_nothing(  # type: ignore[no-untyped-def]
    client, world: World, session: Session
) -> None:
    g = giving(session, world)
    donor = api_token(client, g.donors[0].phone, DONATE)
    url = f"{API}/projects/{g.project.id}/donations"
    for amount in (0, -5, 5_000_001):
        refused = client.post(url, json={"amount_fen": amount}, headers=donor)
        assert is_problem(refused, 422), refused.text
    assert client.post(url, json={}, headers=donor).status_code == 422
    # Without the donating scope, and without a token at all.
    staff = api_token(client, g.staff.phone, ["charity.manage"])
    assert is_problem(client.post(url, json={"amount_fen": 100}, headers=staff), 403)
    assert is_problem(client.post(url, json={"amount_fen": 100}), 401)
    assert session.scalar(select(func.count()).select_from(Donation)) == 0


def test_a_donation_after_the_window_is_not_matched(  # type: ignore[no-untyped-def]
    client, world: World, session: Session
) -> None:
    g = giving(session, world)
    session.execute(
        update(Campaign)
        .where(Campaign.id == g.campaign.id)
        .values(ends_at=utcnow() - timedelta(minutes=1))
    )
    session.commit()
    donor = api_token(client, g.donors[0].phone, DONATE)
    donation = donate(client, g.project.id, donor, amount_fen=10_000)
    pay(client, session, donation, donor)
    seen = client.get(f"{API}/donations/{donation['code']}", headers=donor).json()
    assert seen["status"] == "paid"
    assert (seen["matched_fen"], seen["match_status"]) == (0, None)
    assert session.scalar(select(func.count()).select_from(Match)) == 0
    pot = client.get(f"{API}/campaigns/{g.campaign.id}").json()["pots"][0]
    assert pot["remaining_fen"] == pot["total_fen"]


def test_a_forged_payment_notification_pays_nothing(  # type: ignore[no-untyped-def]
    client, world: World, session: Session
) -> None:
    g = giving(session, world)
    donor = api_token(client, g.donors[0].phone, DONATE)
    donation = donate(client, g.project.id, donor, amount_fen=2_000)
    payment = session.scalar(select(Payment).where(Payment.reference == donation["code"]))
    assert payment is not None
    headers, body = payments.sandbox_notification(session, payment)
    forged = {
        key: base64.b64encode(b"\x00" * 256).decode()
        if key.lower() == "wechatpay-signature"
        else value
        for key, value in headers.items()
    }
    assert forged != headers
    answer = client.post("/api/v1/payments/notifications/sandbox", content=body, headers=forged)
    assert answer.status_code == 401, answer.text
    seen = client.get(f"{API}/donations/{donation['code']}", headers=donor).json()
    assert seen["status"] == "pending" and seen["checkout_href"]
    project = session.get(Project, g.project.id)
    assert project is not None
    session.refresh(project)
    assert (project.raised_fen, project.matched_fen) == (0, 0)


def test_the_public_sees_donors_masked_and_anonymous_ones_unnamed(  # type: ignore[no-untyped-def]
    client, world: World, session: Session
) -> None:
    g = giving(session, world)
    named, hidden = g.donors[0], g.donors[1]
    for person, anonymous in ((named, False), (hidden, True)):
        token = api_token(client, person.phone, DONATE)
        pay(
            client,
            session,
            donate(client, g.project.id, token, amount_fen=500, anonymous=anonymous),
            token,
        )

    answer = client.get(f"{API}/projects/{g.project.id}/donations", params={"limit": 1})
    first = answer.json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = client.get(
        f"{API}/projects/{g.project.id}/donations", params={"cursor": first["next_cursor"]}
    ).json()
    # Newest first: the anonymous gift was the later one.
    donors = [d["donor"] for d in first["items"] + second["items"]]
    assert donors[0] in ("匿名爱心人士", "Anonymous donor")
    assert donors[1] == named.name[0] + "*" * (len(named.name) - 1)
    text = answer.text + str(second)
    for person in (named, hidden):
        assert person.name not in text and person.phone not in text


def test_a_stranger_cannot_see_anothers_donation(  # type: ignore[no-untyped-def]
    client, world: World, session: Session
) -> None:
    g = giving(session, world)
    donor = api_token(client, g.donors[0].phone, DONATE)
    donation = donate(client, g.project.id, donor, amount_fen=1_000)
    stranger = api_token(client, world.outsider.phone, DONATE)
    assert is_problem(client.get(f"{API}/donations/{donation['code']}", headers=stranger), 404)
    assert client.get(f"{API}/donations/mine", headers=stranger).json()["items"] == []
    # Nor refund it: only the receiving charity's staff may.
    refused = client.post(
        f"{API}/donations/{donation['code']}/refund", json={"reason": "退款"}, headers=stranger
    )
    assert refused.status_code in (403, 404)


def test_spending_past_a_budget_line_or_approving_ones_own_is_refused(  # type: ignore[no-untyped-def]
    client, charity_world: CharityWorld, session: Session
) -> None:
    cw = charity_world
    session.commit()
    manager = api_token(client, cw.manager.phone, STAFF)
    project_url = f"{API}/projects/{cw.project.id}/expenses"
    too_much = client.post(
        project_url,
        json={
            "budget_line_id": cw.supplies.id,
            "amount_fen": cw.supplies.budget_fen + 1,
            "payee": "县新华书店",
            "description": "图书",
            "invoice_number": "No.0001",
        },
        headers=manager,
    )
    assert too_much.status_code == 201, too_much.text
    over = client.post(f"{API}/expenses/{too_much.json()['id']}/submit", headers=manager)
    assert is_problem(over, 409), over.text
    expense = session.get(Expense, too_much.json()["id"])
    assert expense is not None
    session.refresh(expense)
    session.refresh(cw.supplies)
    assert (expense.status, cw.supplies.committed_fen) == ("draft", 0)

    fits = client.post(
        project_url,
        json={
            "budget_line_id": cw.supplies.id,
            "amount_fen": 20_000,
            "payee": "县新华书店",
            "description": "图书",
            "invoice_number": "No.0002",
        },
        headers=manager,
    ).json()
    submitted = client.post(f"{API}/expenses/{fits['id']}/submit", headers=manager)
    assert submitted.json()["status"] == "pending", submitted.text
    own = client.post(f"{API}/expenses/{fits['id']}/approve", headers=manager)
    assert is_problem(own, 403), own.text
    listed = client.get(project_url, headers=manager).json()
    assert {e["id"]: e["approvals"] for e in listed} == {too_much.json()["id"]: 0, fits["id"]: 0}

    finance = api_token(client, cw.finance[0].phone, ["charity.approve"])
    approved = client.post(f"{API}/expenses/{fits['id']}/approve", headers=finance)
    assert approved.json()["approvals"] == 1, approved.text
    # Bad shapes are refused before anything is read.
    assert is_problem(client.post(project_url, json={"amount_fen": 0}, headers=manager), 422)


def test_pots_and_campaigns_are_public_but_only_their_runners_add(  # type: ignore[no-untyped-def]
    client, world: World, session: Session
) -> None:
    g = giving(session, world)
    assert [c["id"] for c in client.get(f"{API}/campaigns").json()] == [g.campaign.id]
    outsider = api_token(client, world.outsider.phone, ["charity.campaign"])
    refused = client.post(
        f"{API}/campaigns/{g.campaign.id}/pots",
        json={"sponsor": "某公司", "total_fen": 100_000},
        headers=outsider,
    )
    assert is_problem(refused, 404)
    assert session.scalar(select(func.count()).select_from(Pot)) == 1
    assert client.get(f"{API}/projects/999999").status_code == 404
    assert client.get(f"{API}/funds").json() == []
