"""Instagram @mentions pushed by the Meta webhook (``/webhooks/meta/{channel_id}``): the
notification carries only ids, so the request queues a job and answers at once; the job reads
the caption or comment from the Graph API (answers written from Meta's "Mentioned Media" and
"IG User Mentioned Comment" references) and stores one inbox message per remote item; transient
failures are retried, permanent ones (and the last attempt) quarantined with the reason."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts.models import User, Workspace
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.clock import FrozenClock
from dialogo.core.config import Settings
from dialogo.core.context import AppContext
from dialogo.inbox import instagram_mentions, tasks
from dialogo.inbox.models import Message, QuarantinedItem
from dialogo.jobs.models import Job, JobStatus
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers.base import Credentials
from dialogo.providers.instagram.provider import InstagramProvider
from dialogo.providers.meta.webhook import signature_for
from dialogo.providers.registry import ProviderRegistry
from dialogo.worker.runner import Worker
from tests.providers.x.test_provider import Recorder

IG = "17841405309211844"
MEDIA = "17920112008063024"
COMMENT = "17873440459141021"
SECRET = "meta-app-secret-for-tests"
FACEBOOK_LOGIN_GRAPH = "https://graph.facebook.com"
USER_PATH = f"/v23.0/{IG}"
# Meta's documented answers (ids and shapes from the references' samples).
COMMENT_ANSWER = {
    "mentioned_comment": {
        "id": COMMENT,
        "text": "@caffeaurora il miglior espresso di Napoli",
        "timestamp": "2026-12-06T09:15:00+0000",
        "like_count": 3,
        "username": "giulia_r",
        "media": {"id": MEDIA, "permalink": "https://www.instagram.com/p/C1aB2cD3eF4/"},
    },
    "id": IG,
}
MEDIA_ANSWER = {
    "mentioned_media": {
        "id": MEDIA,
        "caption": "Colazione da @caffeaurora ☕",
        "media_type": "IMAGE",
        "permalink": "https://www.instagram.com/p/C1aB2cD3eF4/",
        "timestamp": "2026-12-06T08:00:00+0000",
        "username": "luca.b",
    },
    "id": IG,
}


def graph_error(status: int, code: int, message: str, **extra: Any) -> httpx.Response:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A"}
    return httpx.Response(status, json={"error": {**error, **extra}})


@pytest.fixture
def ig_channel(db: Session, ctx: AppContext, owner: User, workspace: Workspace) -> Channel:
    cipher = CredentialCipher.from_settings(ctx.settings)
    channel = Channel(
        workspace_id=workspace.id,
        network="instagram",
        name="Caffè Aurora IG",
        account_remote_id=IG,
        account_handle="caffeaurora",
        # Facebook Login's host: the one that serves mentioned_media / mentioned_comment
        config={"client_id": "ig-app", "graph_url": FACEBOOK_LOGIN_GRAPH},
        credentials=cipher.encrypt(
            Credentials(access_token="ig-token", account_id=IG, extra={"client_secret": SECRET})
        ),
        connected_by=owner.id,
    )
    db.add(channel)
    db.commit()
    return channel


@dataclasses.dataclass
class Jobs:
    worker: Worker
    clock: FrozenClock
    graph: Recorder
    db: Session

    def run(self) -> None:
        while self.worker.run_once():
            pass
        self.db.expire_all()

    def later(self, hours: float = 1) -> None:
        self.clock.advance(hours=hours)
        self.run()

    def queued(self) -> list[Job]:
        self.db.expire_all()
        return list(self.db.scalars(select(Job).where(Job.task == instagram_mentions.TASK)))


@pytest.fixture
def jobs(db: Session, session_factory: sessionmaker[Session], settings: Settings) -> Jobs:
    graph = Recorder()
    registry = TaskRegistry()
    providers = ProviderRegistry({"instagram": InstagramProvider})
    tasks.register(
        registry,
        providers=lambda _settings: providers,
        http=httpx.Client(transport=httpx.MockTransport(graph)),
    )
    clock = FrozenClock(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))  # after the pushes
    worker = Worker(settings, session_factory, registry, clock=clock, worker_id="host:1:ig")
    return Jobs(worker, clock, graph, db)


def push(client: TestClient, channel: Channel, *values: dict[str, str], to: str = IG) -> None:
    changes = [{"field": "mentions", "value": v} for v in values]
    entry = {"id": to, "time": 1_796_000_000, "changes": changes}
    body = json.dumps({"object": "instagram", "entry": [entry]}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_for(body, SECRET),
    }
    answer = client.post(f"/webhooks/meta/{channel.id}", content=body, headers=headers)
    assert answer.status_code == 200


def stored(db: Session, channel: Channel) -> list[Message]:
    db.expire_all()
    return list(db.scalars(select(Message).where(Message.channel_id == channel.id)))


def quarantined(db: Session) -> list[QuarantinedItem]:
    db.expire_all()
    return list(db.scalars(select(QuarantinedItem)))


def test_a_comment_mention_is_read_by_a_job_and_stored_once(
    client: TestClient, db: Session, ig_channel: Channel, jobs: Jobs
) -> None:
    jobs.graph.on("GET", USER_PATH, httpx.Response(200, json=COMMENT_ANSWER))
    push(client, ig_channel, {"media_id": MEDIA, "comment_id": COMMENT})
    push(client, ig_channel, {"media_id": MEDIA, "comment_id": COMMENT})  # Meta resends
    # The request only queued the work (one job for both deliveries) and asked nothing.
    assert len(jobs.queued()) == 1 and jobs.graph.requests == []
    assert stored(db, ig_channel) == []
    jobs.run()
    [request] = jobs.graph.requests
    fields = request.url.params["fields"]
    assert fields.startswith(f"mentioned_comment.comment_id({COMMENT}){{")
    assert "text" in fields and "timestamp" in fields and "username" in fields
    [message] = stored(db, ig_channel)
    assert (message.remote_id, message.kind) == (COMMENT, "mention")
    assert message.text == "@caffeaurora il miglior espresso di Napoli"
    assert message.created_at == dt.datetime(2026, 12, 6, 9, 15, tzinfo=dt.UTC)
    assert [j.status for j in jobs.queued()] == [JobStatus.done.value]
    # Delivered again later: the job is the same one, nothing is fetched or stored again.
    push(client, ig_channel, {"media_id": MEDIA, "comment_id": COMMENT})
    jobs.run()
    assert len(stored(db, ig_channel)) == 1 and len(jobs.graph.requests) == 1
    assert quarantined(db) == []


def test_a_caption_mention_is_stored_with_its_link(
    client: TestClient, db: Session, ig_channel: Channel, jobs: Jobs
) -> None:
    jobs.graph.on("GET", USER_PATH, httpx.Response(200, json=MEDIA_ANSWER))
    push(client, ig_channel, {"media_id": MEDIA})
    jobs.run()
    fields = jobs.graph.requests[0].url.params["fields"]
    assert fields.startswith(f"mentioned_media.media_id({MEDIA}){{") and "caption" in fields
    [message] = stored(db, ig_channel)
    assert (message.remote_id, message.kind) == (MEDIA, "mention")
    assert message.text == "Colazione da @caffeaurora ☕"
    assert message.url == "https://www.instagram.com/p/C1aB2cD3eF4/"


def test_transient_failures_are_retried_then_stored(
    client: TestClient, db: Session, ig_channel: Channel, jobs: Jobs
) -> None:
    jobs.graph.on(
        "GET",
        USER_PATH,
        graph_error(500, 2, "Service temporarily unavailable", is_transient=True),
        httpx.Response(200, json=COMMENT_ANSWER),
    )
    push(client, ig_channel, {"media_id": MEDIA, "comment_id": COMMENT})
    jobs.run()
    [job] = jobs.queued()
    assert job.status == JobStatus.queued.value and job.attempts == 1
    assert stored(db, ig_channel) == [] and quarantined(db) == []
    jobs.later()
    assert [m.remote_id for m in stored(db, ig_channel)] == [COMMENT]
    assert quarantined(db) == []


def test_a_mention_that_cannot_be_read_is_quarantined_with_the_reason(
    client: TestClient, db: Session, ig_channel: Channel, jobs: Jobs
) -> None:
    jobs.graph.on(
        "GET",
        USER_PATH,
        graph_error(400, 100, "Comments are disabled for this media"),
    )
    push(client, ig_channel, {"media_id": MEDIA, "comment_id": COMMENT})
    jobs.run()
    assert stored(db, ig_channel) == []
    [item] = quarantined(db)
    assert item.remote_id == COMMENT and item.channel_id == ig_channel.id
    assert "@mention in a comment" in item.reason and "could not be read" in item.reason
    assert "Comments are disabled for this media" in item.reason
    assert [j.status for j in jobs.queued()] == [JobStatus.done.value]
    assert len(jobs.graph.requests) == 1  # a permanent refusal is not retried


def test_the_last_transient_failure_quarantines_instead_of_losing_it(
    client: TestClient, db: Session, ig_channel: Channel, jobs: Jobs
) -> None:
    jobs.graph.on("GET", USER_PATH, graph_error(503, 2, "Service temporarily unavailable"))
    push(client, ig_channel, {"media_id": MEDIA})
    jobs.run()
    for _ in range(instagram_mentions.MAX_ATTEMPTS):
        jobs.later()
    assert len(jobs.graph.requests) == instagram_mentions.MAX_ATTEMPTS
    [item] = quarantined(db)
    assert item.remote_id == MEDIA
    assert f"gave up after {instagram_mentions.MAX_ATTEMPTS} attempts" in item.reason
    assert [j.status for j in jobs.queued()] == [JobStatus.done.value]


def test_malformed_and_foreign_mentions_are_quarantined_without_a_job(
    client: TestClient, db: Session, ig_channel: Channel, jobs: Jobs
) -> None:
    push(client, ig_channel, {"media_id": MEDIA}, to="999")
    push(client, ig_channel, {"comment_id": COMMENT})
    assert jobs.queued() == []
    reasons = sorted(q.reason for q in quarantined(db))
    assert len(reasons) == 2
    assert "mention for account 999" in reasons[1] and "without a media_id" in reasons[0]
