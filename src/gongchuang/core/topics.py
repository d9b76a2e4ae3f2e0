"""The core's own events (the credential registry): what a module may subscribe to, and
webhooks may carry."""

from __future__ import annotations

from datetime import datetime

from gongchuang.core.events import Event
from gongchuang.core.i18n import N_


class CredentialIssued(Event):
    topic = "credential.issued"
    label = N_("A credential was issued")

    credential_id: int
    person_id: int
    kind: str
    organisation_id: int


class CredentialRevoked(Event):
    topic = "credential.revoked"
    label = N_("A credential was revoked")

    credential_id: int
    person_id: int
    organisation_id: int


class CredentialExpiring(Event):
    topic = "credential.expiring"
    label = N_("A credential expires soon")

    credential_id: int
    person_id: int
    kind: str
    valid_until: datetime
    organisation_id: int


CORE_TOPICS: tuple[type[Event], ...] = (CredentialIssued, CredentialRevoked, CredentialExpiring)
