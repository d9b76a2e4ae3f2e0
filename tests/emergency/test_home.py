"""A responder's home page block: the alerts still open for them, gone once the incident
closes or they decline."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.emergency import service
from gongchuang.emergency.models import Alert
from gongchuang.emergency.schemas import AlertAnswer, OutcomeIn
from tests.conftest import login
from tests.emergency.conftest import EmergencyWorld
from tests.support.principals import acting


def test_open_alerts_on_the_responders_home_page(client, session: Session, ew: EmergencyWorld):
    north, _south, east = ew.responders
    assert service.home_summary(session, acting(north)) is None
    incident, _ = ew.receive(session)
    alerts = {a.person_id: a for a in session.scalars(select(Alert))}
    service.answer(session, acting(east), alerts[east.id].id, AlertAnswer(accept=False))
    [(alert, _)] = service.home_summary(session, acting(north)) or []
    assert alert.id == alerts[north.id].id
    assert service.home_summary(session, acting(east)) is None  # declined
    session.commit()
    login(client, north.phone)
    html = client.get("/").text
    assert f'href="/emergency/alerts/{alert.id}"' in html
    # Urgent: the alerts come before any other block of the person's own.
    first_block = html.split('data-testid="home-blocks"')[1].split("<section")[1]
    assert 'data-testid="home-alerts"' in first_block.split(">")[0]
    service.close(session, acting(ew.dispatcher), incident, OutcomeIn())
    assert service.home_summary(session, acting(north)) is None
