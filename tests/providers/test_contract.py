"""The provider contract (see :mod:`dialogo.providers.contract`), over EVERY provider in the
``dialogo.providers`` entry-point group.

A provider's fixture comes from ``contract_fixture()`` in the ``testing`` module next to it
(the sandbox's, and any third party's). Bluesky and Matrix predate that convention: their
fixtures are written here, from the fakes their own tests use, until their packages grow a
``testing`` module (then the entries in ``_LOCAL`` go away). A registered provider with no
fixture at all fails the test.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dialogo.providers.base import (
    Account,
    AuthKind,
    Capabilities,
    Credentials,
    Draft,
    Media,
    MessagePage,
    Page,
    Provider,
    PublishResult,
    RecentPosts,
    ValidationIssue,
    collect_pages,
)
from dialogo.providers.contract import (
    LOOPBACK_TIMEOUT,
    Answer,
    Check,
    ContractFixture,
    Operation,
    Responder,
    ScriptedRequest,
    always,
    capability_problems,
    failure_problem,
    failure_statuses,
    find_fixture,
    httpx_client,
    listed_at,
    listing_page,
    listing_problems,
    perform,
    scripted_answer,
    serving,
    validation_issues,
)
from dialogo.providers.matrix.provider import MESSAGES_PAGE
from dialogo.providers.registry import ProviderRegistry

# -- Bluesky ------------------------------------------------------------------------------------


def _bluesky() -> ContractFixture:
    from dialogo.providers.bluesky.provider import BlueskyProvider
    from tests.providers.bluesky.fakes import DID, HANDLE, SERVICE, jwt
    from tests.providers.bluesky.test_richtext import _png

    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        exp = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        credentials = Credentials(
            access_token=jwt(exp), refresh_token="r", account_id=DID, extra={"handle": HANDLE}
        )
        provider = BlueskyProvider(
            credentials, http=httpx_client(responder), config={"service": SERVICE}
        )
        try:
            yield provider
        finally:
            provider.close()

    def error(status: int) -> Answer:
        name = {401: "AuthRequired", 503: "ServiceUnavailable"}.get(status, "InternalServerError")
        return Answer(status, json={"error": name, "message": "scripted"})

    def rate_limit(wait: float) -> Answer:
        reset = str(int(time.time() + wait))  # Bluesky: ratelimit-reset is epoch seconds
        headers = {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": reset}
        return Answer(429, headers=headers, json={"error": "RateLimitExceeded"})

    png = _png(2, 2)
    return ContractFixture(
        provider_class=BlueskyProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova collezione autunno 🍂 #moda"),
            Draft(text="x" * 300, media=[Media(png, "image/png", alt_text="a leaf")]),
        ],
        invalid_drafts={
            "301 graphemes": Draft(text="é" * 301),
            "empty": Draft(text="  "),
            "five images": Draft(text="x", media=[Media(png, "image/png")] * 5),
            "image over 1 MB": Draft(text="x", media=[Media(png + b"\0" * 1_000_001, "image/png")]),
            "video": Draft(text="x", media=[Media(b"\0\0\0\x18ftypmp42", "video/mp4")]),
            "thread post too long": Draft(text="ok", thread=[Draft(text="y" * 301)]),
        },
        error_answer=error,
        rate_limit_answer=rate_limit,
        retry_after_tolerance=2.0,
        account_listing=_bluesky_records,
        listing_cap=100,
    )


def _bluesky_records(total: int) -> Responder:
    """``com.atproto.repo.listRecords`` of an account of ``total`` posts: at most ``limit``
    (1-100) older than the cursor, and, as the reference PDS does, a cursor with every page
    that has records (the end is an empty page)."""
    from tests.providers.bluesky.fakes import DID

    def respond(request: ScriptedRequest) -> Answer:
        url = httpx.URL(request.url)
        if not url.path.endswith("/com.atproto.repo.listRecords"):
            return Answer(500, json={"error": "InternalServerError", "message": "unexpected"})
        cursor = url.params.get("cursor")
        numbers = listing_page(
            total,
            older_than=int(cursor) if cursor else None,
            count=int(url.params.get("limit", "50")),
            cap=100,
        )
        records = [
            {
                "uri": f"at://{DID}/app.bsky.feed.post/r{n}",
                "cid": f"c{n}",
                "value": {"text": f"post {n}", "createdAt": listed_at(n).isoformat()},
            }
            for n in numbers
        ]
        body: dict[str, Any] = {"records": records}
        if numbers:
            body["cursor"] = str(numbers[-1])
        return Answer(200, json=body)

    return respond


# -- Matrix -------------------------------------------------------------------------------------


def _matrix() -> ContractFixture:
    from dialogo.providers.matrix.client import MatrixClient
    from dialogo.providers.matrix.provider import MatrixProvider

    me, room = "@brand:example.org", "!room:example.org"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x02\x00\x00\x00"

    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        # nio speaks HTTP through aiohttp: a real loopback server answers for the contract.
        with serving(responder) as server:
            client = MatrixClient(
                server.url, access_token="syt_contract", user_id=me, timeout=LOOPBACK_TIMEOUT
            )
            provider = MatrixProvider(
                Credentials(access_token="syt_contract", account_id=me),
                config={"homeserver": server.url, "room_id": room},
                client=client,
            )
            try:
                yield provider
            finally:
                provider.close()

    def error(status: int) -> Answer:
        code = "M_UNKNOWN_TOKEN" if status == 401 else "M_UNKNOWN"
        return Answer(status, json={"errcode": code, "error": "scripted"})

    def rate_limit(wait: float) -> Answer:
        # Matrix v1.10+: the Retry-After header; ``retry_after_ms`` is deprecated.
        return Answer(
            429,
            headers={"Retry-After": str(int(wait))},
            json={"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests"},
        )

    return ContractFixture(
        provider_class=MatrixProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Ciao a tutti!"),
            Draft(text="with a picture", media=[Media(png, "image/png", alt_text="a dot")]),
        ],
        invalid_drafts={
            "event over 64 KiB": Draft(text="x" * 70_000),
            "empty": Draft(text=" "),
            "video": Draft(text="x", media=[Media(b"v", "video/mp4")]),
            "eleven images": Draft(text="x", media=[Media(png, "image/png")] * 11),
        },
        error_answer=error,
        rate_limit_answer=rate_limit,
        account_listing=lambda total: _matrix_messages(total, me),
        listing_cap=MESSAGES_PAGE,
    )


def _matrix_messages(total: int, me: str) -> Responder:
    """``GET /_matrix/client/v3/rooms/{roomId}/messages`` (``dir=b``) of a room where we sent
    ``total`` messages: at most ``limit`` older than ``from``, and ``end`` while older ones
    remain (the spec omits it at the start of the timeline)."""

    def respond(request: ScriptedRequest) -> Answer:
        url = httpx.URL(request.url)
        if not url.path.endswith("/messages") or url.params.get("dir") != "b":
            return Answer(500, json={"errcode": "M_UNKNOWN", "error": "unexpected"})
        start = url.params.get("from")
        numbers = listing_page(
            total,
            older_than=int(start) if start else None,
            count=int(url.params.get("limit", "10")),
            cap=MESSAGES_PAGE,
        )
        chunk = [
            {
                "type": "m.room.message",
                "event_id": f"$e{n}",
                "sender": me,
                "origin_server_ts": int(listed_at(n).timestamp() * 1000),
                "content": {"msgtype": "m.text", "body": f"post {n}"},
            }
            for n in numbers
        ]
        body: dict[str, Any] = {"chunk": chunk, "start": start or str(total + 1)}
        if numbers and numbers[-1] > 1:
            body["end"] = str(numbers[-1])
        return Answer(200, json=body)

    return respond


_LOCAL = {"bluesky": _bluesky, "matrix": _matrix}

# -- enumeration --------------------------------------------------------------------------------

REGISTRY = ProviderRegistry.from_entry_points()
NETWORKS = REGISTRY.names()
_fixtures: dict[str, ContractFixture | None] = {}


def fixture_for(network: str) -> ContractFixture:
    if network not in _fixtures:
        provider_class = REGISTRY.get(network)
        fixture = find_fixture(provider_class)
        if fixture is None and network in _LOCAL:
            fixture = _LOCAL[network]()
        _fixtures[network] = fixture
    fixture = _fixtures[network]
    if fixture is None:
        pytest.fail(
            f"provider {network!r} has no contract fixture: add contract_fixture() to "
            f"{REGISTRY.get(network).__module__.rpartition('.')[0]}.testing"
        )
    assert fixture.provider_class is REGISTRY.get(network)
    return fixture


def applicable(fixture: ContractFixture, check: Check) -> None:
    reason = fixture.not_applicable.get(check)
    if reason:
        pytest.skip(f"{fixture.provider_class.capabilities.network}: {check} — {reason}")


def test_the_known_providers_are_registered() -> None:
    assert {"bluesky", "matrix", "sandbox"} <= set(NETWORKS)


def test_a_provider_without_a_testing_module_fixture_has_none() -> None:
    from dialogo.providers.testing import FakeNetwork

    # dialogo.providers.testing exists but defines no contract_fixture().
    assert find_fixture(FakeNetwork("nofixture").provider_class()) is None


class _Careless(Provider):
    """Maps nothing: every HTTP failure escapes as whatever httpx raises."""

    capabilities = Capabilities(
        network="careless", display_name="", auth=AuthKind.none, text_limit=0
    )

    def verify(self) -> Account:
        self.http.get("https://careless.example/me").raise_for_status()
        return Account(remote_id="me", handle="me")

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        return []

    def publish(self, draft: Draft) -> PublishResult:
        self.http.post("https://careless.example/posts").raise_for_status()
        return PublishResult(remote_id="p")

    def fetch_messages(self, since: str | None) -> MessagePage:
        self.http.get("https://careless.example/inbox").raise_for_status()
        return MessagePage(messages=[], cursor=None)


def _careless_fixture(provider_class: type[_Careless], **listing: Any) -> ContractFixture:
    """A fixture for a provider that breaks the contract, each request answered by httpx."""

    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        yield provider_class(Credentials(), http=httpx_client(responder))

    return ContractFixture(
        provider_class=provider_class,
        connect=connect,
        valid_drafts=[Draft(text="x")],
        invalid_drafts={"too long": Draft(text="x" * 10_000)},
        **listing,
    )


def test_the_checks_catch_a_provider_that_breaks_the_contract() -> None:
    """The contract is not vacuous: a provider that maps nothing fails every check."""
    fixture = _careless_fixture(_Careless)
    problems = capability_problems(_Careless, "careless")
    assert any("display name" in p for p in problems)
    assert any("text_limit" in p for p in problems)
    assert capability_problems(_Careless, "other")[0].startswith("network 'careless'")
    for check in (Check.unauthorized, Check.rate_limited, Check.server_error, Check.read_timeout):
        for operation in Operation:
            for status in failure_statuses(check):
                problem = run_failure(fixture, check, operation, status)
                assert problem is not None, (check, operation, status)
    with fixture.connect(always(Answer(200))) as provider:
        assert validation_issues(provider, fixture.invalid_drafts["too long"]) == []


@pytest.mark.parametrize("network", NETWORKS)
def test_every_provider_has_a_contract_fixture(network: str) -> None:
    fixture_for(network)


@pytest.mark.parametrize("network", NETWORKS)
def test_capabilities_are_declared_and_coherent(network: str) -> None:
    fixture = fixture_for(network)
    applicable(fixture, Check.capabilities)
    assert capability_problems(REGISTRY.get(network), network) == []


@pytest.mark.parametrize("network", NETWORKS)
def test_validation_accepts_valid_drafts_and_rejects_what_the_network_rejects(
    network: str,
) -> None:
    fixture = fixture_for(network)
    applicable(fixture, Check.validation)
    assert fixture.valid_drafts and fixture.invalid_drafts
    with fixture.connect(always(Answer(500))) as provider:
        for draft in fixture.valid_drafts:
            assert validation_issues(provider, draft) == [], draft.text[:40]
        for name, draft in fixture.invalid_drafts.items():
            assert validation_issues(provider, draft), f"{network} accepted: {name}"


CASES = [
    (network, check, operation)
    for network in NETWORKS
    for check in (Check.unauthorized, Check.rate_limited, Check.server_error, Check.read_timeout)
    for operation in Operation
]


def run_failure(
    fixture: ContractFixture, check: Check, operation: Operation, status: int
) -> str | None:
    answer = scripted_answer(fixture, check, status)
    error: BaseException | None = None
    with fixture.connect(always(answer)) as provider:
        try:
            perform(provider, operation, fixture)
        except Exception as exc:
            error = exc
    return failure_problem(check, operation, error, fixture)


@pytest.mark.parametrize(("network", "check", "operation"), CASES)
def test_network_failures_become_the_shared_errors(
    network: str, check: Check, operation: Operation
) -> None:
    fixture = fixture_for(network)
    applicable(fixture, check)
    if operation not in fixture.operations:
        pytest.skip(f"{network} does not support {operation}")
    for status in failure_statuses(check):
        problem = run_failure(fixture, check, operation, status)
        assert problem is None, f"{network} {operation} on {check} {status or ''}: {problem}"


@pytest.mark.parametrize("network", NETWORKS)
def test_recent_posts_page_the_listing_and_say_exhausted_only_at_its_end(network: str) -> None:
    """What reconciles a publish whose answer was lost (issue #4): the whole account over
    three capped pages, a limit cut in the middle of a page, an empty account. A provider
    without a listing must say so (``NotImplementedError``), never answer a page as all."""
    fixture = fixture_for(network)
    applicable(fixture, Check.recent_posts)
    if fixture.account_listing is None:
        with fixture.connect(always(Answer(500))) as provider, pytest.raises(NotImplementedError):
            provider.recent_posts(limit=5)
        return
    assert listing_problems(fixture) == []


class _OnePage(_Careless):
    """Lists one capped page of the account and returns it as all there is (the bug)."""

    def recent_posts(self, *, limit: int = 20) -> Any:
        answer = self.http.get("https://careless.example/posts", params={"limit": limit})
        return [
            PublishResult(remote_id=str(post["n"]), state={"created_at": post["at"]})
            for post in answer.json()["posts"]
        ]


def test_the_listing_check_catches_a_provider_that_reads_one_capped_page() -> None:
    def listing(total: int) -> Responder:
        def respond(request: ScriptedRequest) -> Answer:
            numbers = listing_page(total, older_than=None, count=10**6, cap=20)
            posts = [{"n": n, "at": listed_at(n).isoformat()} for n in numbers]
            return Answer(200, json={"posts": posts})

        return respond

    fixture = _careless_fixture(_OnePage, account_listing=listing, listing_cap=20)
    problems = listing_problems(fixture)
    assert len(problems) == 6, problems
    assert sum("returned list" in p for p in problems) == 4
    # written before ``since``: it cannot be asked back to a time, and so reads no page
    assert "since in page 2: recent_posts returned TypeError" in problems
    assert "since in page 2: 0 requests, expected 1 (as a limit of two pages" in problems[-1]


class _Paged(_Careless):
    """Pages the listing by its cursor (:func:`collect_pages`), but ``since`` only when
    ``honours_since``: one that takes it and ignores it reads every page (the bug)."""

    honours_since = True

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        def page(cursor: str | None, count: int) -> Page:
            params = {"limit": count, **({"before": cursor} if cursor else {})}
            body = self.http.get("https://careless.example/posts", params=params).json()
            posts = [
                PublishResult(remote_id=str(n["n"]), state={"created_at": n["at"]})
                for n in body["posts"]
            ]
            return posts, body.get("next")

        return collect_pages(
            page, limit=limit, page_size=20, since=since if self.honours_since else None
        )


class _IgnoresSince(_Paged):
    honours_since = False


def _paged_listing(total: int) -> Responder:
    def respond(request: ScriptedRequest) -> Answer:
        url = httpx.URL(request.url)
        before = url.params.get("before")
        numbers = listing_page(
            total,
            older_than=int(before) if before else None,
            count=int(url.params["limit"]),
            cap=20,
        )
        posts = [{"n": n, "at": listed_at(n).isoformat()} for n in numbers]
        following = str(numbers[-1]) if numbers and numbers[-1] > 1 else None
        return Answer(200, json={"posts": posts, "next": following})

    return respond


def test_the_listing_check_holds_providers_to_since() -> None:
    """A provider that pages and stops at ``since`` keeps the contract; one that takes
    ``since`` and reads on to the end of the account breaks it (posts and requests)."""
    paged = _careless_fixture(_Paged, account_listing=_paged_listing, listing_cap=20)
    assert listing_problems(paged) == []
    ignoring = _careless_fixture(_IgnoresSince, account_listing=_paged_listing, listing_cap=20)
    problems = listing_problems(ignoring)
    assert len(problems) == 3, problems
    assert problems[0].startswith("since in page 2: listed 43 posts")
    assert problems[1] == "since in page 2: exhausted is True, expected False"
    assert problems[2].startswith("since in page 2: 3 requests, expected 2")
