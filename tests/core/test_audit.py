from sqlalchemy import text
from sqlalchemy.orm import Session

from gongchuang.core import audit
from gongchuang.core.models import AuditEntry
from gongchuang.core.permissions import SYSTEM


def test_chain_verifies_and_names_an_edited_entry(session: Session, world) -> None:
    report = audit.verify_chain(session)
    assert report.ok and report.checked > 10
    target = session.query(AuditEntry).filter_by(action="membership.add").first()
    assert target is not None
    session.execute(
        text("UPDATE audit_entry SET actor_label = 'someone else' WHERE id = :i"), {"i": target.id}
    )
    session.expire_all()
    report = audit.verify_chain(session)
    assert not report.ok
    assert report.broken_entry_id == target.id
    assert "edited" in report.reason


def test_a_deleted_entry_breaks_the_next_link(session: Session, world) -> None:
    entries = session.query(AuditEntry).order_by(AuditEntry.id).all()
    victim, follower = entries[3], entries[4]
    session.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": victim.id})
    session.expire_all()
    report = audit.verify_chain(session)
    assert report.broken_entry_id == follower.id


def test_entries_record_before_and_after(session: Session) -> None:
    entry = audit.record(
        session, SYSTEM, "thing.change", "thing", 7, before={"n": 1}, after={"n": 2}
    )
    assert entry.before == {"n": 1} and entry.after == {"n": 2}
    assert len(entry.entry_hash) == 64 and entry.prev_hash != entry.entry_hash
