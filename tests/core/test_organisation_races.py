"""Membership changes raced by real threads against a committed database (PostgreSQL in the
PostgreSQL run): two administrators demoting or removing each other at once leave one
administrator, and a person added twice at once is a member once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import func, select

from gongchuang.core import organisations
from gongchuang.core.db import Database
from gongchuang.core.errors import Conflict, NotFound
from gongchuang.core.models import Membership, OrganisationKind, Person
from gongchuang.core.permissions import SYSTEM, Principal
from tests.points.test_concurrency import race
from tests.support.databases import fresh_database
from tests.support.world import build_world, make_person


@pytest.fixture
def db(tmp_path: Path):
    with fresh_database(tmp_path, "org_race") as database:
        yield database


def at_once(db: Database, callables) -> tuple[int, list[BaseException]]:  # type: ignore[no-untyped-def]
    """`race` with a connection already open for each thread, so that none starts late for
    want of one."""
    connections = [db.engine.connect() for _ in callables]
    for connection in connections:
        connection.close()
    return race(callables)


# How long a held thread waits for the others: with the rule held they queue behind it and
# never finish, so this is what each such test costs once the rule holds.
HOLD_SECONDS = 1.5


def held_after(
    monkeypatch: pytest.MonkeyPatch,
    module: ModuleType,
    name: str,
    first: Callable[[], None],
    others: list[Callable[[], None]],
) -> list[Callable[[], None]]:
    """`first` and `others` for `race`, with `first` held just after it returns from
    `module.name` (it has read what the rule checks) until the others have finished: the
    interleaving that breaks a check not held until commit, made certain."""
    real = getattr(module, name)
    holder: list[int] = []
    reached, finished = threading.Event(), threading.Event()
    remaining = [len(others)]
    count = threading.Lock()

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real(*args, **kwargs)
        if threading.get_ident() in holder:
            reached.set()
            finished.wait(HOLD_SECONDS)
        return result

    monkeypatch.setattr(module, name, held)

    def run_first() -> None:
        holder.append(threading.get_ident())
        first()

    def after(other: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            reached.wait(10)
            try:
                other()
            finally:
                with count:
                    remaining[0] -= 1
                    if not remaining[0]:
                        finished.set()

        return run

    return [run_first, *[after(other) for other in others]]


ADMINS = ("队长", "副队长", "联络员")


def _two_admins(db: Database, count: int = 2) -> tuple[int, dict[str, tuple[int, int]]]:
    """A volunteer team run by two (or `count`) administrators: their person and membership
    ids."""
    with db.transaction() as session:
        world = build_world(session)
        team = organisations.create_organisation(
            session, SYSTEM, name="志愿服务队", kind=OrganisationKind.ngo, region=world.county
        )
        admins = {}
        for n, name in enumerate(ADMINS[:count]):
            phone = f"1360000000{n + 1}"
            person = make_person(session, phone, name)
            membership = organisations.add_member(
                session, SYSTEM, team, phone=phone, roles=["admin", "cadre"], check=False
            )
            admins[name] = (person.id, membership.id)
        return team.id, admins


def _change(db: Database, team_id: int, actor_id: int, membership_id: int, how: str):  # type: ignore[no-untyped-def]
    def run() -> None:
        with db.transaction() as session:
            person = session.get(Person, actor_id)
            actor = Principal(person_id=person.id, name=person.name)
            team = organisations.get_organisation(session, team_id)
            if how == "remove":
                organisations.remove_member(session, actor, team, membership_id)
            else:
                organisations.set_roles(session, actor, team, membership_id, ["cadre"])

    return run


def _assert_refused(db: Database, errors: list[BaseException], refused: str) -> None:
    assert len(errors) == 1, errors
    if not db.is_postgres and "roles" in refused:
        # SQLite runs the deputy's request whole after the captain's (BEGIN IMMEDIATE): it is
        # refused as any later request of someone without the right is.
        assert isinstance(errors[0], NotFound), errors
        return
    assert isinstance(errors[0], Conflict), errors
    assert refused in str(errors[0])


@pytest.mark.parametrize(
    ("captain_does", "deputy_does", "refused"),
    [
        # Each removes or demotes the other: the second has lost the right to.
        (("remove", "副队长"), ("remove", "队长"), "roles in 志愿服务队 changed"),
        (("demote", "副队长"), ("demote", "队长"), "roles in 志愿服务队 changed"),
        (("remove", "副队长"), ("demote", "队长"), "roles in 志愿服务队 changed"),
        # Each steps down or leaves: the second would leave the team without an administrator.
        (("demote", "队长"), ("demote", "副队长"), "at least one administrator"),
        (("remove", "队长"), ("remove", "副队长"), "at least one administrator"),
    ],
)
def test_two_admins_changing_at_once_leave_one_admin(
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    captain_does: tuple[str, str],
    deputy_does: tuple[str, str],
    refused: str,
) -> None:
    team_id, admins = _two_admins(db)
    (how, whom), (then, whom_then) = captain_does, deputy_does
    succeeded, errors = at_once(
        db,
        held_after(
            monkeypatch,
            organisations,
            "_would_leave_no_admin",
            _change(db, team_id, admins["队长"][0], admins[whom][1], how),
            [_change(db, team_id, admins["副队长"][0], admins[whom_then][1], then)],
        ),
    )
    with db.transaction(write=False) as session:
        roles = session.scalars(
            select(Membership.roles).where(Membership.organisation_id == team_id)
        ).all()
        assert sum("admin" in r for r in roles) == 1
    assert succeeded == 1
    _assert_refused(db, errors, refused)


def test_an_admin_removed_meanwhile_no_longer_removes_another(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of three administrators, the captain removes the deputy while the deputy removes the
    captain: the deputy, removed first, may no longer act."""
    team_id, admins = _two_admins(db, 3)
    (captain, captain_membership), (deputy, deputy_membership) = admins["队长"], admins["副队长"]
    succeeded, errors = at_once(
        db,
        held_after(
            monkeypatch,
            organisations,
            "_would_leave_no_admin",
            _change(db, team_id, captain, deputy_membership, "remove"),
            [_change(db, team_id, deputy, captain_membership, "remove")],
        ),
    )
    with db.transaction(write=False) as session:
        left = session.scalars(
            select(Person.name)
            .join(Membership, Membership.person_id == Person.id)
            .where(Membership.organisation_id == team_id)
        ).all()
        assert sorted(left) == sorted(["队长", "联络员"])
    assert succeeded == 1
    _assert_refused(db, errors, "roles in 志愿服务队 changed")


def test_a_person_added_twice_at_once_is_a_member_once(db: Database) -> None:
    team_id, admins = _two_admins(db)
    captain = admins["队长"][0]
    with db.transaction() as session:
        newcomer = make_person(session, "13600000003", "新队员").phone

    def add() -> None:
        with db.transaction() as session:
            person = session.get(Person, captain)
            organisations.add_member(
                session,
                Principal(person_id=person.id, name=person.name),
                organisations.get_organisation(session, team_id),
                phone=newcomer,
                roles=["member"],
            )

    succeeded, errors = at_once(db, [add for _ in range(3)])
    assert succeeded == 1, errors
    assert len(errors) == 2 and all(isinstance(e, Conflict) for e in errors), errors
    assert "新队员 is already a member" in str(errors[0])
    with db.transaction(write=False) as session:
        joined = session.scalar(
            select(func.count(Membership.id))
            .join(Person, Person.id == Membership.person_id)
            .where(Person.phone == newcomer)
        )
        assert joined == 1
