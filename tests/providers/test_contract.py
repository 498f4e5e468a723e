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

import pytest

from dialogo.providers.base import (
    Account,
    AuthKind,
    Capabilities,
    Credentials,
    Draft,
    Media,
    MessagePage,
    Provider,
    PublishResult,
    ValidationIssue,
)
from dialogo.providers.contract import (
    LOOPBACK_TIMEOUT,
    Answer,
    Check,
    ContractFixture,
    Operation,
    Responder,
    always,
    capability_problems,
    failure_problem,
    failure_statuses,
    find_fixture,
    httpx_client,
    perform,
    scripted_answer,
    serving,
    validation_issues,
)
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
    )


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
    )


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


def test_the_checks_catch_a_provider_that_breaks_the_contract() -> None:
    """The contract is not vacuous: a provider that maps nothing fails every check."""

    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        yield _Careless(Credentials(), http=httpx_client(responder))

    fixture = ContractFixture(
        provider_class=_Careless,
        connect=connect,
        valid_drafts=[Draft(text="x")],
        invalid_drafts={"too long": Draft(text="x" * 10_000)},
    )
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
