"""Ingest through the real worker path: dedupe, threading, contacts, enrichment, quarantine,
the cursor, and the providers' errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.inbox import ingest, tasks
from dialogo.inbox.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    IngestCursor,
    Message,
    QuarantinedItem,
)
from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job, JobStatus
from dialogo.providers.base import Author
from dialogo.providers.errors import RateLimited, ReauthRequired, TransientError
from tests.conftest import make_settings
from tests.factories import make_user, make_workspace
from tests.inbox.conftest import Brand, InboxNetwork, Rig, keyword_analyser


def enqueue(rig: Rig) -> None:
    with transaction(rig.factory) as session:
        channel = session.get(Channel, rig.brand.channel.id)
        assert channel is not None
        tasks.enqueue_ingest(session, channel, now=rig.clock.now())


def count(db: Session, model: type, **where: object) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return int(db.scalar(query) or 0)


def cursor(db: Session, channel_id: int) -> str | None:
    row = db.get(IngestCursor, channel_id, populate_existing=True)
    return row.cursor if row else None


def test_ingest_threads_replies_links_contacts_and_advances_the_cursor(rig: Rig) -> None:
    net = rig.network
    root = net.message(
        "@caffe_aurora is the shop open on Sunday?", author="alice", conversation_id="t1"
    )
    net.message(
        "and at what time?", author="alice", conversation_id="t1", in_reply_to=root.remote_id
    )
    # A network that does not say the conversation: threaded by the message answered.
    other = net.message("love the new blend", author="bob")
    net.message("me too", author="carol", in_reply_to=other.remote_id)
    enqueue(rig)
    assert rig.run() == 1
    db = rig.db
    assert count(db, Message, channel_id=rig.brand.channel.id) == 4
    conversations = db.scalars(select(Conversation).order_by(Conversation.id)).all()
    assert [c.thread_key for c in conversations] == ["t1", other.remote_id]
    assert [c.message_count for c in conversations] == [2, 2]
    # one contact per person: alice's two messages share hers
    assert count(db, Contact, workspace_id=rig.brand.id) == 3
    alice = db.scalar(select(ContactIdentity).where(ContactIdentity.handle == "alice"))
    assert alice is not None
    assert conversations[0].contact_id == alice.contact_id
    assert conversations[0].waiting_since == root.created_at
    assert cursor(db, rig.brand.channel.id) == "4"
    # The reference a reply needs is kept (Bluesky's CID, say).
    first = db.scalar(select(Message).where(Message.remote_id == root.remote_id))
    assert first is not None and first.ref == {"cid": "cid-1"}


def test_the_same_messages_ingested_again_are_stored_once(rig: Rig) -> None:
    for i in range(5):
        rig.network.message(f"hello {i}", author=f"p{i}")
    enqueue(rig)
    rig.run()
    # The cursor is lost (a restore, a provider that pages again from the start).
    with transaction(rig.factory) as session:
        row = session.get(IngestCursor, rig.brand.channel.id)
        assert row is not None
        row.cursor = None
    rig.clock.advance(minutes=1)
    enqueue(rig)
    rig.run()
    assert count(rig.db, Message) == 5
    assert count(rig.db, Conversation) == 5
    assert sum(c.message_count for c in rig.db.scalars(select(Conversation))) == 5
    job = rig.db.scalars(
        select(Job).where(Job.task == tasks.INGEST_TASK).order_by(Job.id.desc())
    ).first()
    assert job is not None and job.result is not None
    assert job.result["stored"] == 0 and job.result["duplicates"] == 5


def test_a_duplicate_within_one_page_is_stored_once(
    db: Session, brand: Brand, network: InboxNetwork
) -> None:
    m = network.message("hi", author="dora")
    report = ingest.store_messages(db, brand.channel, [m, m], analyser=keyword_analyser)
    assert (report.stored, report.duplicates) == (1, 1)


def test_malformed_items_are_quarantined_with_their_reason_and_never_dropped(
    rig: Rig,
) -> None:
    net = rig.network
    net.message("a good one", author="erin")
    good = net.messages[-1]
    net.messages.append(dataclasses.replace(good, remote_id=""))
    net.messages.append(
        dataclasses.replace(good, remote_id="naive", created_at=dt.datetime(2031, 1, 1))
    )
    net.messages.append(
        dataclasses.replace(good, remote_id="noauthor", author=Author(remote_id="", handle=""))
    )
    net.messages.append(dataclasses.replace(good, remote_id="x" * 600))
    net.messages.append({"not": "a message"})
    net.message("another good one", author="erin")
    enqueue(rig)
    rig.run()
    db = rig.db
    assert count(db, Message) == 2
    reasons = [q.reason for q in db.scalars(select(QuarantinedItem).order_by(QuarantinedItem.id))]
    assert reasons == [
        "the message has no remote id",
        "the message date has no time zone",
        "the message has no author",
        "the remote id is longer than 500 characters",
        "not an inbound message: dict",
    ]
    naive = db.scalar(select(QuarantinedItem).where(QuarantinedItem.remote_id == "naive"))
    assert naive is not None and naive.payload["text"] == "a good one"
    assert cursor(db, rig.brand.channel.id) == "7"  # past the bad items: they are kept, not lost


def test_text_no_database_can_store_is_repaired_or_quarantined_never_fails_the_page(
    rig: Rig,
) -> None:
    net = rig.network
    net.message("a good one", author="erin")
    good = net.messages[-1]
    # A lone surrogate (a bad JSON decode upstream) is repaired: the message stays readable.
    net.messages.append(dataclasses.replace(good, remote_id="sur", text="broken \ud800 text"))
    net.messages.append(
        dataclasses.replace(
            good,
            remote_id="sur-author",
            author=dataclasses.replace(good.author, display_name="Zo\udc80e"),
        )
    )
    # A NUL is refused (PostgreSQL's text cannot hold it) and kept in quarantine.
    net.messages.append(dataclasses.replace(good, remote_id="nul", text="nul \x00 \ud800 here"))
    net.message("another good one", author="erin")
    enqueue(rig)
    rig.run()
    db = rig.db
    texts = {m.remote_id: m.text for m in db.scalars(select(Message))}
    assert texts["sur"] == "broken \ufffd text"
    assert "sur-author" in texts and "nul" not in texts and len(texts) == 4
    quarantined = db.scalars(select(QuarantinedItem)).all()
    assert [(q.remote_id, q.reason) for q in quarantined] == [
        ("nul", "the message text contains a NUL character")
    ]
    assert quarantined[0].payload["text"].startswith("nul ")


def test_enrichment_and_priority_with_reasons(
    db: Session, brand: Brand, network: InboxNetwork
) -> None:
    calm = network.message("nice shop", author="fred")
    angry = network.message(
        "my order arrived broken, terrible. refund?", author="gina", followers=50_000
    )
    ingest.store_messages(db, brand.channel, [calm, angry], analyser=keyword_analyser)
    rows = {m.remote_id: m for m in db.scalars(select(Message))}
    assert rows[angry.remote_id].is_complaint and rows[angry.remote_id].is_question
    assert rows[angry.remote_id].sentiment == pytest.approx(-0.8)
    convs = {c.thread_key: c for c in db.scalars(select(Conversation))}
    assert convs[angry.remote_id].priority_reasons == ["complaint", "negative", "question", "reach"]
    assert convs[angry.remote_id].priority > convs[calm.remote_id].priority == 0


def test_enrichment_uses_dialogo_nlp_when_it_exists(
    db: Session, brand: Brand, network: InboxNetwork
) -> None:
    nlp = pytest.importorskip("dialogo.nlp")
    if not hasattr(nlp, "analyse"):
        pytest.skip("dialogo.nlp.analyse is not built yet")
    m = network.message("Il mio ordine è arrivato rotto, è uno schifo! Perché?", author="ugo")
    ingest.store_messages(db, brand.channel, [m])
    row = db.scalar(select(Message))
    assert row is not None
    expected = nlp.analyse(m.text, language=None)
    assert (row.language, row.is_question) == (expected.language, expected.is_question)
    assert row.sentiment == pytest.approx(expected.sentiment)


def test_a_new_message_reopens_a_closed_conversation(
    db: Session, brand: Brand, network: InboxNetwork
) -> None:
    first = network.message("hello?", author="hal", conversation_id="c")
    ingest.store_messages(db, brand.channel, [first], analyser=keyword_analyser)
    conv = db.scalar(select(Conversation))
    assert conv is not None
    conv.status = ConversationStatus.closed.value
    db.flush()
    again = network.message("anyone?", author="hal", conversation_id="c")
    ingest.store_messages(db, brand.channel, [again], analyser=keyword_analyser)
    db.refresh(conv)
    assert conv.status == "open" and conv.message_count == 2


def test_a_failure_while_storing_leaves_the_cursor_and_stores_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.network.message("one", author="ian")
    rig.network.message("two", author="jan")

    def broken(text: str, language: str | None) -> ingest.Enrichment:
        if text == "two":
            raise RuntimeError("analyser crashed")
        return keyword_analyser(text, language)

    monkeypatch.setattr(ingest, "default_analyser", lambda: broken)
    enqueue(rig)
    rig.run()
    assert count(rig.db, Message) == 0
    assert cursor(rig.db, rig.brand.channel.id) is None
    job = rig.db.scalar(select(Job).where(Job.task == tasks.INGEST_TASK))
    assert (
        job is not None
        and job.status == JobStatus.queued.value
        and "analyser crashed" in (job.last_error or "")
    )
    monkeypatch.setattr(ingest, "default_analyser", lambda: keyword_analyser)
    rig.clock.advance(minutes=5)
    rig.run()
    assert count(rig.db, Message) == 2
    assert cursor(rig.db, rig.brand.channel.id) == "2"


def test_rate_limit_pauses_the_channel_for_as_long_as_the_network_says(rig: Rig) -> None:
    rig.network.message("hi", author="kim")
    rig.network.fail_next(RateLimited("slow down", retry_after=300))
    enqueue(rig)
    rig.run()
    row = rig.db.get(IngestCursor, rig.brand.channel.id, populate_existing=True)
    assert row is not None and row.cursor is None and row.last_error == "slow down"
    assert row.paused_until == rig.clock.now() + dt.timedelta(seconds=300)
    # The tick leaves it alone until then, and polls it afterwards.
    with transaction(rig.factory) as session:
        jobs.enqueue(session, tasks.TICK_TASK, run_at=rig.clock.now())
    rig.run()
    assert count(rig.db, Job, task=tasks.INGEST_TASK) == 1
    rig.clock.advance(seconds=301)
    with transaction(rig.factory) as session:
        jobs.enqueue(session, tasks.TICK_TASK, run_at=rig.clock.now())
    rig.run()
    assert count(rig.db, Message) == 1


def test_revoked_credentials_flag_the_channel_and_it_is_not_polled(rig: Rig) -> None:
    rig.network.message("hi", author="lea")
    rig.network.fail_next(ReauthRequired("token revoked"))
    enqueue(rig)
    rig.run()
    channel = rig.db.get(Channel, rig.brand.channel.id, populate_existing=True)
    assert channel is not None and channel.status == ChannelStatus.reauth_required.value
    assert count(rig.db, Message) == 0
    with transaction(rig.factory) as session:
        jobs.enqueue(session, tasks.TICK_TASK, run_at=rig.clock.now())
    rig.run()
    assert count(rig.db, Job, task=tasks.INGEST_TASK) == 1


def test_transient_errors_are_retried_by_the_job(rig: Rig) -> None:
    rig.network.message("hi", author="max")
    rig.network.fail_next(TransientError("502"))
    enqueue(rig)
    rig.run()
    job = rig.db.scalar(select(Job).where(Job.task == tasks.INGEST_TASK))
    assert job is not None and job.status == JobStatus.queued.value
    rig.clock.advance(minutes=10)
    rig.run()
    rig.db.refresh(job)
    assert job.status == JobStatus.done.value and count(rig.db, Message) == 1


def test_the_tick_enqueues_one_ingest_per_channel_and_period(rig: Rig) -> None:
    with transaction(rig.factory) as session:
        for _ in range(3):
            jobs.enqueue(session, tasks.TICK_TASK, run_at=rig.clock.now())
    rig.run()
    assert count(rig.db, Job, task=tasks.INGEST_TASK) == 1


@pytest.mark.slow
def test_concurrent_ingests_of_the_same_page_store_exactly_one_row_each(
    fresh_database: str, tmp_path: Path
) -> None:
    """Two sessions on a committed database store the same 300 messages at once."""
    engine = make_engine(make_settings(tmp_path, fresh_database))
    factory = make_session_factory(engine)
    network = InboxNetwork()
    try:
        with transaction(factory) as session:
            owner = make_user(session)
            workspace = make_workspace(session, owner)
            channel = Channel(
                workspace_id=workspace.id,
                network=network.name,
                name="c",
                account_remote_id="acc",
                account_handle="acc",
                credentials="x",
            )
            session.add(channel)
            session.flush()
            channel_id = channel.id
        page = [
            network.message(f"m{i}", author=f"a{i % 37}", conversation_id=f"t{i % 50}")
            for i in range(300)
        ]
        barrier = threading.Barrier(3)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with transaction(factory) as session:
                    ch = session.get(Channel, channel_id)
                    assert ch is not None
                    barrier.wait()
                    ingest.store_messages(session, ch, page, analyser=keyword_analyser)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(Message)) == 300
            assert session.scalar(select(func.count()).select_from(Conversation)) == 50
            assert session.scalar(select(func.count()).select_from(ContactIdentity)) == 37
            assert session.scalar(select(func.count()).select_from(Contact)) == 37
            assert session.scalar(select(func.sum(Conversation.message_count))) == 300
    finally:
        engine.dispose()
