"""Translations through Babel. Source strings are English; Simplified Chinese is the default.

The locale of the current request lives in a context variable so that services, templates and
error handlers all speak the user's language without passing it around.
"""

from __future__ import annotations

import contextvars
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
SUPPORTED_LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"

current_locale: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_locale", default=DEFAULT_LOCALE
)


@cache
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


class Phrase(str):
    """A message with its parameters, said in the reader's language wherever it is shown. As a
    string it is the English text with the parameters in (what logs, tests and the API's
    `errors` list carry); `gettext` says it in the reader's language. For messages made where
    the reader is not known (a spreadsheet row's problem, a field's), instead of an f-string."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Phrase:
        phrase = super().__new__(cls, msgid % params if params else msgid)
        phrase.msgid = msgid
        phrase.params = params
        return phrase


def gettext(message: str, **params: Any) -> str:
    # gettext("") is the catalogue's header ("Project-Id-Version: …"), never a message: an
    # empty text (a notification without a body, an optional label) stays empty.
    if not message:
        return ""
    if isinstance(message, Phrase):
        params = {**message.params, **params}
        message = message.msgid
    text = translations(current_locale.get()).ugettext(message)
    return text % params if params else text


def translatable(*messages: str) -> dict[str, list[str]]:
    """A stored parameter (of a notification, say) that is one or more message ids: kept as ids
    and translated when shown, in the reader's language (`shown_param`)."""
    return {"msgids": list(messages)}


def shown_param(value: Any) -> Any:
    if isinstance(value, Phrase):
        return gettext(value)
    if isinstance(value, dict) and isinstance(value.get("msgids"), list):
        separator = "、" if current_locale.get() == "zh_CN" else ", "
        return separator.join(gettext(str(m)) for m in value["msgids"])
    return value


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    text = translations(current_locale.get()).ungettext(singular, plural, n)
    return text % {"num": n, **params}


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where it is shown."""
    return message


_ = gettext


def negotiate(*candidates: str | None) -> str:
    """The first supported locale among explicit choices and Accept-Language entries."""
    for candidate in candidates:
        if not candidate:
            continue
        for part in candidate.split(","):
            tag = part.split(";")[0].strip().replace("-", "_")
            if not tag:
                continue
            try:
                parsed = Locale.parse(tag)
            except (ValueError, TypeError):
                continue
            if parsed.language == "zh":
                return "zh_CN"
            if parsed.language == "en":
                return "en"
    return DEFAULT_LOCALE


def html_lang(locale: str) -> str:
    return "zh-CN" if locale == "zh_CN" else "en"
