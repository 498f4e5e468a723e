"""An Instagram @mention pushed by the webhook, read by its job, is answered from the inbox like
any message: the reply job posts ``POST /<ig-user>/mentions`` with the ids the stored message
kept; a mention no longer available fails with a clear message and leaves the conversation
waiting; a transient failure is retried and sent once. On an Instagram Login channel whose
host refuses the read (it is documented for Facebook Login only), the mention is quarantined
with that reason and its ids."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User
from dialogo.accounts.service import Principal
from dialogo.channels.models import Channel
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation, Message, Reply, ReplyStatus
from tests.web import test_inbox_instagram_mentions as ig_base
from tests.web.test_inbox_instagram_mentions import (
    COMMENT,
    COMMENT_ANSWER,
    IG,
    MEDIA,
    MEDIA_ANSWER,
    USER_PATH,
    Jobs,
    graph_error,
    push,
    quarantined,
    stored,
)

ig_channel, jobs = ig_base.ig_channel, ig_base.jobs  # the fixtures, shared
MENTIONS = f"{USER_PATH}/mentions"


def mention_to_answer(
    client: TestClient,
    db: Session,
    channel: Channel,
    jobs: Jobs,
    ids: dict[str, str],
    *sends: httpx.Response,
) -> Message:
    """A mention pushed with ``ids`` and read by its job; the answers' sends get ``sends``."""
    read = COMMENT_ANSWER if "comment_id" in ids else MEDIA_ANSWER
    jobs.graph.on("GET", USER_PATH, httpx.Response(200, json=read))
    jobs.graph.on("POST", MENTIONS, *sends)
    push(client, channel, ids)
    jobs.run()
    [mention] = stored(db, channel)
    return mention


def answer(db: Session, owner: User, message: Message, text: str) -> Reply:
    reply = inbox.create_reply(
        db, Principal.for_user(owner), message.workspace_id, message.conversation_id, text
    )
    db.commit()
    return reply


def reply_state(db: Session, reply: Reply) -> tuple[Reply, Conversation]:
    db.expire_all()
    fresh = db.get(Reply, reply.id)
    assert fresh is not None
    conversation = db.get(Conversation, fresh.conversation_id)
    assert conversation is not None
    return fresh, conversation


def test_a_comment_mention_is_answered_from_the_inbox(
    client: TestClient, db: Session, owner: User, ig_channel: Channel, jobs: Jobs
) -> None:
    mention = mention_to_answer(
        client,
        db,
        ig_channel,
        jobs,
        {"media_id": MEDIA, "comment_id": COMMENT},
        httpx.Response(200, json={"id": "17846319838228164"}),
    )
    assert mention.ref["mention"] == "comment" and mention.ref["comment_id"] == COMMENT
    reply = answer(db, owner, mention, "Grazie Giulia, a presto!")
    jobs.run()
    [sent] = jobs.graph.sent("POST", MENTIONS)
    assert dict(httpx.QueryParams(sent.content.decode())) == {
        "media_id": MEDIA,
        "comment_id": COMMENT,
        "message": "Grazie Giulia, a presto!",
    }
    fresh, conversation = reply_state(db, reply)
    assert (fresh.status, fresh.remote_id) == (ReplyStatus.sent.value, "17846319838228164")
    assert conversation.first_response_at is not None and conversation.waiting_since is None


def test_a_mention_no_longer_available_fails_clearly_and_stays_unanswered(
    client: TestClient, db: Session, owner: User, ig_channel: Channel, jobs: Jobs
) -> None:
    gone = f"Unsupported post request. Object with ID '{MEDIA}' does not exist"
    mention = mention_to_answer(
        client,
        db,
        ig_channel,
        jobs,
        {"media_id": MEDIA},
        graph_error(400, 100, gone, error_subcode=33),
    )
    reply = answer(db, owner, mention, "Grazie Luca!")
    jobs.run()
    fresh, conversation = reply_state(db, reply)
    assert fresh.status == ReplyStatus.failed.value
    assert fresh.last_error is not None and "no longer available" in fresh.last_error
    assert f"media {MEDIA}" in fresh.last_error
    assert conversation.first_response_at is None and conversation.waiting_since is not None
    assert len(jobs.graph.sent("POST", MENTIONS)) == 1  # a refusal is not retried


def test_a_transient_failure_is_retried_and_the_answer_sent_once(
    client: TestClient, db: Session, owner: User, ig_channel: Channel, jobs: Jobs
) -> None:
    # the retry first looks under the comment for an answer that did go out: none there
    jobs.graph.on("GET", "/v23.0/me", httpx.Response(200, json={"user_id": IG, "id": IG}))
    jobs.graph.on("GET", f"/v23.0/{COMMENT}/replies", httpx.Response(200, json={"data": []}))
    mention = mention_to_answer(
        client,
        db,
        ig_channel,
        jobs,
        {"media_id": MEDIA, "comment_id": COMMENT},
        graph_error(500, 2, "Service temporarily unavailable", is_transient=True),
        httpx.Response(200, json={"id": "17846319838228165"}),
    )
    reply = answer(db, owner, mention, "Grazie!")
    jobs.run()
    fresh, conversation = reply_state(db, reply)
    assert fresh.status == ReplyStatus.queued.value and conversation.first_response_at is None
    jobs.later()
    fresh, conversation = reply_state(db, reply)
    assert (fresh.status, fresh.remote_id) == (ReplyStatus.sent.value, "17846319838228165")
    assert len(jobs.graph.sent("POST", MENTIONS)) == 2
    assert conversation.first_response_at is not None


def test_an_instagram_login_channel_refused_the_read_quarantines_the_mention(
    client: TestClient, db: Session, ig_channel: Channel, jobs: Jobs
) -> None:
    ig_channel.config = {"client_id": "ig-app"}  # the default host: graph.instagram.com
    db.commit()
    refusal = "(#100) Tried accessing nonexisting field (mentioned_comment)"
    jobs.graph.on("GET", USER_PATH, graph_error(400, 100, refusal))
    push(client, ig_channel, {"media_id": MEDIA, "comment_id": COMMENT})
    jobs.run()
    assert stored(db, ig_channel) == [] and len(jobs.graph.requests) == 1  # asked once
    [item] = quarantined(db)
    assert item.remote_id == COMMENT
    assert "Instagram Login" in item.reason and "mentioned_comment" in item.reason
    assert f"media {MEDIA}, comment {COMMENT}" in item.reason  # the ids to open it by hand
    assert db.scalar(select(Message.id)) is None
