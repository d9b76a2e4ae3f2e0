from sqlalchemy import text
from sqlalchemy.orm import Session

from gongchuang.core import audit
from gongchuang.core.models import AuditEntry
from gongchuang.core.permissions import SYSTEM


def test_chain_verifies_and_names_an_edited_entry(session: Session, world) -> None:
    assert audit.verify_chain(session).waiting > 10  # written, not chained yet
    assert audit.seal(session, wait=True) > 10
    report = audit.verify_chain(session)
    assert report.waiting == 0
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
    audit.seal(session, wait=True)
    entries = session.query(AuditEntry).order_by(AuditEntry.seq).all()
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
    assert entry.entry_hash is None  # chained once committed, by the sealer
    audit.seal(session, wait=True)
    assert entry.entry_hash is not None and len(entry.entry_hash) == 64
    assert entry.prev_hash != entry.entry_hash


def test_entries_are_chained_in_the_order_they_are_sealed(session: Session) -> None:
    first = audit.record(session, SYSTEM, "thing.a", "thing", 1)
    audit.seal(session, wait=True)
    first_seq, first_hash = first.seq, first.entry_hash
    second_id = audit.record(session, SYSTEM, "thing.b", "thing", 2).id
    assert audit.verify_chain(session).waiting == 1
    assert audit.seal(session, wait=True) == 1
    second = session.get(AuditEntry, second_id)
    assert second is not None
    assert second.seq == (first_seq or 0) + 1 and second.prev_hash == first_hash
    assert audit.seal(session, wait=True) == 0
