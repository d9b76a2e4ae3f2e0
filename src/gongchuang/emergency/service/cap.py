"""The incident as a CAP 1.2 public-warning alert (OASIS Common Alerting Protocol).

The message is read by the receiving centre and the public it warns, so it is written in the
centre's language (Simplified Chinese unless told otherwise), never in the language of whoever
fetched it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from gongchuang.core.clock import utcnow
from gongchuang.core.i18n import DEFAULT_LOCALE, N_, html_lang, translations
from gongchuang.emergency.models import Incident, IncidentStatus

CARDIAC_ARREST = N_("Cardiac arrest: first aid needed")
MEDICAL_EMERGENCY = N_("Medical emergency")
HEADLINE_OPEN = N_("Someone nearby needs first aid; certified first-aiders, please go")
HEADLINE_CLOSED = N_("The first-aid incident is over")
INSTRUCTION = N_(
    "Volunteers with a valid first-aid certificate, please accept the task in the app; "
    "everyone else, please call 120 and keep the way clear."
)


def cap_xml(
    session: Session, incident: Incident, sender: str, locale: str = DEFAULT_LOCALE
) -> bytes:
    """The incident as a CAP 1.2 alert (OASIS), for public-warning systems, its texts in
    `locale` (the receiving centre's language)."""
    words = translations(locale).ugettext
    from xml.etree import ElementTree as ET

    ns = "urn:oasis:names:tc:emergency:cap:1.2"
    ET.register_namespace("", ns)
    root = ET.Element(f"{{{ns}}}alert")

    def add(parent: ET.Element, tag: str, text: str) -> ET.Element:
        child = ET.SubElement(parent, f"{{{ns}}}{tag}")
        child.text = text
        return child

    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "-00:00")

    closed = incident.status in (IncidentStatus.closed, IncidentStatus.cancelled)
    add(root, "identifier", f"gongchuang-{incident.reference}")
    add(root, "sender", sender)
    add(root, "sent", stamp(incident.closed_at if closed and incident.closed_at else utcnow()))
    add(root, "status", "Actual")
    add(
        root,
        "msgType",
        "Cancel"
        if incident.status == IncidentStatus.cancelled
        else ("Update" if closed else "Alert"),
    )
    add(root, "scope", "Public")
    info = ET.SubElement(root, f"{{{ns}}}info")
    add(info, "language", html_lang(locale))
    add(info, "category", "Health")
    add(
        info,
        "event",
        words(CARDIAC_ARREST if incident.kind == "cardiac_arrest" else MEDICAL_EMERGENCY),
    )
    add(info, "responseType", "AllClear" if closed else "Prepare")
    add(info, "urgency", "Past" if closed else "Immediate")
    add(info, "severity", "Severe")
    add(info, "certainty", "Observed")
    add(info, "senderName", sender)
    add(info, "headline", words(HEADLINE_CLOSED if closed else HEADLINE_OPEN))
    add(info, "description", incident.address or "")
    add(info, "instruction", words(INSTRUCTION))
    area = ET.SubElement(info, f"{{{ns}}}area")
    add(area, "areaDesc", incident.address or incident.reference)
    # A public message names an area, not the patient's doorstep: 300 m, rounded centre.
    add(area, "circle", f"{incident.lat:.3f},{incident.lng:.3f} 0.3")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
