"""The growth diary: the farmer's notes and photos from the field; adopters are told."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongchuang.adoption.models import HOLDING, AdoptionOrder, DiaryPost, Offering, OfferingStatus
from gongchuang.adoption.schemas import DiaryPostIn
from gongchuang.adoption.service._common import offering_to_manage
from gongchuang.core import audit, events, files, notifications
from gongchuang.core.errors import InvalidInput, NotFound
from gongchuang.core.i18n import N_
from gongchuang.core.models import StoredFile
from gongchuang.core.permissions import Principal
from gongchuang.topics.adoption import DiaryPosted


def check_own_photos(
    session: Session, actor: Principal, file_ids: list[int], field: str = "photo_file_ids"
) -> None:
    """Photos are the poster's own uploads, and images."""
    if not file_ids:
        return
    found = session.scalars(select(StoredFile).where(StoredFile.id.in_(file_ids))).all()
    mine = {
        f.id
        for f in found
        if f.uploader_person_id == actor.person_id and f.content_type in files.IMAGE_TYPES
    }
    if set(file_ids) - mine:
        raise InvalidInput(
            N_("A photo was not found among your uploads"),
            errors=[{"field": field, "message": N_("not one of your photos")}],
        )


def post(session: Session, actor: Principal, offering_id: int, command: DiaryPostIn) -> DiaryPost:
    offering = offering_to_manage(session, actor, offering_id)
    if actor.person_id is None:
        raise LookupError("a diary post needs a person")
    check_own_photos(session, actor, command.photo_file_ids)
    entry = DiaryPost(
        offering_id=offering.id,
        author_id=actor.person_id,
        body=command.body,
        photo_file_ids=list(command.photo_file_ids),
        video_url=command.video_url,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor,
        "adoption.diary.post",
        "adoption_diary_post",
        entry.id,
        after={"offering_id": offering.id, "photos": len(entry.photo_file_ids)},
    )
    events.publish(
        session,
        DiaryPosted(
            organisation_id=offering.organisation_id, offering_id=offering.id, post_id=entry.id
        ),
    )
    _tell_adopters(session, offering, entry)
    return entry


def _tell_adopters(session: Session, offering: Offering, entry: DiaryPost) -> None:
    adopters = session.scalars(
        select(AdoptionOrder.adopter_id)
        .where(
            AdoptionOrder.offering_id == offering.id,
            AdoptionOrder.status.in_([s.value for s in HOLDING]),
        )
        .distinct()
    )
    for person_id in adopters:
        notifications.notify(
            session,
            person_id,
            kind="adoption.diary",
            title=N_("News from your field: %(title)s"),
            params={"title": offering.title},
            link=f"/adoption/offerings/{offering.id}#diary",
        )


def posts(session: Session, offering_id: int, limit: int = 50) -> list[DiaryPost]:
    return list(
        session.scalars(
            select(DiaryPost)
            .where(DiaryPost.offering_id == offering_id)
            .order_by(DiaryPost.id.desc())
            .limit(limit)
        )
    )


def diary_photo(session: Session, post_id: int, index: int) -> tuple[StoredFile, bytes]:
    """A diary photo, public as the diary is (the season is not a draft)."""
    entry = session.get(DiaryPost, post_id)
    offering = session.get(Offering, entry.offering_id) if entry else None
    if entry is None or offering is None or offering.status == OfferingStatus.draft:
        raise NotFound()
    if not 0 <= index < len(entry.photo_file_ids):
        raise NotFound()
    stored = session.get(StoredFile, entry.photo_file_ids[index])
    if stored is None:
        raise NotFound()
    return stored, files.storage().load(stored.storage_key)
