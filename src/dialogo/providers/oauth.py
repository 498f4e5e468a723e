"""OAuth 2.0 pieces shared by the networks that use it (X, Meta, LinkedIn, Threads…).

The authorisation-code flow with PKCE (RFC 7636): :func:`authorization_request` builds the
consent URL with a fresh ``state`` and an S256 code challenge (Authlib's implementation);
the channels domain keeps the verifier until the network redirects back, then the provider
exchanges the code (:func:`exchange_code`) and later refreshes (:func:`refresh_token`). Both
parse the token endpoint's answer once (:func:`credentials_from_token`), so every provider
stores ``expires_at`` the same way and an answer without a new refresh token never erases the
stored one (see :meth:`dialogo.providers.base.Credentials.merged`).

Token endpoints answer errors as RFC 6749 §5.2 JSON (``{"error": "invalid_grant", ...}``):
``invalid_grant`` (a revoked, expired or already-used code or refresh token) and
``invalid_client`` mean a person must authorise again (:class:`ReauthRequired`); 429 and 5xx
go through the shared mapping (:func:`dialogo.providers.http.send`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from dialogo.providers.base import AuthorizationRequest, Credentials
from dialogo.providers.errors import ProviderError, ReauthRequired, TransientError
from dialogo.providers.http import send

#: RFC 7636 allows 43–128 characters; 64 gives 384 bits of entropy.
VERIFIER_LENGTH = 64


def authorization_request(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    state: str | None = None,
    pkce: bool = True,
    scope_separator: str = " ",
    extra: Mapping[str, str] | None = None,
) -> AuthorizationRequest:
    """The URL where a person grants access, with the ``state`` to check on return and, with
    PKCE, the verifier to send with the code (keep it server-side, never in the URL)."""
    if not client_id:
        raise ProviderError(
            "this network needs an app's client id to connect accounts (set it in the "
            "channel's configuration)",
            code="oauth_client_missing",
        )
    state = state or generate_token(32)
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope_separator.join(scopes)),
        ("state", state),
    ]
    verifier: str | None = None
    if pkce:
        verifier = generate_token(VERIFIER_LENGTH)
        params += [
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ]
    params += list((extra or {}).items())
    return AuthorizationRequest(
        url=add_params_to_uri(endpoint, params), state=state, code_verifier=verifier
    )


def credentials_from_token(
    body: Any, *, now: dt.datetime, account_id: str | None = None, network: str
) -> Credentials:
    """Credentials from a token endpoint's JSON answer (RFC 6749 §5.1)."""
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise TransientError(
            f"{network}'s token endpoint answered without an access token", network=network
        )
    expires_in = body.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        expires_at = now + dt.timedelta(seconds=float(expires_in))
    refresh = body.get("refresh_token")
    extra = {}
    if isinstance(body.get("scope"), str):
        extra["scope"] = body["scope"]
    return Credentials(
        access_token=body["access_token"],
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=expires_at,
        account_id=account_id,
        extra=extra,
    )


def token_request(
    http: httpx.Client,
    endpoint: str,
    form: Mapping[str, str],
    *,
    network: str,
    client_id: str,
    client_secret: str | None = None,
    now: dt.datetime | None = None,
) -> Credentials:
    """POST a grant to the token endpoint. A confidential client authenticates with HTTP
    Basic (``client_secret_basic``); a public client sends its ``client_id`` in the form."""
    data = {key: value for key, value in form.items() if value}
    auth: httpx.BasicAuth | None = None
    if client_secret:
        auth = httpx.BasicAuth(client_id, client_secret)
    else:
        data["client_id"] = client_id
    request = http.build_request(
        "POST", endpoint, data=data, headers={"Accept": "application/json"}
    )
    if auth is not None:
        request = next(auth.auth_flow(request))
    try:
        response = send(http, request, network=network)
    except ProviderError as exc:
        if exc.code in ("http_400", "http_403"):
            raise ReauthRequired(
                f"{network} refused the authorisation ({exc.message}): connect the account again",
                network=network,
            ) from None
        raise
    try:
        body = response.json()
    except ValueError:
        raise TransientError(
            f"{network}'s token endpoint answered with something that is not JSON",
            network=network,
        ) from None
    return credentials_from_token(body, now=now or dt.datetime.now(dt.UTC), network=network)
