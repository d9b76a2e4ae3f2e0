"""Domain errors. Each carries its HTTP status and a translatable message; one handler renders
them as problem+json (API) or a friendly page (HTML)."""

from __future__ import annotations

from typing import Any

from gongchuang.core.i18n import N_, gettext


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
        return gettext(self.message, **self.params)


class InvalidInput(GongchuangError):
    status_code = 422
    type_slug = "invalid-input"
    title = N_("Some of the input is not valid")


def refuse_if_any(errors: list[dict[str, Any]]) -> None:
    """Refuse input with every field's problem listed, the first one named in the message (a
    form shows one line; the API lists them all)."""
    if errors:
        raise InvalidInput(
            N_("%(field)s: %(problem)s"),
            field=errors[0]["field"],
            problem=errors[0]["message"],
            errors=errors,
        )


def refuse_bad_rows(errors: list[dict[str, Any]]) -> None:
    """Refuse a spreadsheet import: every bad row listed with its line, the first one in the
    message, and nothing stored."""
    if errors:
        raise InvalidInput(
            N_("Line %(line)s: %(problem)s. Nothing from this file was stored."),
            line=errors[0]["line"],
            problem=errors[0]["message"],
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


class MethodNotAllowed(GongchuangError):
    status_code = 405
    type_slug = "method-not-allowed"
    title = N_("This address does not accept this kind of request")


class UnsupportedMediaType(GongchuangError):
    status_code = 415
    type_slug = "unsupported-media-type"
    title = N_("This type of file is not accepted")
