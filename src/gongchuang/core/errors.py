"""Domain errors. Each carries its HTTP status and a translatable message; one handler renders
them as problem+json (API) or a friendly page (HTML)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gongchuang.core.i18n import N_, Phrase, gettext, shown_param

M = TypeVar("M", bound=BaseModel)


class GongchuangError(Exception):
    status_code = 400
    type_slug = "bad-request"
    title = N_("The request could not be completed")

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> None:
        self.message = message or self.title
        self.params = params
        self.errors = errors or []
        super().__init__(self.message % params if params else self.message)

    def detail(self) -> str:
        # A parameter that is itself a message (a row's problem) is said in the same language.
        return gettext(self.message, **{k: shown_param(v) for k, v in self.params.items()})


class InvalidInput(GongchuangError):
    status_code = 422
    type_slug = "invalid-input"
    title = N_("Some of the input is not valid")


FIELD_PROBLEM = N_("%(field)s: %(problem)s")


def said(message: Any) -> Any:
    """A field's or row's message as a headline's parameter: a message id (or a Phrase) said
    in the reader's language with the headline; any other text as it is (gettext leaves text
    that is not in the catalogue alone)."""
    return (
        message if isinstance(message, Phrase) or not isinstance(message, str) else Phrase(message)
    )


def refuse_if_any(errors: list[dict[str, Any]]) -> None:
    """Refuse input with every field's problem listed, the first one named in the message (a
    form shows one line; the API lists them all)."""
    if errors:
        raise InvalidInput(
            FIELD_PROBLEM,
            field=errors[0]["field"],
            problem=said(errors[0]["message"]),
            errors=errors,
        )


def refuse_bad_rows(errors: list[dict[str, Any]]) -> None:
    """Refuse a spreadsheet import: every bad row listed with its line, the first one in the
    message, and nothing stored."""
    if errors:
        raise InvalidInput(
            N_("Line %(line)s: %(problem)s. Nothing from this file was stored."),
            line=errors[0]["line"],
            problem=said(errors[0]["message"]),
            errors=errors,
        )


class NotFound(GongchuangError):
    status_code = 404
    type_slug = "not-found"
    title = N_("Not found, or you do not have access to it")


class AuthenticationRequired(GongchuangError):
    status_code = 401
    type_slug = "authentication-required"
    title = N_("Please log in first")


class PermissionDenied(GongchuangError):
    status_code = 403
    type_slug = "permission-denied"
    title = N_("You do not have permission to do this")


class Conflict(GongchuangError):
    status_code = 409
    type_slug = "conflict"
    # Said as the person meets it (not enough points, no place left, already decided): the
    # message says what happened; the title must not read like a database error.
    title = N_("This cannot be done now")


class TooManyAttempts(GongchuangError):
    status_code = 429
    type_slug = "too-many-attempts"
    title = N_("Too many attempts; please wait and try again")


class PayloadTooLarge(GongchuangError):
    status_code = 413
    type_slug = "payload-too-large"
    title = N_("The file is too large")


class ServiceBusy(GongchuangError):
    status_code = 503
    type_slug = "service-busy"
    title = N_("The service is very busy; please try again in a moment")


class MethodNotAllowed(GongchuangError):
    status_code = 405
    type_slug = "method-not-allowed"
    title = N_("This address does not accept this kind of request")


class UnsupportedMediaType(GongchuangError):
    status_code = 415
    type_slug = "unsupported-media-type"
    title = N_("This type of file is not accepted")


# What a form field's problem means to the person who typed it, by pydantic's error type (the
# page answers in these words; the API keeps pydantic's own for developers).
_VALIDATION_WORDS: dict[str, str] = {
    "missing": N_("Please fill this in."),
    "string_too_short": N_("Please write at least %(n)s characters."),
    "string_too_long": N_("Please write at most %(n)s characters."),
    "too_short": N_("Please give at least %(n)s."),
    "too_long": N_("Please give at most %(n)s."),
    "int_parsing": N_("Please enter a whole number."),
    "int_from_float": N_("Please enter a whole number."),
    "float_parsing": N_("Please enter a number."),
    "decimal_parsing": N_("Please enter a number."),
    "greater_than": N_("Please enter a number above %(n)s."),
    "greater_than_equal": N_("Please enter %(n)s or more."),
    "less_than": N_("Please enter a number below %(n)s."),
    "less_than_equal": N_("Please enter %(n)s or less."),
    "date_parsing": N_("Please enter a date such as 2026-03-01."),
    "date_from_datetime_parsing": N_("Please enter a date such as 2026-03-01."),
    "datetime_parsing": N_("Please enter a date and time."),
    "datetime_from_date_parsing": N_("Please enter a date and time."),
    "time_parsing": N_("Please enter a time such as 08:30."),
    "bool_parsing": N_("Please choose yes or no."),
    "literal_error": N_("Please choose one of the options."),
    "enum": N_("Please choose one of the options."),
    "string_pattern_mismatch": N_("This is not in the expected form."),
}
_LIMIT_KEYS = ("min_length", "max_length", "gt", "ge", "lt", "le")


class RuleBroken(ValueError):
    """A command model's own rule across its fields (the end after the start, the budget within
    the goal), raised by a validator with a message id: said in the reader's language on a
    page and in the API's problem details."""


def validation_message(error: dict[str, Any]) -> str:
    """A request validation error said in the reader's language and plain words."""
    broken = (error.get("ctx") or {}).get("error")
    if isinstance(broken, RuleBroken):
        return gettext(str(broken))
    words = _VALIDATION_WORDS.get(str(error.get("type", "")), N_("This is not valid."))
    context = error.get("ctx") or {}
    limit = next((context[k] for k in _LIMIT_KEYS if k in context), None)
    return gettext(words, n=limit) if "%(n)s" in words else gettext(words)


def dotted(loc: tuple[int | str, ...]) -> str:
    """A problem's place as the API names it: "shifts.0.capacity", or "body"."""
    return ".".join(str(part) for part in loc) or "body"


def field_problems(
    problems: list[Any], name: Callable[[tuple[int | str, ...]], str] = dotted
) -> list[dict[str, str]]:
    """Pydantic's problems as the platform answers them: each field's, in plain words."""
    return [{"field": name(p["loc"]), "message": validation_message(dict(p))} for p in problems]


def parse_command(
    model: type[M],
    values: Mapping[str, Any],
    *,
    refused: str = N_("Some of the input is not valid"),
    name: Callable[[tuple[int | str, ...]], str] = dotted,
) -> M:
    """A page's form read into the command model the API takes for the same work, refused as
    the platform refuses a request that does not validate (`name` says a problem's place as the
    form names it, where the form's names are not the model's)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = exc.errors()
    errors = field_problems(problems, name)
    # A rule across fields (the end before the start) is the headline: it has no one field.
    for problem in problems:
        broken = (problem.get("ctx") or {}).get("error")
        if isinstance(broken, RuleBroken):
            raise InvalidInput(str(broken), errors=errors)
    raise InvalidInput(refused, errors=errors)
