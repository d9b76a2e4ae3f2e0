"""HTML forms read into the command models the API takes for the same work, so that a page
and the API cannot differ: a blank field is a field not given (the model's default applies), an
amount typed in yuan becomes fen before the model sees it, and each problem is said beside the
field as the form names it, in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel

from gongchuang.core import money
from gongchuang.core.errors import InvalidInput, dotted, parse_command
from gongchuang.core.i18n import N_

Command = TypeVar("Command", bound=BaseModel)


def parse_form(
    model: type[Command],
    values: Mapping[str, object],
    names: Mapping[str, str] | None = None,
    *,
    rule_field: str = "body",
) -> Command:
    """`values` (a form's fields, already converted where the form speaks yuan or local time)
    read into `model`. `names` maps a model field, a dotted place ("shifts.0.capacity") or a
    row's field ("budget_lines.name": the rows of a form share their names) to the form's name
    where they differ; a rule of the whole model is said beside `rule_field`."""
    given = {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
    renamed = names or {}

    def form_name(loc: tuple[int | str, ...]) -> str:
        if not loc:
            return rule_field
        place = dotted(loc)
        if place in renamed:
            return renamed[place]
        if len(loc) == 3 and f"{loc[0]}.{loc[2]}" in renamed:
            return renamed[f"{loc[0]}.{loc[2]}"]
        return renamed.get(str(loc[0]), place)

    return parse_command(model, given, name=form_name)


def fen_from_yuan(value: object, field: str, *, allow_zero: bool = False) -> int | str:
    """An amount typed in yuan (6, 6.5 or 6.05) in fen; left blank when blank, so that the
    command model says it is missing (or applies its default)."""
    text = value if isinstance(value, str) else ""
    return money.yuan_to_fen(text, field, allow_zero=allow_zero) if text.strip() else ""


def whole_number(value: object, field: str, default: int | None = None) -> int:
    """An id or a count typed in a form (`default` when blank, if given), refused beside its
    field when it is not one."""
    text = value.strip() if isinstance(value, str) else ""
    if not text and default is not None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        raise InvalidInput(
            N_("%(field)s: a whole number is needed"),
            field=field,
            errors=[{"field": field, "message": N_("not a whole number")}],
        )
    return int(text)
