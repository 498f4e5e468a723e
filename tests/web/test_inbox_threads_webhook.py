"""Threads webhooks through the Meta intake (``/webhooks/meta/{channel_id}`` of a Threads
channel): the handshake with the channel's verify token, replies and mentions signed with the
Threads app secret stored at once and only once (Meta resends, polling reads the same
replies), the account's own replies and posts ignored, other accounts' notifications and
unreadable parts quarantined with the reason, bad signatures refused with nothing kept; a
reply named only by id answered at once and fetched by a job, which quarantines what it
cannot fetch. Payloads are written from Meta's "Webhooks for Threads"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts.models import User, Workspace
from dialogo.channels import app_limits
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import AppRateLimit, Channel
from dialogo.core.clock import FrozenClock, ensure_aware
from dialogo.core.config import Settings
from dialogo.core.context import AppContext
from dialogo.inbox import ingest, threads_webhook
from dialogo.inbox import tasks as inbox_tasks
from dialogo.inbox.models import Message, QuarantinedItem
from dialogo.inbox.pushed import FetchRun
from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job, JobStatus
from dialogo.jobs.registry import JobContext, TaskRegistry
from dialogo.providers import ratelimits
from dialogo.providers.base import Credentials
from dialogo.providers.meta.webhook import signature_for
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.threads.provider import ThreadsProvider
from dialogo.providers.threads.testing import (
    USER_ID,
    USERNAME,
    mention_value,
    notification,
    reply_value,
)
from dialogo.worker.runner import Worker
from tests.api.conftest import session_auth
from tests.providers.x.test_provider import Recorder
from tests.web.conftest import Browser
from tests.web.test_inbox_telegram_webhook import bound_registry

SECRET = "threads-app-secret-for-tests"
VERIFY = "threads-verify-token-for-tests"
ROOT = "18000000000000001"
V = "/v1.0"


@pytest.fixture
def threads_channel(db: Session, ctx: AppContext, owner: User, workspace: Workspace) -> Channel:
    cipher = CredentialCipher.from_settings(ctx.settings)
    channel = Channel(
        workspace_id=workspace.id,
        network="threads",
        name="Caffè Aurora on Threads",
        account_remote_id=USER_ID,
        account_handle=USERNAME,
        config={"client_id": "990602627938098"},
        credentials=cipher.encrypt(
            Credentials(
                access_token="th-token",
                account_id=USER_ID,
                extra={"client_secret": SECRET, "verify_token": VERIFY},
            )
        ),
        connected_by=owner.id,
    )
    db.add(channel)
    db.commit()
    return channel


def post(client: TestClient, channel: Channel, body: bytes, secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = signature_for(body, secret)
    return client.post(f"/webhooks/meta/{channel.id}", content=body, headers=headers).status_code


def stored(db: Session, channel: Channel) -> list[tuple[str, str, str]]:
    db.expire_all()
    return [
        (m.remote_id, m.kind, m.text)
        for m in db.scalars(
            select(Message).where(Message.channel_id == channel.id).order_by(Message.id)
        )
    ]


def quarantined(db: Session) -> list[str]:
    db.expire_all()
    return [q.reason for q in db.scalars(select(QuarantinedItem).order_by(QuarantinedItem.id))]


def fetch_jobs(db: Session) -> list[Job]:
    db.expire_all()
    return list(db.scalars(select(Job).where(Job.task == threads_webhook.FETCH_TASK)))


def test_the_handshake_answers_the_challenge_only_with_our_token(
    client: TestClient, threads_channel: Channel
) -> None:
    url = f"/webhooks/meta/{threads_channel.id}"
    ok = client.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"}
    )
    assert ok.status_code == 200 and ok.text == "42"
    wrong = client.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403


def test_replies_and_mentions_are_stored_once_the_rest_ignored_or_quarantined(
    client: TestClient, db: Session, threads_channel: Channel
) -> None:
    reply = notification(
        "replies", reply_value("18100000000000011", "Che bella tazza!"), target_id=ROOT
    )
    assert post(client, threads_channel, reply) == 200
    assert post(client, threads_channel, reply) == 200  # Meta resends
    mention = notification(
        "mentions",
        mention_value("18200000000000021", "Colazione da @caffeaurora"),
        target_id=USER_ID,
        listed=True,
    )
    assert post(client, threads_channel, mention) == 200
    own = notification(
        "replies", reply_value("18100000000000012", "Grazie!", username=USERNAME), target_id=ROOT
    )
    published = notification("publish", {"id": "1", "username": USERNAME}, target_id=USER_ID)
    assert post(client, threads_channel, own) == 200
    assert post(client, threads_channel, published) == 200
    assert stored(db, threads_channel) == [
        ("18100000000000011", "reply", "Che bella tazza!"),
        ("18200000000000021", "mention", "Colazione da @caffeaurora"),
    ]
    db.expire_all()
    reply_row = db.scalar(select(Message).where(Message.remote_id == "18100000000000011"))
    assert reply_row is not None and reply_row.in_reply_to == ROOT
    # another account's reply, a field we do not read, a value without an id: quarantined
    foreign = notification(
        "replies", reply_value("18100000000000013", "ciao", owner="999"), target_id=ROOT
    )
    unknown = notification("quotes", {"id": "5"}, target_id=ROOT)
    no_id = notification("replies", {"text": "?"}, target_id=ROOT)
    for body in (foreign, unknown, no_id):
        assert post(client, threads_channel, body) == 200
    reasons = quarantined(db)
    assert len(reasons) == 3
    assert "user 999" in reasons[0]
    assert "field 'quotes'" in reasons[1]
    assert "without an id" in reasons[2]
    assert len(stored(db, threads_channel)) == 2 and fetch_jobs(db) == []


def test_bad_signatures_and_bodies_are_refused_and_keep_nothing(
    client: TestClient, db: Session, threads_channel: Channel
) -> None:
    body = notification("replies", reply_value("18100000000000011", "ciao"), target_id=ROOT)
    assert post(client, threads_channel, body, secret=None) == 403
    assert post(client, threads_channel, body, secret="another-secret") == 403
    junk = b"{not json"
    assert post(client, threads_channel, junk) == 400
    assert stored(db, threads_channel) == [] and quarantined(db) == []


def graph(recorder: Recorder) -> ProviderRegistry:
    return bound_registry(
        ThreadsProvider, lambda: httpx.Client(transport=httpx.MockTransport(recorder))
    )


def run_fetch(
    db: Session, ctx: AppContext, job: Job, recorder: Recorder, *, last: bool = False
) -> dict[str, Any]:
    run = FetchRun(
        registry=graph(recorder),
        cipher=CredentialCipher.from_settings(ctx.settings),
        now=ctx.clock.now(),
        attempt=threads_webhook.FETCH_MAX_ATTEMPTS if last else 1,
    )
    outcome = threads_webhook.fetch_and_store(db, dict(job.payload), run)
    db.commit()
    return outcome


def test_a_reply_named_only_by_id_is_fetched_by_a_job(
    client: TestClient, db: Session, ctx: AppContext, threads_channel: Channel
) -> None:
    body = notification("replies", {"id": "18100000000000031"}, target_id=ROOT)
    assert post(client, threads_channel, body) == 200
    assert post(client, threads_channel, body) == 200  # resent: still one job
    [job] = fetch_jobs(db)
    assert stored(db, threads_channel) == []
    recorder = Recorder()
    fetched = reply_value("18100000000000031", "Aperti domenica?") | {"is_reply_owned_by_me": False}
    recorder.on("GET", f"{V}/18100000000000031", httpx.Response(200, json=fetched))
    # the job as the worker runs it: the task the inbox registers
    tasks = TaskRegistry()
    inbox_tasks.register(tasks, providers=lambda _settings: graph(recorder))
    spec = tasks.get(threads_webhook.FETCH_TASK)
    assert spec is not None and spec.max_attempts == threads_webhook.FETCH_MAX_ATTEMPTS
    context = JobContext(db, ctx.settings, ctx.clock, job.id, 1, job.workspace_id)
    outcome = spec.handler(context, dict(job.payload))
    db.commit()
    assert outcome is not None and outcome["status"] == "stored"
    [request] = recorder.requests
    assert "is_reply_owned_by_me" in request.url.params["fields"]
    assert stored(db, threads_channel) == [("18100000000000031", "reply", "Aperti domenica?")]
    # the same reply pushed in full later: no second row
    full = notification("replies", reply_value("18100000000000031", "x"), target_id=ROOT)
    assert post(client, threads_channel, full) == 200
    assert len(stored(db, threads_channel)) == 1


def test_what_the_job_cannot_fetch_is_quarantined_with_the_reason(
    client: TestClient, db: Session, ctx: AppContext, threads_channel: Channel
) -> None:
    for media_id in ("18100000000000041", "18100000000000042"):
        body = notification("replies", {"id": media_id}, target_id=ROOT)
        assert post(client, threads_channel, body) == 200
    gone, flaky = sorted(fetch_jobs(db), key=lambda j: j.payload["media_id"])
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/18100000000000041",
        httpx.Response(
            400,
            json={
                "error": {
                    "message": "Unsupported get request. Object with ID '18100000000000041' "
                    "does not exist",
                    "type": "GraphMethodException",
                    "code": 100,
                    "error_subcode": 33,
                }
            },
        ),
    )
    unavailable = {"error": {"message": "Service unavailable", "type": "OAuthException", "code": 2}}
    recorder.on("GET", f"{V}/18100000000000042", httpx.Response(503, json=unavailable))
    assert run_fetch(db, ctx, gone, recorder)["status"] == "quarantined"
    with pytest.raises(jobs.RetryLater):
        run_fetch(db, ctx, flaky, recorder)
    assert run_fetch(db, ctx, flaky, recorder, last=True)["status"] == "quarantined"
    reasons = quarantined(db)
    assert len(reasons) == 2
    assert all("named only post" in r and "Threads webhook" in r for r in reasons)
    assert "does not exist" in reasons[0]
    assert stored(db, threads_channel) == []


def test_webhook_and_polling_meet_in_one_row(
    client: TestClient, db: Session, threads_channel: Channel
) -> None:
    body = notification("replies", reply_value("18100000000000011", "Che bella!"), target_id=ROOT)
    assert post(client, threads_channel, body) == 200
    recorder = Recorder()
    recorder.on(
        "GET",
        f"{V}/{USER_ID}/threads",
        httpx.Response(200, json={"data": [{"id": ROOT, "timestamp": "2026-12-01T09:00:00+0000"}]}),
    )
    polled = reply_value("18100000000000011", "Che bella!") | {"is_reply_owned_by_me": False}
    recorder.on("GET", f"{V}/{ROOT}/conversation", httpx.Response(200, json={"data": [polled]}))
    recorder.on("GET", f"{V}/{USER_ID}/mentions", httpx.Response(200, json={"data": []}))
    provider = ThreadsProvider(
        Credentials(access_token="th-token", account_id=USER_ID),
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        config={},
    )
    page = provider.fetch_messages(None)
    report = ingest.store_page(
        db, threads_channel, page, previous=None, now=dt.datetime.now(dt.UTC)
    )
    db.commit()
    assert (report.received, report.stored, report.duplicates) == (1, 0, 1)
    assert db.scalar(select(func.count()).select_from(Message)) == 1


# -- the fetch job through the real worker: Meta's app rate limit ----------------------------------

APP_USAGE_429 = httpx.Response(
    429,
    json={
        "error": {
            "message": "(#4) Application request limit reached",
            "type": "OAuthException",
            "is_transient": True,
            "code": 4,
            "fbtrace_id": "A",
        }
    },
    headers={"X-App-Usage": '{"call_count": 100, "total_time": 40, "total_cputime": 35}'},
)


def test_an_app_rate_limit_leaves_a_window_and_the_fetch_waits_for_it(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    threads_channel: Channel,
) -> None:
    """Meta's app-usage 429 on the fetch: the app's window is stored (the poller and the
    dispatcher see it too), the job waits for it — not the worker's short backoff — and then
    stores the reply; nothing is lost or quarantined."""
    media_id = "18100000000000051"
    assert (
        post(client, threads_channel, notification("replies", {"id": media_id}, target_id=ROOT))
        == 200
    )
    recorder = Recorder()
    fetched = reply_value(media_id, "Fate consegne?") | {"is_reply_owned_by_me": False}
    recorder.on("GET", f"{V}/{media_id}", APP_USAGE_429, httpx.Response(200, json=fetched))
    tasks = TaskRegistry()
    inbox_tasks.register(tasks, providers=lambda _settings: graph(recorder))
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)  # after the push
    clock = FrozenClock(start)
    worker = Worker(settings, session_factory, tasks, clock=clock, worker_id="host:1:threads")

    def run() -> None:
        while worker.run_once():
            pass
        db.expire_all()

    run()
    assert len(recorder.requests) == 1
    [job] = fetch_jobs(db)
    assert job.status == JobStatus.queued.value and job.attempts == 1
    assert ensure_aware(job.run_at) >= start + dt.timedelta(seconds=ratelimits.APP_LIMIT_WAIT)
    [window] = db.scalars(select(AppRateLimit))
    assert (window.network, window.app_id, window.scope) == ("threads", "990602627938098", "app")
    assert window.until is not None
    assert ensure_aware(window.until) == start + dt.timedelta(seconds=ratelimits.APP_LIMIT_WAIT)
    assert threads_channel.id in app_limits.limited_channel_ids(db, start)
    # within the window: nothing asked (the worker's backoff alone would have retried by now)
    clock.advance(seconds=settings.worker_backoff_max_seconds + 1)
    if clock.now() < ensure_aware(window.until):
        run()
        assert len(recorder.requests) == 1
    clock.advance(seconds=ratelimits.APP_LIMIT_WAIT + 1)
    run()
    assert len(recorder.requests) == 2
    assert stored(db, threads_channel) == [(media_id, "reply", "Fate consegne?")]
    assert quarantined(db) == []
    assert [j.status for j in fetch_jobs(db)] == [JobStatus.done.value]


# -- deletions and edits ---------------------------------------------------------------------------


def test_a_delete_notification_marks_the_stored_reply_and_the_inbox_labels_it(
    client: TestClient,
    db: Session,
    owner: User,
    workspace: Workspace,
    threads_channel: Channel,
) -> None:
    reply = notification("replies", reply_value("18100000000000061", "Che schifo"), target_id=ROOT)
    assert post(client, threads_channel, reply) == 200
    deleted_at = "2026-12-01T11:00:00+0000"
    gone = notification(
        "delete", {"id": "18100000000000061", "deleted_at": deleted_at}, target_id=ROOT
    )
    never_stored = notification("delete", {"id": "18100000000000069"}, target_id=ROOT)
    no_id = notification("delete", {"deleted_at": deleted_at}, target_id=ROOT)
    for body in (gone, gone, never_stored, no_id):  # Meta resends: marked once
        assert post(client, threads_channel, body) == 200
    db.expire_all()
    row = db.scalar(select(Message).where(Message.remote_id == "18100000000000061"))
    assert row is not None and row.text == "Che schifo"  # kept, for the record
    assert row.deleted_at is not None
    assert ensure_aware(row.deleted_at) == dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.UTC)
    assert len(stored(db, threads_channel)) == 1  # a deletion stores nothing new
    [reason] = quarantined(db)
    assert "delete notification without an id" in reason
    # the conversation labels it; the API says so (deleted_at)
    browser = Browser(client)
    client.cookies.clear()
    assert browser.sign_in(owner.email).status_code == 303
    assert row.conversation_id is not None
    page = browser.get(f"/w/{workspace.id}/inbox/{row.conversation_id}")
    assert page.status_code == 200, page.text
    assert "Deleted by its author" in page.text and "Che schifo" in page.text
    auth = session_auth(db, owner)
    db.commit()
    client.cookies.clear()
    api = f"/api/v1/workspaces/{workspace.id}/conversations/{row.conversation_id}"
    answer = client.get(api, headers=auth.headers)
    assert answer.status_code == 200, answer.text
    [message] = answer.json()["messages"]
    assert message["deleted_at"] is not None and message["text"] == "Che schifo"


def test_an_edited_reply_pushed_again_with_text_replaces_the_stored_text(
    client: TestClient, db: Session, threads_channel: Channel
) -> None:
    first = notification("replies", reply_value("18100000000000071", "Aperti oggi"), target_id=ROOT)
    assert post(client, threads_channel, first) == 200
    edited = notification(
        "replies", reply_value("18100000000000071", "Aperti oggi?"), target_id=ROOT
    )
    assert post(client, threads_channel, edited) == 200
    assert stored(db, threads_channel) == [("18100000000000071", "reply", "Aperti oggi?")]
    row = db.scalar(select(Message).where(Message.remote_id == "18100000000000071"))
    assert row is not None and row.is_question  # enriched again from the new text
    # named only by id: nothing to apply, the stored text stays
    assert (
        post(
            client, threads_channel, notification("replies", {"id": row.remote_id}, target_id=ROOT)
        )
        == 200
    )
    assert len(fetch_jobs(db)) == 1
    assert stored(db, threads_channel) == [("18100000000000071", "reply", "Aperti oggi?")]
