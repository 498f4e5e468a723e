"""Per-app rate limits through the real worker code path: Facebook Pages channels connected
through two Meta apps, a fixture Graph API answering as Meta documents ("Rate Limits": error
code 4 "Application request limit reached", ``X-App-Usage`` percentages). When the app is
limited every channel of that app waits, the other app's channels do not, nothing is lost and
each post goes out once after the window; the inbox poller skips the app's channels too."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.channels import app_limits
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import AppRateLimit, Channel
from dialogo.core import i18n
from dialogo.core.clock import FrozenClock, ensure_aware
from dialogo.core.config import Settings
from dialogo.inbox import poll
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers import ratelimits
from dialogo.providers.base import Credentials
from dialogo.providers.facebook.provider import FacebookProvider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import dispatcher, health, tasks
from dialogo.publishing.models import Post, VariantStatus
from dialogo.worker.runner import Worker
from tests.catalogues import stand_in
from tests.publishing.conftest import Brand
from tests.publishing.test_dispatcher import Rig as DispatchRig

START = dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC)
IT = i18n.translator("it")
# The usage reason as the localiser will word it (the project's catalogue lacks it until then).
USAGE_IT = stand_in("it", {app_limits.USAGE_REASON: "%(percent)s %% del limite dell'app usato"})
APPS = {"101": "app-A", "102": "app-A", "201": "app-B"}  # Page id → the Meta app it uses


class GraphFixture:
    """Meta's Graph API for three Pages: ``POST /<page>/feed`` makes a post; a Page in
    ``app_limited`` answers code 4 (its app's limit) instead; ``usage`` sets the
    ``X-App-Usage`` ``call_count`` every answer of an app carries."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []  # (page, message)
        self.calls: list[str] = []  # page of every request
        self.app_limited: set[str] = set()  # apps whose next answer is code 4
        self.usage: dict[str, float] = {}
        self.failing: set[str] = set()  # apps whose next answer is a 500
        self._ids = itertools.count(1)

    def handler(self, request: httpx.Request) -> httpx.Response:
        page = request.headers["authorization"].removeprefix("Bearer tok-")
        app = APPS[page]
        self.calls.append(page)
        headers = {}
        if app in self.usage:
            used = self.usage[app]
            headers["X-App-Usage"] = json.dumps(
                {"call_count": used, "total_time": used / 2, "total_cputime": used / 3}
            )
        if app in self.failing:
            self.failing.discard(app)
            error = {"message": "An unknown error occurred", "code": 1, "fbtrace_id": "B"}
            return httpx.Response(500, json={"error": error}, headers=headers)
        if app in self.app_limited:
            self.app_limited.discard(app)
            headers["X-App-Usage"] = '{"call_count": 100, "total_time": 40, "total_cputime": 35}'
            error = {
                "message": "(#4) Application request limit reached",
                "type": "OAuthException",
                "is_transient": True,
                "code": 4,
                "fbtrace_id": "A",
            }
            return httpx.Response(400, json={"error": error}, headers=headers)
        if request.method == "POST" and request.url.path.endswith(f"/{page}/feed"):
            message = parse_qs(request.content.decode())["message"][0]
            self.posts.append((page, message))
            return httpx.Response(200, json={"id": f"{page}_{next(self._ids)}"}, headers=headers)
        return httpx.Response(200, json={"data": []}, headers=headers)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))


@dataclasses.dataclass
class Rig(DispatchRig):
    """The dispatcher tests' rig, with the fixture Graph API and its three Pages."""

    graph: GraphFixture = dataclasses.field(default_factory=GraphFixture)
    pages: dict[str, Channel] = dataclasses.field(default_factory=dict)

    def on(self, page: str, text: str, minutes: float = 1) -> Post:
        return self.schedule(text, minutes, channels=[self.pages[page]])

    def windows(self) -> list[AppRateLimit]:
        self.db.expire_all()
        return list(self.db.scalars(select(AppRateLimit).order_by(AppRateLimit.app_id)))


@pytest.fixture
def rig(
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    brand: Brand,
    network: FakeNetwork,
    cipher: CredentialCipher,
) -> Rig:
    graph = GraphFixture()
    providers = ProviderRegistry({"facebook": FacebookProvider})
    pages = {}
    for page, app in APPS.items():
        credentials = Credentials(
            access_token=f"tok-{page}", account_id=page, extra={"token_kind": "page"}
        )
        channel = Channel(
            workspace_id=brand.id,
            network="facebook",
            name=f"Page {page}",
            account_remote_id=page,
            account_handle=f"page{page}",
            config={"client_id": app, "page_id": page},
            credentials=cipher.encrypt(credentials),
        )
        db.add(channel)
        pages[page] = channel
    db.flush()
    registry = TaskRegistry()
    client = graph.client()
    tasks.register(registry, providers=lambda _settings: providers, http=client)
    clock = FrozenClock(START)
    worker = Worker(settings, session_factory, registry, clock=clock, worker_id="host:1:w1")
    db.commit()
    return Rig(db, session_factory, clock, worker, brand, network, providers, cipher, graph, pages)


def test_an_app_limit_holds_every_channel_of_the_app_and_no_other(rig: Rig) -> None:
    a1 = rig.on("101", "uno")
    a2 = rig.on("102", "due")
    b1 = rig.on("201", "tre")
    rig.graph.app_limited.add("app-A")
    rig.clock.advance(minutes=2)
    rig.run()
    # Page 101 was told its app is limited; 102 (same app) was not even tried; 201 went out.
    assert rig.graph.posts == [("201", "tre")]
    assert "102" not in rig.graph.calls
    window_end = rig.clock.now() + dt.timedelta(seconds=ratelimits.APP_LIMIT_WAIT)
    for post in (a1, a2):
        variant = rig.variant(post)
        assert variant.status == VariantStatus.queued
        assert ensure_aware(variant.next_attempt_at) == window_end  # type: ignore[arg-type]
    assert rig.variant(a1).attempts == 1 and rig.variant(a2).attempts == 0
    assert rig.variant(b1).status == VariantStatus.published
    [window] = rig.windows()
    assert (window.network, window.app_id, window.scope) == ("facebook", "app-A", "app")
    assert ensure_aware(window.until) == window_end  # type: ignore[arg-type]
    assert "Application request limit reached" in (window.reason or "")
    # The health page words the window's reason by its code, derived from the stored text:
    # the network's own refusal is the rate-limit phrase with the network's text as detail.
    [app] = health.publishing_health(
        rig.db,
        rig.brand.principal,
        rig.brand.id,
        stale_after=dt.timedelta(minutes=1),
        now=rig.clock.now(),
    ).apps
    assert (app.reason, app.reason_code, app.reason_params) == (
        window.reason,
        "rate_limited",
        {"detail": window.reason},
    )
    assert app_limits.app_limit_reason(IT, app.reason) == (
        f"è stato raggiunto il limite di chiamate della rete — dettagli: {window.reason}"
    )

    # Every worker sees it: a new post for the app's other channel is not claimed (another
    # lane, another transaction), while the other app's channels go on.
    a3 = rig.on("102", "quattro", minutes=0.5)
    b2 = rig.on("201", "cinque", minutes=0.5)
    rig.clock.advance(minutes=1)
    rig.run()
    assert rig.variant(a3).status == VariantStatus.scheduled
    # Lanes are not woken for the held post before the app's window ends.
    assert dispatcher.next_due(rig.db, now=rig.clock.now()) == window_end
    assert dispatcher.next_due(rig.db) == ensure_aware(rig.variant(a3).due_at)  # type: ignore[arg-type]
    assert rig.variant(b2).status == VariantStatus.published
    assert [p for p, _ in rig.graph.posts] == ["201", "201"]

    # The inbox poller skips the app's channels as well (one query, not per channel).
    polled = {
        c.account_remote_id
        for c in poll.channels_to_poll(rig.db, now=rig.clock.now())
        if c.network == "facebook"
    }
    assert polled == {"201"}

    # After the window everything goes out, once.
    rig.clock.advance(seconds=ratelimits.APP_LIMIT_WAIT)
    rig.run()
    assert sorted(rig.graph.posts) == sorted(
        [("201", "tre"), ("201", "cinque"), ("101", "uno"), ("102", "due"), ("102", "quattro")]
    )
    for post in (a1, a2, a3, b1, b2):
        assert rig.variant(post).status == VariantStatus.published
    rig.clock.advance(minutes=10)
    rig.run()
    assert len(rig.graph.posts) == 5
    polled = {
        c.account_remote_id
        for c in poll.channels_to_poll(rig.db, now=rig.clock.now())
        if c.network == "facebook"
    }
    assert polled == {"101", "102", "201"}


def test_an_app_near_its_limit_slows_down_before_the_network_refuses(rig: Rig) -> None:
    rig.graph.usage = {"app-A": 97, "app-B": 40}
    a1 = rig.on("101", "uno")
    a2 = rig.on("102", "due")
    b1 = rig.on("201", "tre")
    b2 = rig.on("201", "quattro")
    rig.clock.advance(minutes=2)
    rig.run()
    # 101's answer said 97 %: the app's next post waits; app B (40 %) is not slowed.
    assert sorted(rig.graph.posts) == [("101", "uno"), ("201", "quattro"), ("201", "tre")]
    assert rig.variant(a1).status == VariantStatus.published
    assert rig.variant(a2).status == VariantStatus.queued
    assert rig.variant(a2).attempts == 0
    assert {rig.variant(p).status for p in (b1, b2)} == {VariantStatus.published}
    windows = {w.app_id: w for w in rig.windows()}
    assert windows["app-A"].used_percent == 97
    assert ensure_aware(windows["app-A"].until) == rig.clock.now() + dt.timedelta(  # type: ignore[arg-type]
        seconds=ratelimits.SLOW_DOWN_WAIT
    )
    assert windows["app-B"].used_percent == 40 and windows["app-B"].until is None
    assert windows["app-B"].usage == {"call_count": 40, "total_time": 20, "total_cputime": 40 / 3}

    # The health page (and its API) says so.
    report = health.publishing_health(
        rig.db,
        rig.brand.principal,
        rig.brand.id,
        stale_after=dt.timedelta(minutes=1),
        now=rig.clock.now(),
    )
    [limited, other] = report.apps
    assert (limited.app_id, limited.until, limited.used_percent, limited.channels) == (
        "app-A",
        ensure_aware(windows["app-A"].until),  # type: ignore[arg-type]
        97,
        2,
    )
    assert other.app_id == "app-B" and other.until is None and other.channels == 1
    # Why the app waits: its own usage, in English for the API and the logs, with a code and
    # the percentage to word it in the reader's language.
    assert limited.reason == "97 % of the app's limit used"
    assert (limited.reason_code, limited.reason_params) == ("app_usage_high", {"percent": 97})
    assert (other.reason, other.reason_code, other.reason_params) == (None, None, {})
    assert app_limits.app_limit_reason(i18n.translator("en"), limited.reason) == limited.reason
    assert app_limits.app_limit_reason(USAGE_IT, limited.reason) == "97 % del limite dell'app usato"

    rig.graph.usage = {}
    rig.clock.advance(seconds=ratelimits.SLOW_DOWN_WAIT + 1)
    rig.run()
    assert rig.variant(a2).status == VariantStatus.published
    assert len(rig.graph.posts) == 4


def test_the_poller_learns_an_app_limit_for_the_other_workers(rig: Rig) -> None:
    rig.graph.app_limited.add("app-A")
    channel = rig.pages["101"]
    outcome = poll.poll_channel(
        rig.db,
        channel,
        registry=rig.providers,
        cipher=rig.cipher,
        now=rig.clock.now(),
        http=rig.graph.client(),
    )
    rig.db.commit()
    assert outcome.status == "rate_limited"
    assert app_limits.limited_channel_ids(rig.db, rig.clock.now()) == {
        rig.pages["101"].id,
        rig.pages["102"].id,
    }
    # A poll of the app's other channel that was already queued waits without a request.
    calls = len(rig.graph.calls)
    outcome = poll.poll_channel(
        rig.db,
        rig.pages["102"],
        registry=rig.providers,
        cipher=rig.cipher,
        now=rig.clock.now(),
        http=rig.graph.client(),
    )
    assert outcome.status == "rate_limited" and len(rig.graph.calls) == calls
    later = rig.clock.now() + dt.timedelta(seconds=ratelimits.APP_LIMIT_WAIT + 1)
    assert app_limits.limited_channel_ids(rig.db, later) == set()


def test_a_poll_that_fails_before_any_page_keeps_the_app_usage_it_saw(rig: Rig) -> None:
    # The 500 carries X-App-Usage at 97 %: nothing is stored and the job will retry, but the
    # other workers must still learn that the app is near its limit.
    rig.graph.usage = {"app-A": 97}
    rig.graph.failing.add("app-A")
    with pytest.raises(poll.FetchDeferred) as caught:
        poll.poll_channel(
            rig.db,
            rig.pages["101"],
            registry=rig.providers,
            cipher=rig.cipher,
            now=rig.clock.now(),
            http=rig.graph.client(),
        )
    assert caught.value.error.transient
    rig.db.rollback()  # what the worker does with the failed attempt's work
    assert app_limits.limited_channel_ids(rig.db, rig.clock.now()) == set()
    caught.value.keep(rig.db)  # what jobs.fail does in the transaction that re-queues it
    rig.db.commit()
    assert app_limits.limited_channel_ids(rig.db, rig.clock.now()) == {
        rig.pages["101"].id,
        rig.pages["102"].id,
    }


def test_a_window_never_shrinks_and_usage_is_kept(db: Session) -> None:
    now = START
    long = app_limits.Note("x", "app", "app_24h", now + dt.timedelta(hours=2), 100, {"a": 1})
    app_limits.note(db, [long], now=now)
    short = app_limits.Note("x", "app", "app_24h", now + dt.timedelta(minutes=1), 96, {"a": 2})
    app_limits.note(db, [short], now=now)
    app_limits.note(db, [app_limits.Note("x", "app", "app_24h")], now=now)  # no figures
    db.expire_all()
    [row] = db.scalars(select(AppRateLimit)).all()
    assert ensure_aware(row.until) == now + dt.timedelta(hours=2)  # type: ignore[arg-type]
    assert row.used_percent == 96 and row.usage == {"a": 2}
