"""The provider contract: what every network adapter must do the same way, whatever the network.

``tests/providers/test_contract.py`` runs these checks over every provider registered in the
``dialogo.providers`` entry-point group (see :class:`Check`):

- **capabilities**: declared, coherent, network name equal to the entry point's name;
- **validation**: ``validate`` accepts a valid draft and rejects each draft the network would
  reject;
- for ``verify``, ``publish`` and ``fetch_messages``: **HTTP 401** → ``ReauthRequired``,
  **429** → ``RateLimited`` whose ``retry_after`` is the wait the answer announced, **500 and
  503** → ``TransientError``, and a **read timeout** → ``OutcomeUnknown`` on a publish (the post
  may exist) but a plain ``TransientError`` on a read;
- **recent posts** (what reconciles a publish whose answer was lost): ``recent_posts`` pages
  the network's capped listing back to ``limit`` posts, newest first, with each post's
  ``created_at``, says ``exhausted`` only when the network's listing ended, and with
  ``since`` stops after the first page reaching back before it, reading each page once
  (:func:`listing_problems`, over :attr:`ContractFixture.account_listing`); a provider that
  cannot list raises ``NotImplementedError``.

What a provider supplies: a :class:`ContractFixture`, returned by a function
``contract_fixture()`` in the module ``testing`` next to the provider's module (for
``acme.providers.foo.provider:FooProvider`` that is ``acme.providers.foo.testing``), found by
:func:`find_fixture`. The contract owns *what* goes wrong (the status, the wait); the fixture
says how its network phrases it (:attr:`ContractFixture.error_answer`,
:attr:`ContractFixture.rate_limit_answer`: Bluesky's ``ratelimit-reset`` epoch, Matrix's
``M_LIMIT_EXCEEDED``…) and how to build a provider whose every request is answered by a
:data:`Responder` the contract programs (:attr:`ContractFixture.connect`):

- providers on ``httpx`` pass :func:`httpx_client` as their ``http``;
- providers whose client library has its own HTTP stack (Matrix: nio on aiohttp; requests-based
  SDKs) point it at a :class:`LoopbackServer`, a real HTTP server on 127.0.0.1 that answers with
  the responder, and give their client a short read timeout (:data:`LOOPBACK_TIMEOUT`) so the
  hanging answer becomes a timeout quickly.

A provider that makes no HTTP requests (the sandbox) lists the checks that cannot apply in
:attr:`ContractFixture.not_applicable`, with the reason; the contract test reports them as
skipped with that reason, never as passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import enum
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from dialogo.providers.base import Capabilities, Draft, Provider, RecentPosts, ValidationIssue
from dialogo.providers.errors import OutcomeUnknown, RateLimited, ReauthRequired, TransientError

#: How long a :class:`LoopbackServer` holds a request it answers with a timeout; a client
#: pointed at it should give up well before (half a second is plenty on loopback).
LOOPBACK_HANG = 30.0
LOOPBACK_TIMEOUT = 0.5
#: The wait the contract announces in its 429 answers.
RATE_LIMIT_WAIT = 37.0


class Check(enum.StrEnum):
    capabilities = "capabilities"
    validation = "validation"
    unauthorized = "unauthorized"  # 401 → ReauthRequired
    rate_limited = "rate_limited"  # 429 → RateLimited(retry_after from the answer)
    server_error = "server_error"  # 500 and 503 → TransientError
    read_timeout = "read_timeout"  # publish → OutcomeUnknown; reads → TransientError
    recent_posts = "recent_posts"  # paged listing; ``exhausted`` only at the network's end


class Operation(enum.StrEnum):
    verify = "verify"
    publish = "publish"
    fetch_messages = "fetch_messages"

    @property
    def writes(self) -> bool:
        return self is Operation.publish


@dataclasses.dataclass(frozen=True)
class ScriptedRequest:
    method: str
    url: str


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the network answers; ``timeout`` means no answer at all (the read times out
    after the request left)."""

    status: int = 200
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    json: Any = None
    text: str = ""
    timeout: bool = False


Responder = Callable[[ScriptedRequest], Answer]


def _json_error(status: int) -> Answer:
    return Answer(status, json={"error": f"http_{status}", "message": "scripted by the contract"})


def _retry_after_header(wait: float) -> Answer:
    return Answer(429, headers={"Retry-After": str(int(wait))}, json={"error": "rate_limited"})


@dataclasses.dataclass(frozen=True)
class ContractFixture:
    """What the contract needs to check one provider (see the module docstring)."""

    provider_class: type[Provider]
    #: A provider whose every network request is answered by the responder (a context
    #: manager, so loopback servers and clients are closed after the check).
    connect: Callable[[Responder], contextlib.AbstractContextManager[Provider]]
    #: Drafts the network accepts; the first is the one published by the failure checks.
    valid_drafts: Sequence[Draft]
    #: Drafts the network would reject, by a short name for the test report.
    invalid_drafts: Mapping[str, Draft]
    #: The network's error answer for an HTTP status (401, 500, 503).
    error_answer: Callable[[int], Answer] = _json_error
    #: The network's 429 answer announcing a wait of that many seconds.
    rate_limit_answer: Callable[[float], Answer] = _retry_after_header
    #: How far ``retry_after`` may be from the announced wait (epoch-based resets drift by
    #: the time the check takes).
    retry_after_tolerance: float = 0.01
    operations: Sequence[Operation] = tuple(Operation)
    #: The network's listing of the account's posts for :meth:`Provider.recent_posts`: given
    #: how many posts the account has, a responder answering the listing's requests as the
    #: network does, pages capped at :attr:`listing_cap` (see :func:`listing_page`).
    #: ``None``: the provider cannot list, and its ``recent_posts`` raises
    #: ``NotImplementedError``.
    account_listing: Callable[[int], Responder] | None = None
    #: The most posts the network answers to one listing request (its documented cap).
    listing_cap: int = 0
    #: Checks that cannot apply to this provider, with the reason (reported as skips).
    not_applicable: Mapping[Check, str] = dataclasses.field(default_factory=dict)


def find_fixture(provider_class: type[Provider]) -> ContractFixture | None:
    """``contract_fixture()`` from the ``testing`` module next to the provider's module, or
    ``None`` when the provider ships none."""
    package = provider_class.__module__.rpartition(".")[0]
    if not package:
        return None
    try:
        module = importlib.import_module(f"{package}.testing")
    except ModuleNotFoundError as exc:
        if exc.name and f"{package}.testing".startswith(exc.name):
            return None
        raise
    make = getattr(module, "contract_fixture", None)
    if make is None:
        return None
    fixture = make()
    if not isinstance(fixture, ContractFixture):
        raise TypeError(f"{package}.testing.contract_fixture() did not return a ContractFixture")
    return fixture


# -- the checks --------------------------------------------------------------------------------


def capability_problems(provider_class: type[Provider], network: str) -> list[str]:
    """What is missing or incoherent in a provider's declared capabilities."""
    caps = getattr(provider_class, "capabilities", None)
    if not isinstance(caps, Capabilities):
        return ["no Capabilities declared"]
    problems = []
    if caps.network != network:
        problems.append(f"network {caps.network!r} is not the entry point's name {network!r}")
    if not caps.display_name.strip():
        problems.append("no display name")
    if caps.text_limit <= 0:
        problems.append(f"text_limit {caps.text_limit} is not positive")
    media = caps.media
    if media.max_items < 0:
        problems.append("negative media.max_items")
    if media.max_items > 0 and not (media.image_types or media.video_types):
        problems.append("media allowed but no media type accepted")
    if media.image_types and media.max_image_bytes <= 0:
        problems.append("image types accepted but max_image_bytes is not positive")
    if media.video_types and media.max_video_bytes <= 0:
        problems.append("video types accepted but max_video_bytes is not positive")
    for mime in media.image_types:
        if not mime.startswith("image/"):
            problems.append(f"{mime} listed as an image type")
    for mime in media.video_types:
        if not mime.startswith("video/"):
            problems.append(f"{mime} listed as a video type")
    if media.alt_text_max is not None and media.alt_text_max <= 0:
        problems.append("alt_text_max is not positive")
    if media.max_videos is not None and not 0 <= media.max_videos <= media.max_items:
        problems.append(f"max_videos {media.max_videos} is not within 0..max_items")
    if media.video_types and media.min_video_bytes > media.max_video_bytes:
        problems.append("min_video_bytes is above max_video_bytes")
    low, high = media.min_video_seconds, media.max_video_seconds
    if (low is not None and low < 0) or (high is not None and high <= (low or 0)):
        problems.append("the video duration limits are not an increasing positive range")
    if caps.max_hashtags is not None and caps.max_hashtags < 0:
        problems.append("negative max_hashtags")
    if caps.url_length is not None and caps.url_length <= 0:
        problems.append("url_length is not positive")
    if not caps.publishes and (caps.threads or caps.slow_media):
        problems.append("a listening-only source cannot declare threads or slow media")
    return problems


def validation_issues(provider: Provider, draft: Draft) -> list[ValidationIssue]:
    issues = provider.validate(draft)
    if not isinstance(issues, list) or not all(isinstance(i, ValidationIssue) for i in issues):
        raise TypeError("validate() must return a list of ValidationIssue")
    return issues


def perform(provider: Provider, operation: Operation, fixture: ContractFixture) -> None:
    """Call one operation the way the application does."""
    if operation is Operation.verify:
        provider.verify()
    elif operation is Operation.publish:
        provider.publish(fixture.valid_drafts[0])
    else:
        provider.fetch_messages(None)


def scripted_answer(fixture: ContractFixture, check: Check, status: int = 0) -> Answer:
    """What the network answers for a failure check, in the network's own dialect."""
    if check is Check.rate_limited:
        return fixture.rate_limit_answer(RATE_LIMIT_WAIT)
    if check is Check.read_timeout:
        return Answer(timeout=True)
    return fixture.error_answer(status)


def failure_statuses(check: Check) -> list[int]:
    return {Check.unauthorized: [401], Check.server_error: [500, 503]}.get(check, [0])


def failure_problem(
    check: Check, operation: Operation, error: BaseException | None, fixture: ContractFixture
) -> str | None:
    """Why ``error`` (``None``: the call succeeded) breaks the contract for this failure, or
    ``None`` when it keeps it."""
    got = "no error" if error is None else repr(error)
    if check is Check.unauthorized:
        return None if isinstance(error, ReauthRequired) else f"expected ReauthRequired, got {got}"
    if check is Check.rate_limited:
        if not isinstance(error, RateLimited):
            return f"expected RateLimited, got {got}"
        if abs(error.retry_after - RATE_LIMIT_WAIT) > fixture.retry_after_tolerance:
            return f"retry_after {error.retry_after} is not the announced {RATE_LIMIT_WAIT}"
        return None
    if check is Check.server_error or not operation.writes:
        if not isinstance(error, TransientError) or isinstance(error, OutcomeUnknown):
            return f"expected a TransientError (not OutcomeUnknown), got {got}"
        return None if error.transient else "a TransientError that is not transient"
    return None if isinstance(error, OutcomeUnknown) else f"expected OutcomeUnknown, got {got}"


#: When the posts of a contract listing were made: post ``k`` (1 the oldest) at this time plus
#: ``k`` minutes.
LISTING_EPOCH = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def listed_at(number: int) -> dt.datetime:
    """When post ``number`` of a contract listing was made (:data:`LISTING_EPOCH`)."""
    return LISTING_EPOCH + dt.timedelta(minutes=number)


def listing_page(total: int, *, older_than: int | None, count: int, cap: int) -> list[int]:
    """The post numbers one listing request answers, for an account of ``total`` posts
    numbered 1 (the oldest) to ``total``: newest first, older than post ``older_than`` (the
    newest when ``None``), ``count`` of them but never more than the network's ``cap``.
    A fixture's :attr:`ContractFixture.account_listing` builds its pages with it and offers a
    next page while the last number is above 1."""
    start = total if older_than is None else older_than - 1
    size = max(0, min(count, cap))
    return list(range(start, max(start - size, 0), -1))


def listing_problems(fixture: ContractFixture) -> list[str]:
    """What breaks the ``recent_posts`` contract (:class:`~dialogo.providers.base.RecentPosts`)
    over the fixture's listing: an account of two pages and three posts must be listed whole,
    newest first and exhausted; a limit of a page and two, exactly, not exhausted; an empty
    account, empty and exhausted; and with a ``since`` in the middle of the second page, the
    first two pages exactly, not exhausted, in as many requests as a limit of two pages takes
    (paging stops after the first page reaching back before ``since``: each page read once)."""
    if fixture.account_listing is None or fixture.listing_cap <= 0:
        raise ValueError("the fixture has no account_listing with a positive listing_cap")
    page = fixture.listing_cap
    total = 2 * page + 3
    problems: list[str] = []
    two_pages = list(range(total, total - 2 * page, -1))
    middle = listed_at(total - page - page // 2) + dt.timedelta(seconds=30)
    cases: list[tuple[str, int, int, dt.datetime | None, list[int], bool]] = [
        ("whole account", total, total + 10, None, list(range(total, 0, -1)), True),
        (
            "one page and two",
            total,
            page + 2,
            None,
            list(range(total, total - page - 2, -1)),
            False,
        ),
        ("empty account", 0, 5, None, [], True),
        ("two pages", total, 2 * page, None, two_pages, False),
        ("since in page 2", total, total + 10, middle, two_pages, False),
    ]
    requests: dict[str, int] = {}
    for name, posts, limit, since, expected, exhausted in cases:
        listing, requests[name] = _listed(fixture, posts, limit, since)
        if not isinstance(listing, RecentPosts):
            problems.append(f"{name}: recent_posts returned {type(listing).__name__}")
            continue
        times = [_created(post.state.get("created_at")) for post in listing]
        if times != [listed_at(n) for n in expected]:
            shown = [t.isoformat() if t else None for t in times[:3]]
            problems.append(
                f"{name}: listed {len(times)} posts (first {shown}), expected {len(expected)} "
                f"newest first with their created_at"
            )
        if listing.exhausted is not exhausted:
            problems.append(f"{name}: exhausted is {listing.exhausted}, expected {exhausted}")
    if requests["since in page 2"] != requests["two pages"]:
        problems.append(
            f"since in page 2: {requests['since in page 2']} requests, expected "
            f"{requests['two pages']} (as a limit of two pages: each page read once)"
        )
    return problems


def _listed(
    fixture: ContractFixture, posts: int, limit: int, since: dt.datetime | None
) -> tuple[object, int]:
    """The provider's ``recent_posts`` over an account of ``posts`` (``since`` passed only
    when given, so a provider without it fails the ``since`` case alone) and the number of
    requests it made."""
    assert fixture.account_listing is not None
    respond = fixture.account_listing(posts)
    sent: list[ScriptedRequest] = []

    def counting(request: ScriptedRequest) -> Answer:
        sent.append(request)
        return respond(request)

    with fixture.connect(counting) as provider:
        try:
            if since is None:
                listing: object = provider.recent_posts(limit=limit)
            else:
                listing = provider.recent_posts(limit=limit, since=since)
        except TypeError as exc:  # a provider whose recent_posts takes no since
            listing = exc
    return listing, len(sent)


def _created(value: str | None) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def always(answer: Answer) -> Responder:
    def respond(request: ScriptedRequest) -> Answer:
        return answer

    return respond


# -- scripted transports -----------------------------------------------------------------------


def _httpx_response(answer: Answer) -> httpx.Response:
    if answer.json is not None:
        return httpx.Response(answer.status, headers=dict(answer.headers), json=answer.json)
    return httpx.Response(answer.status, headers=dict(answer.headers), text=answer.text)


def httpx_client(responder: Responder) -> httpx.Client:
    """An ``httpx.Client`` on ``MockTransport`` answering with ``responder`` (a timeout
    answer raises ``httpx.ReadTimeout``, as a real client does when the answer never comes)."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = responder(ScriptedRequest(request.method, str(request.url)))
        if answer.timeout:
            raise httpx.ReadTimeout("scripted: no answer", request=request)
        return _httpx_response(answer)

    return httpx.Client(transport=httpx.MockTransport(handle))


class LoopbackServer:
    """A real HTTP server on 127.0.0.1 answering every request with a :data:`Responder`, for
    providers whose client library does its own HTTP. A timeout answer holds the request for
    :data:`LOOPBACK_HANG` seconds (released when the server stops)."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[ScriptedRequest] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._release: asyncio.Event | None = None
        self._runner: Any = None
        self.url = ""

    async def _start(self) -> str:
        from aiohttp import web

        self._release = asyncio.Event()
        release = self._release

        async def handle(request: web.Request) -> web.StreamResponse:
            scripted = ScriptedRequest(request.method, str(request.url))
            self.requests.append(scripted)
            answer = self.responder(scripted)
            if answer.timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(release.wait(), LOOPBACK_HANG)
                return web.Response(status=504)
            if answer.json is not None:
                return web.json_response(
                    answer.json, status=answer.status, headers=dict(answer.headers)
                )
            return web.Response(status=answer.status, text=answer.text, headers=answer.headers)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def _stop(self) -> None:
        if self._release is not None:
            self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@contextlib.contextmanager
def serving(responder: Responder) -> Iterator[LoopbackServer]:
    with LoopbackServer(responder) as server:
        yield server


__all__ = [
    "LISTING_EPOCH",
    "LOOPBACK_TIMEOUT",
    "RATE_LIMIT_WAIT",
    "Answer",
    "Check",
    "ContractFixture",
    "LoopbackServer",
    "Operation",
    "Responder",
    "ScriptedRequest",
    "always",
    "capability_problems",
    "failure_problem",
    "failure_statuses",
    "find_fixture",
    "httpx_client",
    "listed_at",
    "listing_page",
    "listing_problems",
    "perform",
    "scripted_answer",
    "serving",
    "validation_issues",
]
