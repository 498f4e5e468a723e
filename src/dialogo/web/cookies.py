"""Small signed cookies of the web pages: flash messages, the sign-in form token, the
last workspace visited; and the check that keeps ``next`` URLs on this site.

Sign-in CSRF (there is no session yet, so no session CSRF token): the form is protected by a
*signed double-submit token* plus an *origin check*.

- ``GET /login`` sets a random nonce in the ``dialogo_login`` cookie (HttpOnly, SameSite=Lax,
  path ``/login``, two hours) and puts ``sign(nonce)`` (itsdangerous, keyed by the secret key,
  timestamped) in a hidden field.
- ``POST /login`` accepts the form only if the field's signature is valid and not older than two
  hours *and* its nonce equals the cookie's. A cross-site page can make a browser send the
  cookie (it cannot with SameSite=Lax on a POST) but cannot read it, nor forge a signature.
- When the browser sends ``Origin``, it must be this site's own origin.

After sign-in every POST carries the session's own CSRF token (``check_csrf`` in
``dialogo.api.deps``): a hidden ``csrf_token`` field in forms, the ``X-CSRF-Token`` header that
``hx-headers`` on ``<body>`` adds to htmx requests.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from dialogo.accounts.security import constant_time_equal

FLASH_COOKIE = "dialogo_flash"
LOGIN_COOKIE = "dialogo_login"
WORKSPACE_COOKIE = "dialogo_workspace"
LOGIN_TOKEN_MAX_AGE = 2 * 3600
LEVELS = ("success", "error", "info")


class Flash:
    def __init__(self, level: str, text: str) -> None:
        self.level = level if level in LEVELS else "info"
        self.text = text


def _flash_serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="dialogo.web.flash")


def flash(response: Response, secret: str, level: str, text: str, *, secure: bool) -> None:
    """Show ``text`` once on the next page this browser renders (after a redirect)."""
    value = _flash_serializer(secret).dumps([[level, text[:500]]])
    response.set_cookie(
        FLASH_COOKIE, value, max_age=300, httponly=True, samesite="lax", secure=secure, path="/"
    )


def take_flashes(request: Request, secret: str) -> list[Flash]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        data: Any = _flash_serializer(secret).loads(raw)
    except BadSignature:
        return []
    if not isinstance(data, list):
        return []
    return [
        Flash(str(item[0]), str(item[1]))
        for item in data
        if isinstance(item, list) and len(item) == 2
    ]


def clear_flashes(response: Response) -> None:
    response.delete_cookie(FLASH_COOKIE, path="/")


# --- sign-in form token ----------------------------------------------------------------------


def _login_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="dialogo.web.login")


def new_login_token(secret: str) -> tuple[str, str]:
    """A fresh (nonce for the cookie, signed value for the hidden field)."""
    nonce = secrets.token_urlsafe(24)
    return nonce, _login_serializer(secret).dumps(nonce)


def set_login_cookie(response: Response, nonce: str, *, secure: bool) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_TOKEN_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/login",
    )


def login_token_valid(request: Request, secret: str, signed: str) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not signed:
        return False
    try:
        nonce = _login_serializer(secret).loads(signed, max_age=LOGIN_TOKEN_MAX_AGE)
    except BadSignature:  # includes SignatureExpired
        return False
    return isinstance(nonce, str) and constant_time_equal(nonce, cookie)


def same_origin(request: Request, public_url: str | None = None) -> bool:
    """False when the browser says the request comes from another site (``Origin``)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    allowed = {f"{request.url.scheme}://{request.url.netloc}"}
    if public_url:
        parts = urlsplit(public_url)
        allowed.add(f"{parts.scheme}://{parts.netloc}")
    return origin.rstrip("/") in allowed


# --- redirects -------------------------------------------------------------------------------


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a path on this site: ``/w/1/members?x=1``, never ``//evil`` or ``https://…``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 32 or ch == "\\" for ch in value) or len(value) > 2000:
        return default
    return value


def remember_workspace(response: Response, workspace_id: int, *, secure: bool) -> None:
    response.set_cookie(
        WORKSPACE_COOKIE,
        str(workspace_id),
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def remembered_workspace(request: Request) -> int | None:
    raw = request.cookies.get(WORKSPACE_COOKIE, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None
