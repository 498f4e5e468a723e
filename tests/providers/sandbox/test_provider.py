"""The sandbox provider over a small simulated world: auth, publishing and metrics over
simulated time, the inbound stream (incremental, deterministic, bilingual, with follow-ups that
depend on answers), what survives a restart, and how it is declared."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialogo.core.clock import FrozenClock
from dialogo.providers.base import Credentials, Draft, InboundMessage, MessageKind, RemoteRef
from dialogo.providers.errors import InvalidPayload, ReauthRequired
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox import provider as sandbox
from dialogo.providers.sandbox.provider import (
    DEMO_TOKEN,
    RECENT_PAGE,
    SandboxProvider,
    decode_post_id,
    forget_ledgers,
)
from dialogo.simulation import Message, guess_language

# 30 days of history: the brand's autopilot ends (live_from) on 2026-01-31 00:00 UTC.
CONFIG = {"seed": "5", "population": "2000", "start": "2026-01-01", "history_days": "30"}
LIVE = dt.datetime(2026, 1, 31, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_ledgers() -> Iterator[None]:
    forget_ledgers()
    yield
    forget_ledgers()


def make(
    at: dt.datetime = LIVE + dt.timedelta(hours=9), token: str = DEMO_TOKEN, **config: str
) -> tuple[SandboxProvider, FrozenClock]:
    clock = FrozenClock(at)
    provider = SandboxProvider(
        Credentials(access_token=token), config={**CONFIG, **config}, clock=clock
    )
    return provider, clock


def read(provider: SandboxProvider, since: dt.datetime) -> list[InboundMessage]:
    """Everything from ``since`` to the provider's now, page by page."""
    out: list[InboundMessage] = []
    cursor: str | None = since.isoformat()
    while True:
        page = provider.fetch_messages(cursor)
        out.extend(page.messages)
        if page.cursor == cursor:
            return out
        cursor = page.cursor


# -- declaration and auth ---------------------------------------------------------------------


def test_it_is_registered_by_entry_point() -> None:
    registry = ProviderRegistry.from_entry_points()
    assert registry.get("sandbox") is SandboxProvider
    caps = SandboxProvider.capabilities
    assert (caps.display_name, caps.text_limit) == ("Sandbox network", 500)
    assert caps.threads and caps.replies and caps.direct_messages and caps.metrics and caps.search


def test_verify_answers_the_brand_and_stamps_the_clock_origin() -> None:
    provider = SandboxProvider(Credentials(access_token=DEMO_TOKEN), config=dict(CONFIG))
    account = provider.verify()
    assert account.handle == provider.world.config.workspace_brand.handle
    assert account.remote_id == f"brand:{account.handle}" == provider.credentials.account_id
    assert account.followers and account.followers > 0
    origin = dt.datetime.fromisoformat(provider.credentials.extra["clock_start"])
    assert abs(origin - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    # Just after the origin the simulated clock reads the end of the history.
    assert abs(provider.now() - LIVE) < dt.timedelta(hours=1)


def test_the_simulated_clock_runs_faster_than_real_time() -> None:
    real_start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    provider = SandboxProvider(
        Credentials(access_token=DEMO_TOKEN, extra={"clock_start": real_start.isoformat()}),
        config={**CONFIG, "speed": "60"},
    )
    assert provider.now() - LIVE == pytest.approx(
        dt.timedelta(hours=10), abs=dt.timedelta(minutes=2)
    )


def test_a_wrong_token_needs_reauthorisation() -> None:
    provider, _ = make(token="nope")
    for call in (
        provider.verify,
        lambda: provider.publish(Draft(text="ciao")),
        lambda: provider.fetch_messages(None),
        lambda: provider.fetch_metrics([]),
    ):
        with pytest.raises(ReauthRequired):
            call()


def test_publish_refuses_what_validate_rejects() -> None:
    provider, _ = make()
    with pytest.raises(InvalidPayload):
        provider.publish(Draft(text="x" * 501))


# -- publishing and metrics -------------------------------------------------------------------


def test_metrics_grow_over_simulated_time_and_survive_a_restart() -> None:
    provider, clock = make(at=LIVE + dt.timedelta(hours=18))
    result = provider.publish(
        Draft(text="Stasera degustazione del nuovo caffè in negozio, vi aspettiamo! ☕")
    )
    assert result.remote_id and result.remote_id.startswith("sbx1.")
    spec = decode_post_id(result.remote_id)
    assert spec.at == LIVE + dt.timedelta(hours=18) and spec.language == "it"
    series = []
    for hours in (0, 1, 3, 12, 48):
        clock._now = spec.at + dt.timedelta(hours=hours)
        series.append(provider.fetch_metrics([result.remote_id])[0])
    impressions = [m.impressions or 0 for m in series]
    assert impressions == sorted(impressions) and impressions[-1] > impressions[0]
    for field in ("reach", "likes", "clicks", "reposts", "replies"):
        values = [getattr(m, field) or 0 for m in series]
        assert values == sorted(values), field
    # A new process knows nothing but the remote id, and finds the same numbers.
    forget_ledgers()
    sandbox._worlds.clear()
    again, _ = make(at=clock.now())
    assert again.fetch_metrics([result.remote_id]) == [series[-1]]
    conversions = again.fetch_conversions([result.remote_id])[0]
    assert conversions["clicks"] == series[-1].clicks
    assert conversions["purchases"] >= 0 and conversions["revenue_eur"] >= 0


def test_threads_and_recent_posts() -> None:
    provider, _ = make()
    result = provider.publish(Draft(text="Prima parte", thread=[Draft(text="Seconda parte")]))
    assert len(result.thread_ids) == 1
    listing = provider.recent_posts()
    # Newest first, as every provider lists (the thread's part was made after its start).
    assert [r.remote_id for r in listing] == [result.thread_ids[0], result.remote_id]
    assert listing.exhausted
    # The key marks the thread's first post only: a reconciliation finds the post itself.
    assert "idempotency_key" not in listing[0].state and listing[1].state["idempotency_key"]


def test_recent_posts_page_back_like_a_network_with_capped_pages() -> None:
    """More posts than one page (:data:`RECENT_PAGE`): the listing pages back, newest first,
    says ``exhausted`` only when it reached the first post, and finds each post's key."""
    provider, _ = make()
    published = [
        provider.publish(Draft(text=f"Post {n}", idempotency_key=f"k{n}")).remote_id
        for n in range(RECENT_PAGE + 30)
    ]
    short = provider.recent_posts(limit=RECENT_PAGE + 10)
    assert [r.remote_id for r in short] == published[::-1][: RECENT_PAGE + 10]
    assert not short.exhausted  # twenty older posts were not listed
    everything = provider.recent_posts(limit=1000)
    assert [r.remote_id for r in everything] == published[::-1] and everything.exhausted
    assert everything[-1].state["idempotency_key"] == "k0"


def test_a_ledger_file_keeps_published_posts_and_answers_across_restarts(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.jsonl")
    provider, _ = make(ledger=ledger)
    result = provider.publish(Draft(text="Buongiorno!"))
    provider.reply(RemoteRef("m-123"), Draft(text="Grazie!"))
    forget_ledgers()
    again, _ = make(ledger=ledger)
    assert [r.remote_id for r in again.recent_posts()] == [result.remote_id]
    assert "m-123" in again.ledger.snapshot()[1]


def test_comments_under_a_published_post_arrive_in_the_inbox() -> None:
    provider, clock = make(at=LIVE + dt.timedelta(days=1, hours=19))
    published = None
    for n in range(12):  # some posts draw no comment: publish until one does
        result = provider.publish(Draft(text=f"Nuova miscela in arrivo, che ne pensate? #{n}"))
        assert result.remote_id
        outcome = provider._outcome(decode_post_id(result.remote_id))
        if outcome.comments(provider.world):
            published = outcome
            break
    assert published is not None
    clock._now = LIVE + dt.timedelta(days=6)
    fetched = {m.remote_id for m in read(provider, LIVE + dt.timedelta(days=1))}
    assert {c.id for c in published.comments(provider.world)} <= fetched


# -- the inbound stream -----------------------------------------------------------------------


def test_reading_in_small_steps_gives_what_one_read_gives() -> None:
    start = LIVE - dt.timedelta(hours=20)  # across the end of the autopilot
    end = LIVE + dt.timedelta(days=3)
    whole, _ = make(at=end)
    once = read(whole, start)
    steps, clock = make(at=start)
    pieces: list[InboundMessage] = []
    cursor = start.isoformat()
    while clock.now() < end:
        clock.advance(hours=5)
        clock._now = min(clock._now, end)
        page = steps.fetch_messages(cursor)
        pieces.extend(page.messages)
        assert page.cursor is not None
        cursor = page.cursor
    assert [m.remote_id for m in pieces] == [m.remote_id for m in once]
    assert pieces == once
    assert len(once) > 20
    assert all(start <= m.created_at < end for m in once)


def test_two_providers_with_the_same_settings_see_the_same_world() -> None:
    at = LIVE + dt.timedelta(days=2)
    first, _ = make(at=at)
    a = read(first, LIVE)
    first_world = first.world
    sandbox._worlds.clear()  # a second world, built from scratch
    second, _ = make(at=at)
    assert second.world is not first_world
    assert read(second, LIVE) == a
    other, _ = make(at=at, seed="6")
    assert [m.text for m in read(other, LIVE)] != [m.text for m in a]


def test_messages_are_believable_italian_and_english_with_their_truth() -> None:
    provider, _ = make(at=LIVE + dt.timedelta(days=2))
    messages = read(provider, LIVE - dt.timedelta(days=3))
    brand = provider.brand
    languages = {m.language for m in messages}
    assert languages == {"it", "en"}
    kinds = {m.kind for m in messages}
    assert {MessageKind.mention, MessageKind.direct} <= kinds
    assert all(m.text.strip() and m.author.handle for m in messages)
    mentions = [m for m in messages if m.kind is MessageKind.mention]
    assert mentions and all(f"@{brand}" in m.text for m in mentions)
    truth = [m.raw["truth"] for m in messages]
    assert {t["sentiment"] for t in truth} <= {"neg", "neu", "pos"}
    assert {t["sentiment"] for t in truth} >= {"neg", "pos"}
    labelled = [m for m in messages if len(m.text.split()) >= 6]
    agree = sum(guess_language(m.text, default="?") == m.language for m in labelled)
    assert agree >= 0.8 * len(labelled)


ANSWER_DELAY = dt.timedelta(minutes=20)


def _root_whose_fate_depends_on_the_answer(provider: SandboxProvider) -> Message:
    """A message after the autopilot whose author writes differently when answered."""
    world = provider.world
    for event in world.events(LIVE, LIVE + dt.timedelta(days=1)):
        if (
            isinstance(event, Message)
            and event.brand == provider.brand
            and event.expects_answer
            and world.follow_up(event, None) != world.follow_up(event, event.at + ANSWER_DELAY)
        ):
            return event
    raise AssertionError("no message whose follow-ups depend on the answer")


def test_answers_change_what_people_write_next(tmp_path: Path) -> None:
    ignored, clock = make(at=LIVE + dt.timedelta(days=1))
    root = _root_whose_fate_depends_on_the_answer(ignored)
    world = ignored.world
    clock._now = root.at + dt.timedelta(days=4)
    later = root.at + dt.timedelta(seconds=1)

    def follow_ups(provider: SandboxProvider) -> list[str]:
        return [m.remote_id for m in read(provider, later) if m.in_reply_to == root.id]

    expected_ignored = [m.id for m in world.follow_up(root, None)]
    assert follow_ups(ignored) == expected_ignored

    answered, answer_clock = make(at=root.at + ANSWER_DELAY, ledger=str(tmp_path / "l.jsonl"))
    answered.reply(RemoteRef(root.id), Draft(text="Ci scusi, verifichiamo subito!"))
    answer_clock._now = clock.now()
    expected_answered = [m.id for m in world.follow_up(root, root.at + ANSWER_DELAY)]
    assert follow_ups(answered) == expected_answered
    assert expected_answered != expected_ignored


def test_search_finds_public_posts() -> None:
    provider, _ = make(at=LIVE + dt.timedelta(days=1))
    page = provider.search_posts("a", since=(LIVE - dt.timedelta(days=1)).isoformat())
    assert page.messages and all(m.kind is MessageKind.post for m in page.messages)


def test_world_build_time_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    sandbox._worlds.clear()
    provider, _ = make(population="5000")
    started = time.perf_counter()
    provider.verify()
    built = time.perf_counter() - started
    started = time.perf_counter()
    provider.verify()
    cached = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nsandbox: world of 5,000 people built in {built:.2f}s, then {cached:.3f}s cached")
    assert cached < built
