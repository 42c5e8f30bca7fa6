"""CSRF: every form carries the session's token; a post without it, or with another, is refused.

Signed-in forms use the token stored with the session (synchroniser token); the sign-in
form, before any session, uses a double-submit cookie.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData

__all__ = ["LOGIN_COOKIE", "new_login_token", "token_matches"]

LOGIN_COOKIE = "ff_login"
FIELD = "csrf_token"


def new_login_token() -> str:
    """A fresh token for the sign-in form and its cookie."""
    return secrets.token_urlsafe(24)


def token_matches(form: FormData, expected: str | None) -> bool:
    """Whether the form's token is ``expected`` (compared in constant time)."""
    given = form.get(FIELD)
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
