"""A thin synchronous client over the `atproto <https://atproto.blue>`_ Python SDK.

Why the SDK, and how it is used
-------------------------------
The SDK is the maintained Python implementation of AT Protocol's XRPC: it knows every lexicon
method (``client.com.atproto.repo.create_record(...)``), validates parameters and answers with
its generated models, parses AT URIs and ports the official TypeScript SDK's rich-text facet
detection. This module uses its low-level ``ClientRaw`` (the namespaces, without the
high-level ``Client``'s session handling) on a request layer of our own, for three reasons:

- **the caller's** ``httpx.Client``: requests go through the client the provider was given, so
  tests replace the network with ``httpx.MockTransport`` and production shares one pool;
- **no hidden session work**: the SDK's ``Client`` refreshes tokens by itself shortly before
  they expire, and Bluesky rotates refresh tokens, so a silent refresh would leave the stored
  credentials holding a dead refresh token. Here the access token is set by the provider and
  refreshing is an explicit :meth:`BlueskyClient.refresh_session`;
- **one error mapping**: every answer that is not a success becomes one of the shared
  provider errors right where the response arrives (see :func:`error_for`), so no SDK
  exception escapes and nothing here sleeps or retries.

Answers are handed back as plain JSON (``dict``), through the SDK's models: the provider reads
them with the small typed accessors at the bottom of this module.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from atproto_client import models  # type: ignore[import-untyped]
from atproto_client.client.raw import ClientRaw  # type: ignore[import-untyped]
from atproto_client.client.session import get_session_pds_endpoint  # type: ignore[import-untyped]
from atproto_client.models.utils import get_model_as_dict  # type: ignore[import-untyped]
from atproto_client.request import Request, RequestBase  # type: ignore[import-untyped]
from atproto_core.exceptions import AtProtocolError  # type: ignore[import-untyped]

from dialogo.providers.errors import (
    Disconnected,
    InsufficientScopes,
    InvalidPayload,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.http import DEFAULT_RETRY_AFTER, retry_after

NETWORK = "bluesky"
DEFAULT_SERVICE = "https://bsky.social"
POST_COLLECTION = "app.bsky.feed.post"

#: XRPC error names that mean "these credentials no longer open the account".
_REAUTH_ERRORS = frozenset(
    {
        "ExpiredToken",
        "InvalidToken",
        "AuthRequired",
        "AuthMissing",
        "AuthenticationRequired",
        "AuthFactorTokenRequired",
    }
)
#: XRPC error names that mean "the account itself is gone or suspended".
_GONE_ERRORS = frozenset(
    {"AccountTakedown", "AccountDeactivated", "AccountSuspended", "RepoTakendown"}
)
#: Procedures that are safe to send again after an answer was lost.
_IDEMPOTENT_PROCEDURES = frozenset(
    {"com.atproto.repo.uploadBlob", "com.atproto.server.createSession"}
)


# -- error mapping --------------------------------------------------------------------------------


def _xrpc_error(response: httpx.Response) -> tuple[str | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:300] or response.reason_phrase
    if not isinstance(body, dict):
        return None, response.text[:300]
    name = body.get("error")
    message = body.get("message")
    return (
        name if isinstance(name, str) else None,
        message[:300] if isinstance(message, str) else "",
    )


def error_for(response: httpx.Response, *, nsid: str, write: bool) -> ProviderError:
    """The shared provider error for an XRPC error answer.

    - 401, and 400 ``ExpiredToken``/``InvalidToken`` → :class:`ReauthRequired` (``details``
      say which: an expired access token only needs :meth:`BlueskyClient.refresh_session`);
    - ``AccountTakedown``/``AccountDeactivated``… → :class:`Disconnected`;
    - 403 → :class:`InsufficientScopes` (an app password without the privilege a call needs);
    - 429 → :class:`RateLimited`, waiting until ``ratelimit-reset`` (epoch seconds);
    - 5xx and 408 → :class:`TransientError`;
    - 400 and 413 on a write → :class:`InvalidPayload` (the content or a reference is invalid);
    - anything else → :class:`ProviderError` with code ``bluesky_<error>``.
    """
    status = response.status_code
    name, message = _xrpc_error(response)
    detail = f"{name}: {message}" if name and message else (name or message or str(status))
    where = f"{nsid} answered {status} ({detail})"
    if name in _GONE_ERRORS:
        return Disconnected(f"the Bluesky account is not available: {where}", network=NETWORK)
    if status == 401 or name in _REAUTH_ERRORS:
        return ReauthRequired(
            f"Bluesky refused the session: {where}",
            network=NETWORK,
            xrpc_error=name,
            expired=name == "ExpiredToken",
        )
    if status == 403:
        return InsufficientScopes(
            f"the Bluesky app password lacks a permission: {where}", network=NETWORK
        )
    if status == 429:
        wait = retry_after(response.headers)
        return RateLimited(
            f"Bluesky rate limit reached ({nsid})",
            retry_after=DEFAULT_RETRY_AFTER if wait is None else wait,
            network=NETWORK,
        )
    if status >= 500 or status == 408:
        return TransientError(f"Bluesky is unavailable: {where}", network=NETWORK)
    if write and status in (400, 413):
        return InvalidPayload(
            f"Bluesky rejected the content: {where}", issues=[detail], network=NETWORK
        )
    code = f"bluesky_{(name or f'http_{status}')}".lower()
    return ProviderError(f"Bluesky: {where}", code=code, network=NETWORK, xrpc_error=name)


def transport_error(exc: httpx.RequestError, *, nsid: str, write: bool) -> ProviderError:
    """A failure before the request left is safe to retry; after a write left, the outcome
    is unknown (the dispatcher reconciles with ``recent_posts``)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransientError(f"could not reach Bluesky ({nsid}): {exc!r}", network=NETWORK)
    if write and nsid not in _IDEMPOTENT_PROCEDURES:
        return OutcomeUnknown(
            f"Bluesky did not answer {nsid} after the request was sent; it may have been applied",
            network=NETWORK,
        )
    return TransientError(f"Bluesky did not answer {nsid}: {exc!r}", network=NETWORK)


class _HttpxRequest(Request):  # type: ignore[misc]  # the SDK ships no type information
    """The SDK's request layer, sending through the caller's ``httpx.Client`` and raising the
    shared provider errors."""

    def __init__(self, http: httpx.Client, token: Callable[[], str | None]) -> None:
        RequestBase.__init__(self)  # not Request.__init__: it would open a client of its own
        self._client = http
        self._client_kwargs: dict[str, Any] = {}
        self._token = token

    def _send_request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers: dict[str, str] = self.get_headers(kwargs.pop("headers", None))
        # ``bearer`` (passed through the SDK's keyword arguments): a token for this call only,
        # or None for a call that must carry no token; by default the session's access token.
        token = kwargs.pop("bearer") if "bearer" in kwargs else self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if isinstance(kwargs.get("data"), bytes):  # raw bodies (uploadBlob) are httpx content
            kwargs["content"] = kwargs.pop("data")
        nsid = url.rsplit("/", 1)[-1]
        write = method == "POST"
        request = self._client.build_request(method, url, headers=headers, **kwargs)
        try:
            response = self._client.send(request, follow_redirects=True)
        except httpx.RequestError as exc:  # transport failures, and answers that cannot be read
            raise transport_error(exc, nsid=nsid, write=write) from exc
        if not 200 <= response.status_code < 300:
            raise error_for(response, nsid=nsid, write=write)
        return response

    def close(self) -> None:
        """The caller owns the ``httpx.Client``."""


# -- results --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Session:
    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str
    #: The account's own PDS when the answer says (bsky.social is an entryway to many).
    pds_endpoint: str | None = None
    active: bool = True
    status: str | None = None

    @property
    def expires_at(self) -> dt.datetime | None:
        return token_expiry(self.access_jwt)


@dataclasses.dataclass(frozen=True)
class StrongRef:
    uri: str
    cid: str

    def as_record(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


def token_expiry(jwt: str) -> dt.datetime | None:
    """The ``exp`` claim of a JWT (not verified: only the server can, and it will)."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims["exp"]
        return dt.datetime.fromtimestamp(int(exp), tz=dt.UTC)
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def split_at_uri(uri: str) -> tuple[str, str, str]:
    """``at://did/collection/rkey`` → ``(did, collection, rkey)``."""
    if not uri.startswith("at://"):
        raise InvalidPayload(f"not an AT URI: {uri!r}", issues=["reply_target"])
    parts = uri[len("at://") :].split("/")
    if len(parts) != 3 or not all(parts):
        raise InvalidPayload(f"not the AT URI of a record: {uri!r}", issues=["reply_target"])
    return parts[0], parts[1], parts[2]


# -- the client -----------------------------------------------------------------------------------


class BlueskyClient:
    """One account on one PDS. Every method makes exactly one XRPC call and raises the shared
    provider errors; paging, batching and sessions are the provider's business."""

    def __init__(
        self, service: str, *, http: httpx.Client, access_token: str | None = None
    ) -> None:
        self.service = service.rstrip("/")
        self.access_token = access_token
        self._request = _HttpxRequest(http, lambda: self.access_token)
        self._raw: Any = ClientRaw(base_url=self.service, request=self._request)

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call; an answer the SDK cannot read becomes a provider error."""
        try:
            return fn(*args, **kwargs)
        except ProviderError:
            raise
        except AtProtocolError as exc:
            raise ProviderError(
                f"Bluesky gave an answer the client could not read: {exc!r}",
                code="bluesky_unreadable_answer",
                network=NETWORK,
            ) from exc

    # -- sessions ------------------------------------------------------------------------------

    def _session(self, answer: Any, *, refresh_jwt: str | None = None) -> Session:
        endpoint = get_session_pds_endpoint(answer)
        return Session(
            did=str(answer.did),
            handle=str(answer.handle),
            access_jwt=str(answer.access_jwt),
            refresh_jwt=str(answer.refresh_jwt or refresh_jwt or ""),
            pds_endpoint=str(endpoint) if endpoint else None,
            active=answer.active is not False,
            status=str(answer.status) if answer.status else None,
        )

    def create_session(self, identifier: str, password: str) -> Session:
        data = models.ComAtprotoServerCreateSession.Data(identifier=identifier, password=password)
        answer = self._call(
            self._raw.com.atproto.server.create_session,
            data,
            bearer=None,  # never send a stale token along
        )
        return self._session(answer)

    def refresh_session(self, refresh_jwt: str) -> Session:
        answer = self._call(
            self._raw.com.atproto.server.refresh_session,
            bearer=refresh_jwt,
        )
        return self._session(answer, refresh_jwt=refresh_jwt)

    def get_session(self) -> tuple[str, str, bool, str | None]:
        """``(did, handle, active, status)`` of the session the access token opens."""
        answer = self._call(self._raw.com.atproto.server.get_session)
        return (
            str(answer.did),
            str(answer.handle),
            answer.active is not False,
            str(answer.status) if answer.status else None,
        )

    # -- identities and profiles -------------------------------------------------------------

    def resolve_handle(self, handle: str) -> str | None:
        """The DID of a handle, or ``None`` when it does not resolve."""
        params = models.ComAtprotoIdentityResolveHandle.Params(handle=handle)
        try:
            answer = self._call(self._raw.com.atproto.identity.resolve_handle, params)
        except ProviderError as exc:
            if exc.code.startswith("bluesky_") and exc.details.get("xrpc_error") in (
                "InvalidRequest",
                "HandleNotFound",
            ):
                return None
            raise
        return str(answer.did)

    def get_profile(self, actor: str) -> dict[str, Any]:
        params = models.AppBskyActorGetProfile.Params(actor=actor)
        return _as_dict(self._call(self._raw.app.bsky.actor.get_profile, params))

    # -- records -------------------------------------------------------------------------------

    def upload_blob(self, content: bytes, mime_type: str) -> dict[str, Any]:
        """The blob reference (``{"$type": "blob", "ref": …}``) to put in a record."""
        answer = self._call(
            self._raw.com.atproto.repo.upload_blob, content, headers={"Content-Type": mime_type}
        )
        return _as_dict(answer.blob)

    def create_record(self, repo: str, collection: str, record: Mapping[str, Any]) -> StrongRef:
        data = models.ComAtprotoRepoCreateRecord.Data(
            repo=repo, collection=collection, record=dict(record)
        )
        answer = self._call(self._raw.com.atproto.repo.create_record, data)
        return StrongRef(uri=str(answer.uri), cid=str(answer.cid))

    def get_record(self, uri: str) -> dict[str, Any]:
        """``{"uri", "cid", "value"}`` of one record."""
        repo, collection, rkey = split_at_uri(uri)
        params = models.ComAtprotoRepoGetRecord.Params(repo=repo, collection=collection, rkey=rkey)
        return _as_dict(self._call(self._raw.com.atproto.repo.get_record, params))

    def list_records(
        self, repo: str, collection: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a collection's records, newest first, straight from the PDS (no
        indexing delay), and the cursor of the next, older page.

        ``com.atproto.repo.listRecords`` (lexicon: ``limit`` 1-100, default 50; ``cursor``
        from the previous answer). The reference PDS answers a cursor with every page that
        has records, the last one included: the end is a page with no records or no cursor,
        and then this returns ``None``."""
        params = models.ComAtprotoRepoListRecords.Params(
            repo=repo, collection=collection, limit=max(1, min(limit, 100)), cursor=cursor
        )
        answer = _as_dict(self._call(self._raw.com.atproto.repo.list_records, params))
        records = dicts(answer.get("records"))
        return records, string(answer.get("cursor")) if records else None

    # -- the AppView (through the PDS) ------------------------------------------------------------

    def get_posts(self, uris: Sequence[str]) -> list[dict[str, Any]]:
        """Post views (with counts) for up to 25 URIs; unknown or deleted ones are left out."""
        params = models.AppBskyFeedGetPosts.Params(uris=list(uris))
        return dicts(_as_dict(self._call(self._raw.app.bsky.feed.get_posts, params)).get("posts"))

    def list_notifications(
        self, *, reasons: Sequence[str], cursor: str | None = None, limit: int = 50
    ) -> tuple[list[dict[str, Any]], str | None]:
        params = models.AppBskyNotificationListNotifications.Params(
            reasons=list(reasons), cursor=cursor, limit=limit
        )
        answer = _as_dict(self._call(self._raw.app.bsky.notification.list_notifications, params))
        return dicts(answer.get("notifications")), string(answer.get("cursor"))

    def search_posts(
        self, query: str, *, since: str | None = None, cursor: str | None = None, limit: int = 25
    ) -> tuple[list[dict[str, Any]], str | None]:
        params = models.AppBskyFeedSearchPosts.Params(
            q=query, since=since, cursor=cursor, limit=limit, sort="latest"
        )
        answer = _as_dict(self._call(self._raw.app.bsky.feed.search_posts, params))
        return dicts(answer.get("posts")), string(answer.get("cursor"))


# -- reading JSON answers -------------------------------------------------------------------------


def _as_dict(model: Any) -> dict[str, Any]:
    value = get_model_as_dict(model)
    return value if isinstance(value, dict) else {}


def obj(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def dicts(value: object) -> list[dict[str, Any]]:
    """The JSON objects in ``value`` if it is a list, else none."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_datetime(value: object) -> dt.datetime | None:
    """An aware UTC datetime from an AT Protocol timestamp (ISO 8601, ``Z`` or an offset)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def format_datetime(value: dt.datetime) -> str:
    """AT Protocol's preferred form: UTC, milliseconds, ``Z``."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
