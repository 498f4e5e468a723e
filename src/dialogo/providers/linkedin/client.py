"""A thin synchronous client over LinkedIn's versioned REST API (``https://api.linkedin.com/rest``).

Every call carries the three headers LinkedIn requires of the versioned APIs
(https://learn.microsoft.com/linkedin/marketing/versioning): ``Authorization: Bearer``,
``LinkedIn-Version: YYYYMM`` (a version is served for at least a year; :data:`DEFAULT_VERSION`,
overridable per channel with ``config["linkedin_version"]``) and
``X-Restli-Protocol-Version: 2.0.0``. Why no SDK: LinkedIn's own Python client
(``linkedin-api-client``) is built on ``requests`` and is still in beta; the provider needs a
handful of JSON calls through the caller's ``httpx.Client``, and must never sleep or retry.

Errors (:func:`error_for`), from "API Error Handling" and "Rate Limits"
(https://learn.microsoft.com/linkedin/shared/api-guide/concepts/error-handling,
…/concepts/rate-limits). An error answer is ``{"status", "serviceErrorCode", "code",
"message"}``:

- 401 → :class:`ReauthRequired` (``INVALID_ACCESS_TOKEN``, ``EXPIRED_ACCESS_TOKEN``, revoked);
- 403 → :class:`InsufficientScopes` (``ACCESS_DENIED``: a missing scope, or the member is not an
  administrator of the organization);
- 429 → :class:`RateLimited`. LinkedIn's limits are **daily** and "reset at midnight UTC";
  it sends no ``Retry-After`` as a rule, so the wait is ``Retry-After`` when present and
  otherwise the time left until the next midnight UTC; a message naming the ``APPLICATION``
  limit is the app's (``scope="app"``: every channel of the app waits);
- 426 → :class:`InvalidPayload` explaining that the ``LinkedIn-Version`` is no longer served;
- 400, 404, 409, 422 → :class:`InvalidPayload`; 5xx → :class:`TransientError`;
- transport failures as in :func:`dialogo.providers.http.send` (a lost answer to a POST is
  :class:`OutcomeUnknown`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import httpx

from dialogo.providers import ratelimits
from dialogo.providers.errors import (
    InsufficientScopes,
    InvalidPayload,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.http import retry_after, send_raw

NETWORK = "linkedin"
DEFAULT_BASE_URL = "https://api.linkedin.com/rest"
DEFAULT_VERSION = "202610"
RESTLI_PROTOCOL = "2.0.0"


def until_midnight_utc(now: dt.datetime | None = None) -> float:
    now = now or dt.datetime.now(dt.UTC)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - now).total_seconds())


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:300]}
    return body if isinstance(body, dict) else {}


def error_for(
    response: httpx.Response, *, operation: str, now: dt.datetime | None = None
) -> ProviderError:
    """The shared provider error for a LinkedIn error answer (see the module docstring)."""
    status = response.status_code
    body = _body(response)
    message = str(body.get("message") or body.get("error_description") or "")[:400]
    code = str(body.get("code") or body.get("serviceErrorCode") or "")
    where = f"{operation} answered {status}" + (f" ({code}: {message})" if message else "")
    details: dict[str, Any] = {
        "network": NETWORK,
        "operation": operation,
        "status": status,
        "linkedin_code": code,
    }
    if status == 401:
        return ReauthRequired(
            f"LinkedIn refused the access token (expired or revoked): {where}", **details
        )
    if status == 429:
        wait = retry_after(response.headers)
        scope = ratelimits.linkedin_limited_scope(message)
        whose = " of this app (every channel of the app waits)" if scope == ratelimits.APP else ""
        return RateLimited(
            f"LinkedIn's daily rate limit{whose} is reached: {where}",
            retry_after=until_midnight_utc(now) if wait is None else wait,
            scope=scope,
            **details,
        )
    if status >= 500 or status == 408:
        return TransientError(f"LinkedIn is unavailable: {where}", **details)
    if status == 403:
        return InsufficientScopes(
            "the LinkedIn token lacks a permission this needs, or the member is not an "
            f"administrator of the organization (w_organization_social, "
            f"r_organization_social, rw_organization_admin): {where}",
            **details,
        )
    if status == 426:
        return InvalidPayload(
            f"LinkedIn no longer serves the API version this channel asks for: {where}",
            issues=["linkedin_version"],
            **details,
        )
    return InvalidPayload(f"LinkedIn rejected the request: {where}", issues=[message], **details)


class LinkedInClient:
    """``request`` → the decoded JSON answer and the response headers, or a shared error."""

    def __init__(
        self,
        http: httpx.Client,
        token: str | None,
        *,
        base_url: str = "",
        version: str = "",
    ) -> None:
        self.http = http
        self._token = token or ""
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.version = version or DEFAULT_VERSION

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        if not self._token:
            raise ReauthRequired(
                "no LinkedIn access token: connect the account again", network=NETWORK
            )
        return {
            "Authorization": f"Bearer {self._token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
            **(extra or {}),
        }

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        query: str = "",
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, Any], httpx.Headers]:
        """``query`` is an already encoded query string: Rest.li 2.0 values such as
        ``List(urn%3Ali%3Ashare%3A1)`` keep their parentheses and commas unencoded."""
        url = f"{self.base_url}/{path.lstrip('/')}" + (f"?{query}" if query else "")
        request = self.http.build_request(method, url, json=json, headers=self.headers(headers))
        response = send_raw(self.http, request, network=NETWORK)
        if response.status_code >= 400:
            raise error_for(response, operation=operation)
        if response.status_code == 204 or not response.content:
            return {}, response.headers
        try:
            body = response.json()
        except ValueError:
            raise TransientError(
                f"LinkedIn answered {operation} with something that is not JSON", network=NETWORK
            ) from None
        return (body if isinstance(body, dict) else {"elements": body}), response.headers

    def upload(
        self,
        url: str,
        content: bytes,
        mime_type: str,
        *,
        operation: str = "image upload",
        signed: bool = False,
    ) -> httpx.Headers:
        """PUT the bytes to an upload URL ``initializeUpload`` gave (Images and Videos APIs);
        the answer's headers (a video part's ``ETag``). A ``signed`` URL (a video part's)
        carries its own authorisation: LinkedIn's example sends no token with it."""
        headers = {"Content-Type": mime_type}
        if not signed:
            headers["Authorization"] = f"Bearer {self._token}"
        request = self.http.build_request("PUT", url, content=content, headers=headers)
        response = send_raw(self.http, request, network=NETWORK)
        if signed and response.status_code in (401, 403):
            # The URL carries its own authorisation: refused, it expired (or is not this
            # upload's), which says nothing of the channel's token. The upload begins again.
            raise InvalidPayload(
                f"LinkedIn refused the upload URL of {operation} ({response.status_code}): "
                "it has expired",
                issues=["upload_url_refused"],
                network=NETWORK,
            )
        if response.status_code >= 400:
            raise error_for(response, operation=operation)
        return response.headers
