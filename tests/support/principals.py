"""Who a service call is made on behalf of, as the tests name it."""

from __future__ import annotations

from gongchuang.core.models import Person
from gongchuang.core.permissions import Principal


def acting(person: Person) -> Principal:
    """The principal of `person` acting in their own name, as a request of theirs would be."""
    return Principal(person_id=person.id, name=person.name)
