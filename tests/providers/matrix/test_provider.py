"""MatrixProvider's own logic over a fake client: validation, the events it sends, how inbound
messages are classified, metrics, login, and how it is declared."""

from __future__ import annotations

import datetime as dt
import itertools
import tomllib
from collections.abc import Mapping, Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, cast

import pytest

from dialogo.providers.base import Credentials, Draft, Media, MessageKind, RemoteRef
from dialogo.providers.errors import InvalidPayload, RateLimited, ReauthRequired
from dialogo.providers.matrix import content as c
from dialogo.providers.matrix.client import (
    MatrixClient,
    MessagesPage,
    RoomTimeline,
    Session,
    SyncResult,
)
from dialogo.providers.matrix.provider import MatrixProvider
from dialogo.providers.registry import ProviderRegistry

ME = "@brand:example.org"
BOB = "@bob:example.org"
ROOM = "!room:example.org"
DM = "!dm:example.org"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x02\x00\x00\x00"


def event(
    event_id: str, sender: str, content: dict[str, Any], ts: int = 1_700_000_000_000
) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": event_id,
        "sender": sender,
        "origin_server_ts": ts,
        "content": content,
    }


class FakeClient:
    """Records what the provider sends and answers from canned data."""

    def __init__(self) -> None:
        self.user_id: str | None = ME
        self.sent: list[tuple[str, dict[str, Any], str | None]] = []
        self.uploads: list[tuple[bytes, str]] = []
        self.events: dict[str, dict[str, Any]] = {}
        self.sync_result = SyncResult(next_batch="s2", joined=[])
        self.sync_calls: list[str | None] = []
        self.pages: list[MessagesPage] = []
        self.direct: dict[str, list[str]] = {}
        self.relation_events: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.failure: Exception | None = None
        self.lookups: list[str] = []
        self.logins: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    def _maybe_fail(self) -> None:
        if self.failure is not None:
            raise self.failure

    def whoami(self) -> str:
        self._maybe_fail()
        return ME

    def display_name(self, user_id: str) -> str | None:
        return "The Brand"

    def login(self, user: str, password: str, *, device_name: str = "Dialogo") -> Session:
        self.logins.append((user, password))
        return Session(user_id=ME, access_token="syt_new", device_id="DEV1")

    def send_event(
        self,
        room_id: str,
        content: Mapping[str, Any],
        *,
        event_type: str = "m.room.message",
        txn_id: str | None = None,
    ) -> str:
        self._maybe_fail()
        event_id = f"$e{next(self._ids)}"
        self.sent.append((room_id, dict(content), txn_id))
        self.events[event_id] = event(event_id, ME, dict(content))
        return event_id

    def upload(self, data: bytes, *, content_type: str, filename: str | None = None) -> str:
        self.uploads.append((data, content_type))
        return f"mxc://example.org/m{len(self.uploads)}"

    def get_event(self, room_id: str, event_id: str) -> dict[str, Any]:
        self.lookups.append(event_id)
        return self.events[event_id]

    def sync(self, since: str | None, sync_filter: Mapping[str, Any]) -> SyncResult:
        self._maybe_fail()
        self.sync_calls.append(since)
        return self.sync_result

    def messages(self, room_id: str, **kwargs: Any) -> MessagesPage:
        return self.pages.pop(0) if self.pages else MessagesPage(events=[], end=None)

    def direct_rooms(self) -> dict[str, list[str]]:
        return self.direct

    def relations(
        self, room_id: str, event_id: str, *, rel_type: str, event_type: str | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        return self.relation_events.get((event_id, rel_type), []), True

    def create_room(self, **kwargs: Any) -> str:
        return "!new:example.org"

    def set_direct_rooms(self, direct: Mapping[str, Sequence[str]]) -> None:
        self.direct = {k: list(v) for k, v in direct.items()}

    def close(self) -> None:
        pass


def make(
    fake: FakeClient | None = None,
    *,
    room: str | None = ROOM,
    credentials: Credentials | None = None,
) -> tuple[MatrixProvider, FakeClient]:
    fake = fake or FakeClient()
    config = {"homeserver": "https://matrix.example.org"}
    if room:
        config["room_id"] = room
    provider = MatrixProvider(
        credentials or Credentials(access_token="syt_x", account_id=ME),
        config=config,
        client=cast(MatrixClient, fake),
    )
    return provider, fake


# -- declaration ----------------------------------------------------------------------------------


def test_capabilities() -> None:
    caps = MatrixProvider.capabilities
    assert caps.network == "matrix"
    assert caps.auth == "access_token"
    assert caps.threads and caps.replies and caps.direct_messages and caps.metrics
    assert caps.text_limit == c.MAX_EVENT_BYTES - c.ENVELOPE_RESERVE
    assert caps.media.video_types == frozenset()


def test_it_is_declared_as_an_entry_point() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    target = pyproject["project"]["entry-points"]["dialogo.providers"]["matrix"]
    assert target == "dialogo.providers.matrix.provider:MatrixProvider"
    registry = ProviderRegistry.from_entry_points(
        eps=[EntryPoint("matrix", target, "dialogo.providers")]
    )
    assert registry.get("matrix") is MatrixProvider


# -- validation -----------------------------------------------------------------------------------


def codes(provider: MatrixProvider, draft: Draft) -> list[tuple[str, str]]:
    return [(issue.code, issue.field) for issue in provider.validate(draft)]


def test_a_normal_post_is_valid() -> None:
    provider, _ = make()
    draft = Draft(text=f"Hi {BOB}", media=[Media(PNG, "image/png", alt_text="logo")])
    assert provider.validate(draft) == []


def test_the_limit_is_in_bytes_of_the_event_not_in_characters() -> None:
    provider, _ = make()
    budget = c.MAX_CONTENT_BYTES
    assert codes(provider, Draft(text="a" * (budget - 200))) == []
    # A quarter as many characters, but four bytes each: over the limit.
    emoji = "🍝" * (budget // 4)
    assert codes(provider, Draft(text=emoji)) == [("too_long", "text")]
    # Control characters are escaped in JSON (\u0001: six bytes each).
    assert codes(provider, Draft(text="\x01" * (budget // 6 + 10))) == [("too_long", "text")]


def test_mentions_count_twice_as_they_are_also_in_the_html_body() -> None:
    provider, _ = make()
    mentions = " ".join([BOB] * (c.MAX_CONTENT_BYTES // (2 * len(BOB) + 40)))
    plain = "x" * len(mentions)
    assert codes(provider, Draft(text=plain)) == []
    assert codes(provider, Draft(text=mentions)) == [("too_long", "text")]


def test_empty_drafts_bad_media_and_long_alt_text_are_reported() -> None:
    provider, _ = make()
    assert codes(provider, Draft(text="  ")) == [("empty", "text")]
    assert codes(provider, Draft(text="x", media=[Media(b"v", "video/mp4")])) == [
        ("media_type", "media[0]")
    ]
    assert codes(provider, Draft(text="x", media=[Media(b"", "image/png")])) == [
        ("media_empty", "media[0]")
    ]
    many = [Media(PNG, "image/png")] * 11
    assert codes(provider, Draft(text="x", media=many)) == [("too_many_media", "media")]
    long_alt = Media(PNG, "image/png", alt_text="è" * 40_000)
    assert codes(provider, Draft(text="x", media=[long_alt])) == [
        ("alt_text_too_long", "media[0].alt_text")
    ]


def test_thread_posts_are_validated_and_cannot_nest() -> None:
    provider, _ = make()
    draft = Draft(text="root", thread=[Draft(text=""), Draft(text="ok", thread=[Draft("x")])])
    assert codes(provider, draft) == [
        ("empty", "thread[0].text"),
        ("nested_thread", "thread[1].thread"),
    ]


def test_a_post_needs_a_room() -> None:
    provider, _ = make(room=None)
    assert codes(provider, Draft(text="x")) == [("no_room", "config")]
    # a reply knows its room from the target
    assert codes(provider, Draft(text="x", reply_to=RemoteRef("$a", conversation_id=ROOM))) == []
    assert codes(provider, Draft(text="x", reply_to=RemoteRef("$a"))) == [("no_room", "reply_to")]


def test_publish_refuses_an_invalid_draft_without_calling_the_network() -> None:
    provider, fake = make()
    with pytest.raises(InvalidPayload) as caught:
        provider.publish(Draft(text=""))
    assert caught.value.issues == ["text: empty"]
    assert fake.sent == []


# -- publishing -----------------------------------------------------------------------------------


def test_a_post_with_an_image_and_a_thread() -> None:
    provider, fake = make()
    result = provider.publish(
        Draft(
            text=f"New menu, {BOB}!",
            media=[Media(PNG, "image/png", alt_text="The menu", filename="menu.png")],
            thread=[Draft(text="Booking opens Monday"), Draft(text="See you!")],
            idempotency_key="post-7",
        )
    )
    (room1, text, txn1), (_, image, txn2), (_, t1, txn3), (_, t2, txn4) = fake.sent
    assert room1 == ROOM
    assert [txn1, txn2, txn3, txn4] == [f"dialogo.post-7.{n}" for n in range(4)]
    assert text["m.mentions"] == {"user_ids": [BOB]}
    assert "m.relates_to" not in text
    assert image["msgtype"] == "m.image"
    assert image["body"] == "The menu"
    assert image["url"] == "mxc://example.org/m1"
    assert image["info"] == {"mimetype": "image/png", "size": len(PNG), "w": 2, "h": 3}
    assert t1["m.relates_to"] == c.relates_to(thread_root="$e1", latest="$e2")
    assert t2["m.relates_to"] == c.relates_to(thread_root="$e1", latest="$e3")
    assert result.remote_id == "$e1"
    assert list(result.thread_ids) == ["$e3", "$e4"]
    assert result.url == f"https://matrix.to/#/{ROOM}/$e1"
    assert result.state == {"room_id": ROOM, "event_ids": "$e1,$e2,$e3,$e4"}


def test_without_a_key_every_event_gets_a_fresh_transaction_id() -> None:
    provider, fake = make()
    provider.publish(Draft(text="a"))
    provider.publish(Draft(text="a"))
    assert fake.sent[0][2] != fake.sent[1][2]


def test_an_image_only_post() -> None:
    provider, fake = make()
    result = provider.publish(Draft(text="", media=[Media(PNG, "image/png", alt_text="logo")]))
    assert [content["msgtype"] for _, content, _ in fake.sent] == ["m.image"]
    assert result.remote_id == "$e1"


def test_a_reply_mentions_the_sender_and_goes_to_the_target_room() -> None:
    provider, fake = make(room=None)
    fake.events["$q"] = event("$q", BOB, {"msgtype": "m.text", "body": "open on Sunday?"})
    provider.reply(RemoteRef("$q", conversation_id=DM), Draft(text="Yes, from noon"))
    [(room, content, _)] = fake.sent
    assert room == DM
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$q"}}
    assert content["m.mentions"] == {"user_ids": [BOB]}


def test_a_reply_to_a_message_in_a_thread_stays_in_the_thread() -> None:
    provider, fake = make()
    threaded = {"body": "me too", "m.relates_to": c.relates_to(thread_root="$root")}
    fake.events["$t"] = event("$t", BOB, threaded)
    provider.reply(
        RemoteRef("$t", conversation_id=f"{ROOM}/$root"),
        Draft(text="thanks", thread=[Draft(text="and more")]),
    )
    (_, answer, _), (_, more, _) = fake.sent
    assert answer["m.relates_to"] == c.relates_to(reply_to="$t", thread_root="$root")
    # the follow-up continues the same thread: Matrix threads do not nest
    assert more["m.relates_to"] == c.relates_to(thread_root="$root", latest="$e1")


def test_replying_to_our_own_message_does_not_mention_ourselves() -> None:
    provider, fake = make()
    first = provider.publish(Draft(text="part one"))
    provider.reply(RemoteRef(str(first.remote_id), conversation_id=ROOM), Draft(text="two"))
    assert fake.sent[1][1]["m.mentions"] == {}


def test_rate_limits_propagate_without_waiting() -> None:
    provider, fake = make()
    fake.failure = RateLimited("slow down", retry_after=2.5)
    with pytest.raises(RateLimited) as caught:
        provider.publish(Draft(text="hi"))
    assert caught.value.retry_after == 2.5


def test_recent_posts_are_ours_with_their_transaction_ids() -> None:
    provider, fake = make()
    mine = event("$m", ME, {"body": "x"}) | {"unsigned": {"transaction_id": "dialogo.k.0"}}
    edit = event("$edit", ME, {"body": "*x", "m.relates_to": {"rel_type": "m.replace"}})
    fake.pages = [MessagesPage(events=[edit, mine, event("$b", BOB, {"body": "y"})], end=None)]
    listing = provider.recent_posts(limit=5)
    [result] = listing
    assert result.remote_id == "$m" and listing.exhausted  # no ``end``: the room's start
    assert result.state == {
        "room_id": ROOM,
        "transaction_id": "dialogo.k.0",
        "created_at": "2023-11-14T22:13:20+00:00",  # origin_server_ts 1,700,000,000,000 ms
    }


def test_recent_posts_page_back_with_the_end_token() -> None:
    """Three pages (``from`` each answer's ``end``), newest first; the listing is exhausted
    only when the homeserver omits ``end``, and stops at ``limit`` without it otherwise."""
    asked: list[tuple[str | None, int]] = []
    provider, fake = make()
    pages = {
        None: MessagesPage(events=[event(f"$p{n}", ME, {"body": "x"}) for n in (1, 2)], end="t1"),
        "t1": MessagesPage(events=[event(f"$p{n}", ME, {"body": "x"}) for n in (3, 4)], end="t2"),
        "t2": MessagesPage(events=[event("$p5", ME, {"body": "x"})], end=None),
    }

    def messages(room_id: str, **kwargs: Any) -> MessagesPage:
        asked.append((kwargs["start"], kwargs["limit"]))
        assert kwargs["backwards"] and kwargs["message_filter"]["senders"] == [ME]
        return pages[kwargs["start"]]

    fake.messages = messages  # type: ignore[method-assign]
    everything = provider.recent_posts(limit=50)
    assert [r.remote_id for r in everything] == ["$p1", "$p2", "$p3", "$p4", "$p5"]
    assert everything.exhausted and [start for start, _ in asked] == [None, "t1", "t2"]
    asked.clear()
    three = provider.recent_posts(limit=3)
    assert [r.remote_id for r in three] == ["$p1", "$p2", "$p3"] and not three.exhausted
    assert asked == [(None, 3), ("t1", 1)]


def test_recent_replies_since_stop_paging_back_and_leave_out_the_older() -> None:
    """``/messages`` takes no time: with ``since``, paging back stops after the first page
    reaching before it (the third is never asked) and its older events are left out; without
    it, the room is read back to its start as before."""
    asked: list[str | None] = []
    provider, fake = make()
    minute = 60_000
    at = {n: 1_700_000_000_000 + n * minute for n in range(1, 6)}  # $p5 the newest
    pages = {
        None: MessagesPage(
            events=[event(f"$p{n}", ME, {"body": "x"}, at[n]) for n in (5, 4)], end="t1"
        ),
        "t1": MessagesPage(
            events=[event(f"$p{n}", ME, {"body": "x"}, at[n]) for n in (3, 2)], end="t2"
        ),
        "t2": MessagesPage(events=[event("$p1", ME, {"body": "x"}, at[1])], end=None),
    }

    def messages(room_id: str, **kwargs: Any) -> MessagesPage:
        asked.append(kwargs["start"])
        return pages[kwargs["start"]]

    fake.messages = messages  # type: ignore[method-assign]
    since = dt.datetime.fromtimestamp((at[3] - 1) / 1000, dt.UTC)  # just before $p3
    target = RemoteRef("$q", conversation_id=ROOM)
    found = provider.recent_replies(target, limit=50, since=since)
    assert [r.remote_id for r in found] == ["$p5", "$p4", "$p3"]
    assert asked == [None, "t1"]
    asked.clear()
    everything = provider.recent_replies(target, limit=50)
    assert [r.remote_id for r in everything] == ["$p5", "$p4", "$p3", "$p2", "$p1"]
    assert asked == [None, "t1", "t2"]


# -- inbound --------------------------------------------------------------------------------------


def test_inbound_messages_are_classified() -> None:
    provider, fake = make()
    fake.direct = {BOB: [DM]}
    ours = event("$ours", ME, {"body": "our post", "m.mentions": {}})
    room_events = [
        ours,
        event("$mention", BOB, {"body": "hey", "m.mentions": {"user_ids": [ME]}}, ts=2),
        # a reply to us also mentions us (spec): it is a reply first
        event(
            "$reply",
            BOB,
            {
                "body": "nice",
                "m.mentions": {"user_ids": [ME]},
                "m.relates_to": {"m.in_reply_to": {"event_id": "$ours"}},
            },
            ts=3,
        ),
        event(
            "$thread",
            BOB,
            {"body": "in our thread", "m.relates_to": c.relates_to(thread_root="$ours")},
            ts=4,
        ),
        event("$comment", BOB, {"body": "hello all", "m.mentions": {}}, ts=5),
        event("$legacy", BOB, {"body": f"ping {ME}"}, ts=6),
        event("$edit", BOB, {"body": "*x", "m.relates_to": {"rel_type": "m.replace"}}, ts=7),
        event("$redacted", BOB, {}, ts=8),
    ]
    fake.sync_result = SyncResult(
        next_batch="s9",
        joined=[
            RoomTimeline(ROOM, room_events, names={BOB: "Bob"}),
            RoomTimeline(DM, [event("$dm", BOB, {"body": "psst"}, ts=1)]),
        ],
    )
    page = provider.fetch_messages("s1")
    assert fake.sync_calls == ["s1"]
    assert page.cursor == "s9"
    kinds = {m.remote_id: m.kind for m in page.messages}
    assert kinds == {
        "$dm": MessageKind.direct,
        "$mention": MessageKind.mention,
        "$reply": MessageKind.reply,
        "$thread": MessageKind.reply,
        "$comment": MessageKind.comment,
        "$legacy": MessageKind.mention,
    }
    assert page.messages[0].remote_id == "$dm"  # oldest first
    by_id = {m.remote_id: m for m in page.messages}
    assert by_id["$thread"].conversation_id == f"{ROOM}/$ours"
    assert by_id["$thread"].in_reply_to == "$ours"
    assert by_id["$reply"].in_reply_to == "$ours"
    assert by_id["$reply"].conversation_id == ROOM
    assert by_id["$mention"].author.display_name == "Bob"
    assert by_id["$mention"].created_at == dt.datetime(1970, 1, 1, 0, 0, 0, 2000, tzinfo=dt.UTC)
    assert by_id["$dm"].conversation_id == DM
    assert by_id["$mention"].raw["room_id"] == ROOM
    assert fake.lookups == []  # every replied-to event was at hand


def test_replies_to_events_not_in_the_sync_are_looked_up_once() -> None:
    provider, fake = make()
    fake.events["$old"] = event("$old", ME, {"body": "last week's post"})
    reply = {"body": "late answer", "m.relates_to": {"m.in_reply_to": {"event_id": "$old"}}}
    fake.sync_result = SyncResult(
        next_batch="s3",
        joined=[RoomTimeline(ROOM, [event("$r1", BOB, reply), event("$r2", BOB, reply)])],
    )
    page = provider.fetch_messages("s2")
    assert [m.kind for m in page.messages] == [MessageKind.reply, MessageKind.reply]
    assert fake.lookups == ["$old"]


def test_a_gap_in_a_limited_sync_is_paged_in() -> None:
    provider, fake = make()
    fake.sync_result = SyncResult(
        next_batch="s5",
        joined=[
            RoomTimeline(ROOM, [event("$new", BOB, {"body": "3"}, ts=3)], True, "p1"),
        ],
    )
    # /messages backwards: newest first
    fake.pages = [
        MessagesPage(events=[event("$b", BOB, {"body": "2"}, ts=2)], end="p2"),
        MessagesPage(events=[event("$a", BOB, {"body": "1"}, ts=1)], end="p3"),
        MessagesPage(events=[], end=None),
    ]
    page = provider.fetch_messages("s4")
    assert [m.remote_id for m in page.messages] == ["$a", "$b", "$new"]


def test_the_first_fetch_starts_from_the_latest_messages() -> None:
    provider, fake = make()
    fake.sync_result = SyncResult(
        next_batch="s1", joined=[RoomTimeline(ROOM, [event("$x", BOB, {"body": "hi"})], True, "p")]
    )
    page = provider.fetch_messages(None)
    assert [m.remote_id for m in page.messages] == ["$x"]  # no backfill without a cursor
    assert fake.sync_calls == [None]


# -- auth and metrics -----------------------------------------------------------------------------


def test_verify_says_whose_account_it_is() -> None:
    provider, _ = make(credentials=Credentials(access_token="syt_x"))
    account = provider.verify()
    assert (account.remote_id, account.display_name) == (ME, "The Brand")
    assert account.url == f"https://matrix.to/#/{ME}"
    assert provider.credentials.account_id == ME


def test_password_login_replaces_the_password_by_a_token() -> None:
    creds = Credentials(extra={"user": "brand", "password": "hunter2", "homeserver": "https://h"})
    provider, fake = make(credentials=creds)
    provider.verify()
    assert fake.logins == [("brand", "hunter2")]
    assert provider.credentials.access_token == "syt_new"
    assert provider.credentials.account_id == ME
    assert provider.credentials.extra == {"homeserver": "https://h", "device_id": "DEV1"}


def test_no_token_and_no_password_needs_reauthorisation() -> None:
    provider, _ = make(credentials=Credentials())
    with pytest.raises(ReauthRequired):
        provider.verify()


def test_a_rejected_token_surfaces_as_reauth_required() -> None:
    provider, fake = make(credentials=Credentials(access_token="syt_old"))
    fake.failure = ReauthRequired("matrix refused the access token (M_UNKNOWN_TOKEN)")
    with pytest.raises(ReauthRequired):
        provider.verify()
    with pytest.raises(ReauthRequired):
        provider.fetch_messages(None)


def test_metrics_count_reactions_and_thread_replies() -> None:
    provider, fake = make()
    fake.relation_events[("$p", "m.annotation")] = [{"type": "m.reaction"}] * 3
    fake.relation_events[("$p", "m.thread")] = [{"type": "m.room.message"}] * 2
    [metrics] = provider.fetch_metrics(["$p"])
    assert (metrics.remote_id, metrics.likes, metrics.replies) == ("$p", 3, 2)
    assert metrics.impressions is None


def test_a_direct_room_is_reused_or_created_and_recorded() -> None:
    provider, fake = make()
    assert provider.open_direct_room(BOB) == "!new:example.org"
    assert fake.direct == {BOB: ["!new:example.org"]}
    assert provider.open_direct_room(BOB) == "!new:example.org"
