"""Languages of the server-rendered pages (admin area, sign-in, invitation): Flask-Babel.

The locale is the ``lang`` cookie when it names a supported language (set by the
language switch in the admin header, and by the panel's language setting), else the
signed-in operator's saved ``users.locale``, else the browser's ``Accept-Language``, else
English. Catalogs live in ``messenger/translations/<lang>/LC_MESSAGES/messages.po``; the
compiled ``.mo`` next to each is committed and a test keeps it in step with the ``.po``.
"""
from __future__ import annotations

from flask import g
from flask import has_request_context
from flask import request

LANGUAGES = ("en", "ru")
LANG_COOKIE = "lang"


def select_locale() -> str:
    """The language for this request: the cookie, the signed-in operator's saved choice, the browser."""
    if not has_request_context():
        return "en"
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    operator = g.get("operator")
    if operator is not None and operator.locale in LANGUAGES:
        return str(operator.locale)
    return request.accept_languages.best_match(LANGUAGES) or "en"


def N_(message: str) -> str:
    """Mark a service message for the catalog; the admin pages translate it when shown."""
    return message
