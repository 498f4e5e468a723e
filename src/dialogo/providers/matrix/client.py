"""A thin synchronous client over `matrix-nio <https://github.com/matrix-nio/matrix-nio>`_.

Why nio, and how its async model is driven from sync code
---------------------------------------------------------
nio is the maintained Python client library for the Matrix client-server API: it builds the
request paths, handles login, uploads and the shape of sync responses, and will let us add
end-to-end encryption later (``matrix-nio[e2e]``) without rewriting the provider. Its client is
``asyncio``-based (aiohttp), while Dialogo's providers are synchronous. Each
:class:`MatrixClient` therefore owns one private event loop and runs every call to completion
on it (``loop.run_until_complete``); the aiohttp session lives on that loop for the client's
lifetime and is closed by :meth:`MatrixClient.close`. Calling it from a thread that is already
running an event loop is refused with a clear error: async callers (FastAPI handlers) must use
a worker thread, as they do for any blocking provider. Like a provider, a client serves one
thread at a time.

nio retries by itself on HTTP 429 (sleeping ``retry_after_ms``) and on timeouts. Dialogo's rule
is that providers never sleep or retry, so the client is configured with
``max_limit_exceeded=0`` and ``max_timeouts=0``: the first 429 comes back as an error response
and the first timeout raises, and both are mapped here to the shared provider errors. Every call
also runs under one overall deadline (``timeout``), because nio sends uploads and some syncs
without any timeout of its own, and that deadline is cut to the time left before the request
deadline of :mod:`dialogo.providers.deadline` when one is set (the dispatcher's lease, as for
every httpx provider): no call starts once it has passed (a plain transient error: nothing was
sent) and none waits beyond it (a write cut short is ``OutcomeUnknown``, reconciled). Each of
a call's requests is checked again when aiohttp hands it its connection, just before it is
written (:class:`~dialogo.providers.pinning.DeadlineConnector`): a call held past the
deadline after it started (a slow connect, a pool wait, a frozen process) sends nothing.

Endpoints that nio lacks or wraps badly (relations, whose iterator swallows errors) go through
nio's public ``send`` with the same error mapping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import json
import threading
import uuid
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
import nio  # type: ignore[import-untyped]
from nio.client.async_client import (  # type: ignore[import-untyped]
    connect_wrapper,
    on_request_chunk_sent,
)

from dialogo.providers import deadline as deadlines
from dialogo.providers.errors import (
    Disconnected,
    InvalidPayload,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.http import DEFAULT_RETRY_AFTER, retry_after
from dialogo.providers.netpolicy import OutboundPolicy
from dialogo.providers.pinning import DeadlineConnector, PinnedConnector

NETWORK = "matrix"
DEFAULT_TIMEOUT = 20.0
#: How soon a long poll notices that it should stop.
STOP_CHECK_SECONDS = 0.1
T = TypeVar("T")

_REAUTH_CODES = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"})
_PAYLOAD_CODES = frozenset(
    {"M_TOO_LARGE", "M_BAD_JSON", "M_NOT_JSON", "M_INVALID_PARAM", "M_BAD_ALIAS"}
)


# -- error mapping --------------------------------------------------------------------------------


def error_for(
    *,
    status: int | None,
    errcode: str | None,
    message: str,
    retry_after_ms: int | None = None,
    headers: Mapping[str, str] | None = None,
    soft_logout: bool = False,
) -> ProviderError:
    """The shared provider error for a Matrix error answer (HTTP status and ``errcode``)."""
    detail = f"{errcode or 'error'}: {message}" if message else (errcode or "unknown error")
    if errcode in _REAUTH_CODES or status == 401:
        return ReauthRequired(
            f"matrix refused the access token ({detail})",
            network=NETWORK,
            soft_logout=soft_logout,
        )
    if errcode == "M_USER_DEACTIVATED":
        return Disconnected(f"the matrix account is deactivated ({detail})", network=NETWORK)
    if errcode == "M_LIMIT_EXCEEDED" or status == 429:
        if retry_after_ms is not None:
            wait = retry_after_ms / 1000
        else:
            from_headers = retry_after(headers or {})
            wait = DEFAULT_RETRY_AFTER if from_headers is None else from_headers
        return RateLimited("matrix rate limit reached", retry_after=wait, network=NETWORK)
    if errcode in _PAYLOAD_CODES or status == 413:
        return InvalidPayload(f"matrix rejected the content ({detail})", issues=[detail])
    if status is not None and (status >= 500 or status == 408):
        return TransientError(f"matrix answered {status} ({detail})", network=NETWORK)
    if status is None and errcode is None:
        # nio could not read an error body at all (a proxy's HTML page, a cut connection).
        return TransientError(f"matrix gave an unreadable answer ({detail})", network=NETWORK)
    code = f"matrix_{(errcode or f'http_{status}').lower()}"
    return ProviderError(f"matrix answered {status} ({detail})", code=code, network=NETWORK)


def error_from_nio(response: Any) -> ProviderError:
    """Map one of nio's ``ErrorResponse`` objects (it keeps the aiohttp response)."""
    transport = getattr(response, "transport_response", None)
    status = getattr(transport, "status", None)
    headers = getattr(transport, "headers", None)
    return error_for(
        status=status if isinstance(status, int) else None,
        errcode=response.status_code if isinstance(response.status_code, str) else None,
        message=str(response.message or ""),
        retry_after_ms=response.retry_after_ms,
        headers={str(k): str(v) for k, v in headers.items()} if headers else None,
        soft_logout=bool(response.soft_logout),
    )


def error_from_exception(exc: BaseException, *, write: bool) -> ProviderError:
    """Transport failures: before the request left it is safe to retry; after a write left,
    the outcome is unknown (the dispatcher reconciles with :meth:`recent_posts`)."""
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return TransientError(f"could not reach the matrix homeserver: {exc}", network=NETWORK)
    if write:
        return OutcomeUnknown(
            "the matrix homeserver did not answer after the request was sent; "
            "it may have been applied",
            network=NETWORK,
        )
    return TransientError(f"the matrix homeserver did not answer: {exc!r}", network=NETWORK)


# -- results --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Session:
    user_id: str
    access_token: str
    device_id: str


@dataclasses.dataclass(frozen=True)
class RoomTimeline:
    room_id: str
    events: list[dict[str, Any]]
    limited: bool = False
    prev_batch: str | None = None
    #: Display names from the room's member state (lazily loaded: the senders at hand).
    names: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SyncResult:
    next_batch: str
    joined: list[RoomTimeline]
    invited: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class MessagesPage:
    events: list[dict[str, Any]]
    end: str | None


def _display_names(events: Iterable[Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for event in events:
        if not isinstance(event, dict) or event.get("type") != "m.room.member":
            continue
        key, content = event.get("state_key"), event.get("content")
        name = content.get("displayname") if isinstance(content, dict) else None
        if isinstance(key, str) and isinstance(name, str):
            names[key] = name
    return names


# -- the client -----------------------------------------------------------------------------------


class MatrixClient:
    """One account on one homeserver; every method blocks until the homeserver answered."""

    def __init__(
        self,
        homeserver: str,
        *,
        access_token: str | None = None,
        user_id: str | None = None,
        device_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.timeout = timeout
        #: The outbound policy its connections are pinned by (``None``: nio's own session).
        self.policy = policy
        config = nio.AsyncClientConfig(
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=timeout,
            encryption_enabled=False,
            store_sync_tokens=False,
        )
        self._loop = asyncio.new_event_loop()
        self._nio = nio.AsyncClient(self.homeserver, user=user_id or "", config=config)
        if access_token:
            self._nio.access_token = access_token
        if user_id:
            self._nio.user_id = user_id
        if device_id:
            self._nio.device_id = device_id

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def user_id(self) -> str | None:
        value = self._nio.user_id
        return value if isinstance(value, str) and value else None

    @property
    def access_token(self) -> str | None:
        value = self._nio.access_token
        return value if isinstance(value, str) and value else None

    async def _in_session(self, call: Awaitable[T]) -> T:
        """Await ``call`` once nio has its HTTP session: one whose connector checks the request
        deadline again when it hands a request its connection, just before the request is
        written (:class:`DeadlineConnector`), and, with a policy, connects only to addresses
        the policy checked (:class:`PinnedConnector`); built as nio builds its own (same
        timeout, upload progress trace and write buffer), since nio takes no connector. Built
        here because aiohttp builds a session on a running loop."""
        if self._nio.client_session is None:
            trace = aiohttp.TraceConfig()
            trace.on_request_chunk_sent.append(on_request_chunk_sent)
            connector = DeadlineConnector() if self.policy is None else PinnedConnector(self.policy)
            session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._nio.config.request_timeout),
                trace_configs=[trace],
                connector=connector,
            )
            session.connector.connect = functools.partial(connect_wrapper, session.connector)  # type: ignore[method-assign,union-attr]
            self._nio.client_session = session
        return await call

    def _run(self, call: Awaitable[T], *, write: bool = False) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            if asyncio.iscoroutine(call):
                call.close()
            raise RuntimeError(
                "MatrixClient blocks; call it from a worker thread, not inside an event loop"
            )
        limit = self.timeout
        left = deadlines.remaining()
        if left is not None:  # a provider call under the dispatcher's lease
            if left <= 0:
                if asyncio.iscoroutine(call):
                    call.close()
                raise TransientError(deadlines.NOT_SENT, network=NETWORK)
            limit = min(limit, left)
        try:
            return self._loop.run_until_complete(asyncio.wait_for(self._in_session(call), limit))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise error_from_exception(exc, write=write) from exc

    def _run_until(self, call: Awaitable[T], stop: threading.Event, *, deadline: float) -> T | None:
        """Run ``call`` like :meth:`_run`, under ``deadline`` seconds, but give up (cancel the
        request) within :data:`STOP_CHECK_SECONDS` once ``stop`` is set; ``None`` then."""

        async def until_stopped() -> T | None:
            task = asyncio.ensure_future(call)
            try:
                while not task.done():
                    if stop.is_set():
                        return None
                    await asyncio.wait({task}, timeout=STOP_CHECK_SECONDS)
                return task.result()
            finally:
                if not task.done():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)

        saved, self.timeout = self.timeout, deadline
        try:
            return self._run(until_stopped())
        finally:
            self.timeout = saved

    def _check(self, response: Any, expected: type) -> Any:
        if isinstance(response, expected):
            return response
        if isinstance(response, nio.ErrorResponse):
            raise error_from_nio(response)
        raise TransientError(f"matrix gave an unexpected answer: {response!r}", network=NETWORK)

    async def _raw(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A request through nio's public ``send`` for endpoints nio does not wrap well."""
        if query:
            path = f"{path}?{urlencode(query)}"
        headers = {"Content-Type": "application/json"}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        data = json.dumps(body) if body is not None else None
        response = await self._nio.send(method, path, data, headers)
        async with response:
            text = await response.text()
            try:
                parsed = json.loads(text) if text else {}
            except ValueError:
                parsed = {}
            if response.status >= 400:
                parsed = parsed if isinstance(parsed, dict) else {}
                raise error_for(
                    status=response.status,
                    errcode=parsed.get("errcode"),
                    message=str(parsed.get("error") or text[:300]),
                    retry_after_ms=parsed.get("retry_after_ms"),
                    headers={str(k): str(v) for k, v in response.headers.items()},
                    soft_logout=bool(parsed.get("soft_logout", False)),
                )
        return parsed if isinstance(parsed, dict) else {}

    # -- account ----------------------------------------------------------------------------------

    def login(self, user: str, password: str, *, device_name: str = "Dialogo") -> Session:
        """Password login (``m.login.password``); the client then uses the new token."""
        self._nio.user = user
        response = self._run(self._nio.login(password=password, device_name=device_name))
        if isinstance(response, nio.LoginError) and response.status_code == "M_FORBIDDEN":
            raise ReauthRequired(f"matrix refused the login: {response.message}", network=NETWORK)
        login = self._check(response, nio.LoginResponse)
        return Session(
            user_id=login.user_id, access_token=login.access_token, device_id=login.device_id
        )

    def whoami(self) -> str:
        response = self._check(self._run(self._nio.whoami()), nio.WhoamiResponse)
        user_id: str = response.user_id
        self._nio.user_id = user_id
        if response.device_id:
            self._nio.device_id = response.device_id
        return user_id

    def display_name(self, user_id: str) -> str | None:
        response = self._run(self._nio.get_displayname(user_id))
        if isinstance(response, nio.ProfileGetDisplayNameResponse):
            name = response.displayname
            return name if isinstance(name, str) else None
        return None  # a missing profile is no reason to fail

    # -- content ----------------------------------------------------------------------------------

    def send_event(
        self,
        room_id: str,
        content: Mapping[str, Any],
        *,
        event_type: str = "m.room.message",
        txn_id: str | None = None,
    ) -> str:
        """Send one event; ``txn_id`` makes a repeat with the same token a no-op on the
        homeserver (the Matrix idempotency rule for ``PUT /send/{type}/{txnId}``)."""
        response = self._run(
            self._nio.room_send(
                room_id, event_type, dict(content), tx_id=txn_id or str(uuid.uuid4())
            ),
            write=True,
        )
        event_id: str = self._check(response, nio.RoomSendResponse).event_id
        return event_id

    def upload(self, data: bytes, *, content_type: str, filename: str | None = None) -> str:
        """Upload to the media repository; returns the ``mxc://`` URI."""
        response, _keys = self._run(
            self._nio.upload(
                io.BytesIO(data), content_type=content_type, filename=filename, filesize=len(data)
            ),
            write=True,
        )
        uri: str = self._check(response, nio.UploadResponse).content_uri
        return uri

    def get_event(self, room_id: str, event_id: str) -> dict[str, Any]:
        response = self._run(self._nio.room_get_event(room_id, event_id))
        event: dict[str, Any] = self._check(response, nio.RoomGetEventResponse).event.source
        return event

    # -- reading ----------------------------------------------------------------------------------

    def sync(self, since: str | None, sync_filter: Mapping[str, Any]) -> SyncResult:
        """One ``/sync`` that returns at once (no long-polling: the worker decides when)."""
        response = self._run(self._nio.sync(timeout=0, sync_filter=dict(sync_filter), since=since))
        sync = self._check(response, nio.SyncResponse)
        joined = [
            RoomTimeline(
                room_id=room_id,
                events=[event.source for event in info.timeline.events],
                limited=bool(info.timeline.limited),
                prev_batch=info.timeline.prev_batch,
                names=_display_names(event.source for event in info.state),
            )
            for room_id, info in sync.rooms.join.items()
        ]
        return SyncResult(
            next_batch=sync.next_batch, joined=joined, invited=list(sync.rooms.invite)
        )

    def long_poll(
        self,
        since: str | None,
        sync_filter: Mapping[str, Any],
        *,
        timeout_ms: int,
        stop: threading.Event,
    ) -> SyncResult | None:
        """One long-polling ``/sync``: the homeserver answers as soon as something new is
        there for the account, or after ``timeout_ms`` with nothing. ``None`` when ``stop``
        was set meanwhile (the request is abandoned at once, not waited for)."""
        response = self._run_until(
            self._nio.sync(timeout=timeout_ms, sync_filter=dict(sync_filter), since=since),
            stop,
            deadline=timeout_ms / 1000 + self.timeout,
        )
        if response is None:
            return None
        sync = self._check(response, nio.SyncResponse)
        joined = [
            RoomTimeline(
                room_id=room_id,
                events=[event.source for event in info.timeline.events],
                limited=bool(info.timeline.limited),
                prev_batch=info.timeline.prev_batch,
            )
            for room_id, info in sync.rooms.join.items()
        ]
        return SyncResult(
            next_batch=sync.next_batch, joined=joined, invited=list(sync.rooms.invite)
        )

    def messages(
        self,
        room_id: str,
        *,
        start: str | None = None,
        end: str | None = None,
        backwards: bool = True,
        limit: int = 50,
        message_filter: Mapping[str, Any] | None = None,
    ) -> MessagesPage:
        direction = nio.MessageDirection.back if backwards else nio.MessageDirection.front
        response = self._run(
            self._nio.room_messages(
                room_id,
                start=start,
                end=end,
                direction=direction,
                limit=limit,
                message_filter=dict(message_filter) if message_filter else None,
            )
        )
        page = self._check(response, nio.RoomMessagesResponse)
        return MessagesPage(events=[event.source for event in page.chunk], end=page.end)

    def direct_rooms(self) -> dict[str, list[str]]:
        """The account's ``m.direct`` map (user id → DM room ids); empty if it has none."""
        response = self._run(self._nio.list_direct_rooms())
        if isinstance(response, nio.DirectRoomsErrorResponse) and response.status_code in (
            "M_NOT_FOUND",
            None,
        ):
            return {}
        rooms: dict[str, list[str]] = self._check(response, nio.DirectRoomsResponse).rooms
        return rooms

    def relations(
        self,
        room_id: str,
        event_id: str,
        *,
        rel_type: str,
        event_type: str | None = None,
        max_pages: int = 10,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Events related to one event (``/v1/rooms/…/relations``), at most ``max_pages`` pages
        of 100; the flag says whether everything was read."""
        parts = [room_id, "relations", event_id, rel_type]
        if event_type:
            parts.append(event_type)
        path = "/_matrix/client/v1/rooms/" + "/".join(quote(p, safe="") for p in parts)
        events: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(max_pages):
            query = {"limit": "100", **({"from": token} if token else {})}
            page = self._run(self._raw("GET", path, query))
            events.extend(e for e in page.get("chunk", []) if isinstance(e, dict))
            token = page.get("next_batch")
            if not token:
                return events, True
        return events, False

    # -- rooms (direct messages, and the tests' set-up) --------------------------------------------

    def create_room(
        self,
        *,
        name: str | None = None,
        invite: Sequence[str] = (),
        is_direct: bool = False,
    ) -> str:
        preset = nio.RoomPreset.trusted_private_chat if is_direct else nio.RoomPreset.private_chat
        response = self._run(
            self._nio.room_create(
                name=name, invite=list(invite), is_direct=is_direct, preset=preset
            ),
            write=True,
        )
        room_id: str = self._check(response, nio.RoomCreateResponse).room_id
        return room_id

    def join(self, room_id: str) -> None:
        self._check(self._run(self._nio.join(room_id), write=True), nio.JoinResponse)

    def set_direct_rooms(self, direct: Mapping[str, Sequence[str]]) -> None:
        user = quote(self.user_id or "", safe="")
        path = f"/_matrix/client/v3/user/{user}/account_data/m.direct"
        self._run(self._raw("PUT", path, body={k: list(v) for k, v in direct.items()}), write=True)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._loop.run_until_complete(self._nio.close())
        finally:
            self._loop.close()
