"""Cursor pagination: stable under inserts, cheap at any depth (keyset on the id)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gongchuang.core.errors import InvalidInput
from gongchuang.core.i18n import N_

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":", 1)
        if prefix != "id":
            raise ValueError(prefix)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            N_("The cursor is not valid"),
            errors=[{"field": "cursor", "message": N_("not a cursor this list gave")}],
        ) from exc


def paginate(
    session: Session,
    query: Select[Any],
    id_column: InstrumentedAttribute[int],
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(id_column > after)
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)).unique())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


# --- numbered pages, for lists people read -----------------------------------------------------
# A person filtering a list wants "page 2 of 3, 46 activities" and a link they can share, in the
# order that matters to them (the next date, not the id): offset pages with a count. Cheap at
# the sizes shown on a page (a filter narrows first); the API's long lists keep the cursor.


class NumberedPage(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """The 1-based position of the first item shown (0 when there is none)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def numbered_page(
    session: Session, query: Select[Any], page: int, per_page: int, *, past_end: bool = False
) -> NumberedPage[Any]:
    """One page of an ordered query and the count of all its rows. A page past the end (a shared
    link after the list shrank) shows the last page, unless past_end (an API client paging
    until a page comes back empty). Rows of one entity come back as entities, rows of several
    columns as tuples."""
    per_page = max(1, min(per_page, MAX_LIMIT))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = max(1, page if past_end else min(page, pages))
    window = query.limit(per_page).offset((page - 1) * per_page)
    result = session.execute(window).unique()
    items: list[Any] = (
        list(result.scalars())
        if len(query.column_descriptions) == 1
        else [tuple(r) for r in result]
    )
    return NumberedPage[Any](items=items, total=total, page=page, per_page=per_page)
