"""The emergency service's commands as the tests write them: the same models the API and the
pages read their input into, built from a place given as (lat, lng)."""

from __future__ import annotations

from gongchuang.emergency.schemas import DutyIn, PointIn, SosIn


def duty(
    on_duty: bool, place: tuple[float, float] | None = None, consent_location: bool = False
) -> DutyIn:
    location = PointIn(lat=place[0], lng=place[1]) if place is not None else None
    return DutyIn(on_duty=on_duty, location=location, consent_location=consent_location)


def sos(kind: str, place: tuple[float, float], address: str = "", notes: str = "") -> SosIn:
    return SosIn.model_validate(
        {"kind": kind, "lat": place[0], "lng": place[1], "address": address, "notes": notes}
    )
