"""The Matrix provider against a real Synapse on 127.0.0.1.

User A is the connected account (through ``MatrixProvider``); user B is another person on the
network, driven with plain HTTP calls to the client-server API so that what B sees does not
depend on the code under test.
"""

from __future__ import annotations

import datetime as dt
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from dialogo.providers.base import (
    Credentials,
    Draft,
    InboundMessage,
    Media,
    MessageKind,
    RemoteRef,
    made_at,
)
from dialogo.providers.errors import ReauthRequired
from dialogo.providers.matrix import provider as matrix_provider
from dialogo.providers.matrix.provider import MatrixProvider
from tests.providers.matrix.synapse import MatrixUser, SynapseServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POLL_DEADLINE = 30.0


def tiny_png(width: int = 2, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class HttpUser:
    """A person on the homeserver, through plain client-server API calls."""

    def __init__(self, server: SynapseServer, user: MatrixUser) -> None:
        self.user_id = user.user_id
        self.server_url = server.url
        self.http = httpx.Client(
            base_url=f"{server.url}/_matrix/client/v3",
            headers={"Authorization": f"Bearer {user.access_token}"},
            timeout=10.0,
        )

    def create_room(self, invite: list[str], *, is_direct: bool = False) -> str:
        body = {"preset": "private_chat", "invite": invite, "is_direct": is_direct}
        room_id: str = self.http.post("/createRoom", json=body).raise_for_status().json()["room_id"]
        return room_id

    def join(self, room_id: str) -> None:
        self.http.post(f"/join/{quote(room_id)}", json={}).raise_for_status()

    def send(
        self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message"
    ) -> str:
        path = f"/rooms/{quote(room_id)}/send/{event_type}/{uuid.uuid4().hex}"
        event_id: str = self.http.put(path, json=content).raise_for_status().json()["event_id"]
        return event_id

    def event(self, room_id: str, event_id: str) -> dict[str, Any]:
        path = f"/rooms/{quote(room_id)}/event/{quote(event_id)}"
        event: dict[str, Any] = self.http.get(path).raise_for_status().json()
        return event

    def media(self, mxc: str) -> bytes:
        server, media_id = mxc.removeprefix("mxc://").split("/", 1)
        url = f"{self.server_url}/_matrix/client/v1/media/download/{server}/{media_id}"
        return self.http.get(url).raise_for_status().content


@pytest.fixture(scope="module")
def people(synapse: SynapseServer) -> Iterator[tuple[MatrixUser, HttpUser, HttpUser, str]]:
    """A and B in a room A created and B joined; yields (A's login, A, B, room id)."""
    suffix = uuid.uuid4().hex[:6]
    a_login = synapse.register(f"alice{suffix}")
    alice = HttpUser(synapse, a_login)
    bob = HttpUser(synapse, synapse.register(f"bob{suffix}"))
    room_id = alice.create_room(invite=[bob.user_id])
    bob.join(room_id)
    yield a_login, alice, bob, room_id
    alice.http.close()
    bob.http.close()


@pytest.fixture
def provider(
    synapse: SynapseServer, people: tuple[MatrixUser, HttpUser, HttpUser, str]
) -> Iterator[MatrixProvider]:
    a_login, _, _, room_id = people
    provider = MatrixProvider(
        Credentials(access_token=a_login.access_token),
        config={"homeserver": synapse.url, "room_id": room_id},
    )
    yield provider
    provider.close()


def poll(
    provider: MatrixProvider,
    since: str | None,
    done: Callable[[list[InboundMessage]], bool],
) -> tuple[list[InboundMessage], str | None]:
    """fetch_messages until ``done`` says enough arrived, or fail at the deadline."""
    seen: list[InboundMessage] = []
    deadline = time.monotonic() + POLL_DEADLINE
    while True:
        page = provider.fetch_messages(since)
        seen.extend(page.messages)
        since = page.cursor
        if done(seen):
            return seen, since
        if time.monotonic() > deadline:
            pytest.fail(f"only {[(m.kind, m.text) for m in seen]} arrived in {POLL_DEADLINE}s")
        time.sleep(0.2)  # between polls of a bounded loop, not a wait for a condition


def test_a_conversation_between_the_account_and_another_person(
    provider: MatrixProvider, people: tuple[MatrixUser, HttpUser, HttpUser, str]
) -> None:
    _, alice, bob, room_id = people
    account = provider.verify()
    assert account.remote_id == alice.user_id
    cursor = provider.fetch_messages(None).cursor

    # A publishes: a post mentioning B, an image with alt text, and a thread reply.
    image = tiny_png()
    post = provider.publish(
        Draft(
            text=f"Welcome {bob.user_id}: our autumn menu is out!",
            media=[Media(image, "image/png", alt_text="A plate of pumpkin ravioli")],
            thread=[Draft(text="Booking opens on Monday.")],
            idempotency_key=uuid.uuid4().hex,
        )
    )
    assert post.remote_id and post.remote_id.startswith("$")
    text_id, image_id, thread_id = post.state["event_ids"].split(",")
    assert post.remote_id == text_id
    assert list(post.thread_ids) == [thread_id]

    seen_text = bob.event(room_id, text_id)
    assert seen_text["sender"] == alice.user_id
    assert seen_text["content"]["m.mentions"] == {"user_ids": [bob.user_id]}
    assert f'<a href="https://matrix.to/#/{bob.user_id}">' in seen_text["content"]["formatted_body"]
    seen_image = bob.event(room_id, image_id)["content"]
    assert seen_image["msgtype"] == "m.image"
    assert seen_image["body"] == "A plate of pumpkin ravioli"
    assert seen_image["info"] == {"mimetype": "image/png", "size": len(image), "w": 2, "h": 3}
    assert bob.media(seen_image["url"]) == image
    seen_thread = bob.event(room_id, thread_id)["content"]
    assert seen_thread["m.relates_to"]["rel_type"] == "m.thread"
    assert seen_thread["m.relates_to"]["event_id"] == text_id

    # B mentions A, and replies to A's post (a spec-compliant reply also mentions A).
    mention_id = bob.send(
        room_id,
        {
            "msgtype": "m.text",
            "body": f"{alice.user_id} do you have a gluten-free option?",
            "format": "org.matrix.custom.html",
            "formatted_body": f'<a href="https://matrix.to/#/{alice.user_id}">Alice</a> '
            "do you have a gluten-free option?",
            "m.mentions": {"user_ids": [alice.user_id]},
        },
    )
    reply_id = bob.send(
        room_id,
        {
            "msgtype": "m.text",
            "body": "Looks delicious!",
            "m.mentions": {"user_ids": [alice.user_id]},
            "m.relates_to": {"m.in_reply_to": {"event_id": text_id}},
        },
    )

    messages, cursor = poll(
        provider, cursor, lambda seen: {mention_id, reply_id} <= {m.remote_id for m in seen}
    )
    by_id = {m.remote_id: m for m in messages}
    assert by_id[mention_id].kind is MessageKind.mention
    assert by_id[mention_id].author.remote_id == bob.user_id
    assert by_id[mention_id].conversation_id == room_id
    assert by_id[reply_id].kind is MessageKind.reply
    assert by_id[reply_id].in_reply_to == text_id
    assert all(m.author.remote_id != alice.user_id for m in messages)

    # A answers B's mention; B sees a rich reply to the mention.
    answer = provider.reply(
        RemoteRef(mention_id, conversation_id=by_id[mention_id].conversation_id),
        Draft(text="Yes, ask for the rice-flour ravioli."),
    )
    seen_answer = bob.event(room_id, str(answer.remote_id))
    assert seen_answer["sender"] == alice.user_id
    assert seen_answer["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": mention_id}}
    assert bob.user_id in seen_answer["content"]["m.mentions"]["user_ids"]

    # Nothing new since: the cursor moves on and A's own answer is not inbound.
    page = provider.fetch_messages(cursor)
    assert [m for m in page.messages if m.remote_id == answer.remote_id] == []


def test_thread_messages_and_replies_inside_threads(
    provider: MatrixProvider, people: tuple[MatrixUser, HttpUser, HttpUser, str]
) -> None:
    _, _, bob, room_id = people
    cursor = provider.fetch_messages(None).cursor
    post = provider.publish(Draft(text="Thread: tell us your favourite dish"))
    root = str(post.remote_id)
    in_thread = bob.send(
        room_id,
        {
            "msgtype": "m.text",
            "body": "The tiramisù",
            "m.mentions": {},
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        },
    )
    messages, _ = poll(provider, cursor, lambda seen: in_thread in {m.remote_id for m in seen})
    message = next(m for m in messages if m.remote_id == in_thread)
    assert message.kind is MessageKind.reply
    assert message.conversation_id == f"{room_id}/{root}"
    assert message.in_reply_to == root

    answer = provider.reply(
        RemoteRef(in_thread, conversation_id=message.conversation_id), Draft(text="Great choice")
    )
    relation = bob.event(room_id, str(answer.remote_id))["content"]["m.relates_to"]
    assert relation == {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": in_thread},
    }


def test_direct_messages_arrive_as_direct(
    provider: MatrixProvider, people: tuple[MatrixUser, HttpUser, HttpUser, str]
) -> None:
    _, _, bob, _ = people
    provider.verify()
    cursor = provider.fetch_messages(None).cursor
    dm_room = provider.open_direct_room(bob.user_id)
    assert provider.open_direct_room(bob.user_id) == dm_room  # found in m.direct
    bob.join(dm_room)
    private = bob.send(dm_room, {"msgtype": "m.text", "body": "Can I book for 12 people?"})
    messages, _ = poll(provider, cursor, lambda seen: private in {m.remote_id for m in seen})
    message = next(m for m in messages if m.remote_id == private)
    assert message.kind is MessageKind.direct
    assert message.conversation_id == dm_room

    answer = provider.reply(RemoteRef(private, conversation_id=dm_room), Draft(text="Sure!"))
    assert bob.event(dm_room, str(answer.remote_id))["content"]["body"] == "Sure!"


def test_a_reply_in_a_direct_room_is_found_in_that_room_by_its_key(
    provider: MatrixProvider, people: tuple[MatrixUser, HttpUser, HttpUser, str]
) -> None:
    """What the inbox's retry reads after a lost answer (``recent_replies``): our events in
    the room of the message answered, not the configured room, with the transaction id."""
    _, _, bob, _ = people
    provider.verify()
    dm_room = provider.open_direct_room(bob.user_id)
    bob.join(dm_room)
    asked = bob.send(dm_room, {"msgtype": "m.text", "body": "Open on Sunday?"})
    target = RemoteRef(asked, conversation_id=dm_room)
    draft = Draft(text="Yes, 9 to 13", idempotency_key=uuid.uuid4().hex)
    answer = provider.reply(target, draft)
    assert answer.remote_id not in {r.remote_id for r in provider.recent_posts(limit=20)}
    found = provider.recent_replies(target, limit=5)
    assert found[0].remote_id == answer.remote_id
    assert found[0].state["transaction_id"] == f"dialogo.{draft.idempotency_key}.0"
    assert asked not in {r.remote_id for r in found}  # Bob's message is not ours


def test_publishing_again_with_the_same_key_is_deduplicated_and_reconcilable(
    provider: MatrixProvider,
) -> None:
    draft = Draft(text="Open today until 23:00", idempotency_key=uuid.uuid4().hex)
    first = provider.publish(draft)
    again = provider.publish(draft)  # e.g. the dispatcher retrying after OutcomeUnknown
    assert again.remote_id == first.remote_id
    recent = provider.recent_posts(limit=5)
    assert recent[0].remote_id == first.remote_id
    assert recent[0].state["transaction_id"] == f"dialogo.{draft.idempotency_key}.0"


def test_recent_posts_page_back_with_the_end_token_to_the_oldest(
    provider: MatrixProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More of our messages than a page (two a request here): ``/messages`` is paged back
    with each answer's ``end`` until the post asked for, the oldest of five, is listed."""
    sent = [provider.publish(Draft(text=f"paged {n}")).remote_id for n in range(5)]
    monkeypatch.setattr(matrix_provider, "MESSAGES_PAGE", 2)
    listing = provider.recent_posts(limit=5)
    assert [r.remote_id for r in listing] == sent[::-1]
    times = [r.state["created_at"] for r in listing]
    assert times == sorted(times, reverse=True)
    cut = provider.recent_posts(limit=3)
    assert [r.remote_id for r in cut] == sent[:1:-1] and not cut.exhausted
    # back to just after the second message: the second page ([2, 1]) reaches before it, and
    # the paging stops there (the first page's oldest, the fourth message, is later)
    second = made_at(listing[3])
    assert second is not None
    back = provider.recent_posts(limit=5, since=second + dt.timedelta(milliseconds=1))
    assert [r.remote_id for r in back] == sent[:0:-1] and not back.exhausted


def test_metrics_count_reactions_and_thread_replies(
    provider: MatrixProvider, people: tuple[MatrixUser, HttpUser, HttpUser, str]
) -> None:
    _, _, bob, room_id = people
    post = provider.publish(Draft(text="React if you like it", thread=[Draft(text="(thread)")]))
    target = str(post.remote_id)
    bob.send(
        room_id,
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": "👍"}},
        event_type="m.reaction",
    )
    [metrics] = provider.fetch_metrics([target])
    assert metrics.remote_id == target
    assert metrics.likes == 1
    assert metrics.replies == 1


def test_password_login_obtains_a_token(synapse: SynapseServer) -> None:
    user = synapse.register(f"carol{uuid.uuid4().hex[:6]}")
    provider = MatrixProvider(
        Credentials(extra={"user": user.user_id, "password": user.password}),
        config={"homeserver": synapse.url},
    )
    try:
        account = provider.verify()
        assert account.remote_id == user.user_id
        assert provider.credentials.access_token
        assert provider.credentials.access_token != user.access_token
        assert "password" not in provider.credentials.extra
        assert provider.credentials.extra["device_id"]
    finally:
        provider.close()

    wrong = MatrixProvider(
        Credentials(extra={"user": user.user_id, "password": "not-the-password"}),
        config={"homeserver": synapse.url},
    )
    try:
        with pytest.raises(ReauthRequired):
            wrong.verify()
    finally:
        wrong.close()


def test_a_bad_token_needs_reauthorisation(synapse: SynapseServer) -> None:
    provider = MatrixProvider(
        Credentials(access_token="syt_not_a_real_token"),
        config={"homeserver": synapse.url, "room_id": "!nowhere:dialogo.test"},
    )
    try:
        with pytest.raises(ReauthRequired):
            provider.verify()
        with pytest.raises(ReauthRequired):
            provider.fetch_messages(None)
    finally:
        provider.close()
