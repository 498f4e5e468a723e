"""A reply whose answer was lost is looked for in its thread before it is sent again (issues
#3/#6): Messenger direct messages and comment replies on Facebook (Graph API), X direct
messages (X API v2) and Matrix rooms, each through its real provider and the inbox's send job.

Each fake network keeps what it accepted even when the answer never reaches Dialogo (it
records the message, then the connection times out: ``OutcomeUnknown``), and answers the
documented reads the retry makes: the Conversations API's lookup of the conversation with one
person (``GET /<page>/conversations?platform=messenger&user_id=<PSID>``), a comment's replies
(``GET /<comment>/comments``), X's ``GET /2/dm_conversations/with/:participant_id/dm_events``
and Matrix's ``/messages`` (our events, with the ``transaction_id`` echoed to our device).
The threads also hold the other person's messages, some with the same text, which must never
be taken for ours.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.clock import FrozenClock
from dialogo.core.config import Settings
from dialogo.core.db import transaction
from dialogo.inbox import ingest, tasks
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation, Direction, Message, Reply, ReplyStatus
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers.base import (
    Author,
    Credentials,
    InboundMessage,
    MessageKind,
    Provider,
    RemoteRef,
)
from dialogo.providers.errors import OutcomeUnknown
from dialogo.providers.facebook.provider import FacebookProvider
from dialogo.providers.matrix.client import MatrixClient, MessagesPage
from dialogo.providers.matrix.provider import MatrixProvider
from dialogo.providers.meta.webhook import direct_message as meta_direct
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.x import messaging as x_messaging
from dialogo.providers.x.provider import XProvider
from dialogo.worker.runner import Worker
from tests.inbox.conftest import Brand, Rig, keyword_analyser
from tests.inbox.test_replies import setup_conversation, write
from tests.providers.instagram.test_provider import IG, V
from tests.providers.instagram.test_provider import provider as instagram
from tests.providers.x.test_provider import Recorder

PAGE = "104512345678901"
ANNA = "6001234567890123"  # a page-scoped id
COMMENT = "104512345678901_900000000000001_900000000000777"
ME_X = "1500000000000000001"
ANNA_X = "2200000000000000002"
ME_MX = "@brand:example.org"
BOB_MX = "@bob:example.org"
DM_ROOM = "!dm:example.org"
TEXT = "Sì, spediamo anche in Sicilia!"


def meta_time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclasses.dataclass
class Network:
    """What a network accepted (kept even when its answer is lost) and the reads made."""

    lose: int = 0  # the next N writes are recorded, then the connection times out
    sent: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    calls: list[str] = dataclasses.field(default_factory=list)
    ids: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def accept(self, item: dict[str, Any], request: httpx.Request) -> None:
        self.sent.append(item)
        if self.lose:
            self.lose -= 1
            raise httpx.ReadTimeout("the answer was lost", request=request)


def graph_handler(net: Network) -> Callable[[httpx.Request], httpx.Response]:
    """Facebook's Graph API for a Page: the Send API, the Conversations API and comments."""
    anna_said = {
        "id": "m_anna",
        "created_time": meta_time(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)),
        "from": {"id": ANNA, "name": "Anna Rossi"},
        "message": "Spedite in Sicilia?",
    }
    stranger = {  # another person's answer with our very text: never ours
        "id": f"{COMMENT}_stranger",
        "created_time": meta_time(dt.datetime.now(dt.UTC)),
        "from": {"id": "999", "name": "Marco"},
        "message": TEXT,
    }

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        net.calls.append(f"{request.method} {path.split('/', 2)[-1]}")
        form = dict(urllib.parse.parse_qsl(request.content.decode()))
        now = meta_time(dt.datetime.now(dt.UTC))
        if request.method == "POST" and path.endswith(f"/{PAGE}/messages"):
            recipient = json.loads(form["recipient"])["id"]
            message = {
                "id": f"m_{next(net.ids)}",
                "created_time": now,
                "from": {"id": PAGE, "name": "Caffè Aurora"},
                "to": {"data": [{"id": recipient}]},
                "message": json.loads(form["message"])["text"],
            }
            net.accept(message, request)
            return httpx.Response(
                200, json={"recipient_id": recipient, "message_id": message["id"]}
            )
        if request.method == "GET" and path.endswith(f"/{PAGE}/conversations"):
            assert request.url.params["platform"] == "messenger"
            assert request.url.params["user_id"] == ANNA
            messages = [*reversed(net.sent), anna_said]  # newest first
            return httpx.Response(
                200, json={"data": [{"id": "t_1", "messages": {"data": messages}}]}
            )
        if request.method == "POST" and path.endswith(f"/{COMMENT}/comments"):
            comment = {
                "id": f"{COMMENT}_{next(net.ids)}",
                "created_time": now,
                "from": {"id": PAGE, "name": "Caffè Aurora"},
                "message": form["message"],
            }
            net.accept(comment, request)
            return httpx.Response(200, json={"id": comment["id"]})
        if request.method == "GET" and path.endswith(f"/{COMMENT}/comments"):
            return httpx.Response(200, json={"data": [stranger, *reversed(net.sent)]})
        return httpx.Response(404, json={"error": {"message": f"unexpected {path}", "code": 100}})

    return handle


def x_handler(net: Network) -> Callable[[httpx.Request], httpx.Response]:
    """X API v2 direct messages of a one-to-one conversation."""
    conversation = f"{ME_X}-{ANNA_X}"
    anna_said = {
        "id": "1700000000000000001",
        "event_type": "MessageCreate",
        "text": TEXT,  # the same words, from her: never ours
        "sender_id": ANNA_X,
        "dm_conversation_id": conversation,
        "created_at": "2026-01-01T10:00:00.000Z",
    }

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        net.calls.append(f"{request.method} {path}")
        if request.method == "POST" and path == f"/2/dm_conversations/with/{ANNA_X}/messages":
            event = {
                "id": str(1800000000000000000 + next(net.ids)),
                "event_type": "MessageCreate",
                "text": json.loads(request.content)["text"],
                "sender_id": ME_X,
                "dm_conversation_id": conversation,
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            }
            net.accept(event, request)
            return httpx.Response(
                201,
                json={"data": {"dm_conversation_id": conversation, "dm_event_id": event["id"]}},
            )
        if request.method == "GET" and path == f"/2/dm_conversations/with/{ANNA_X}/dm_events":
            assert request.url.params["event_types"] == "MessageCreate"
            data = [*reversed(net.sent), anna_said]
            return httpx.Response(200, json={"data": data, "meta": {"result_count": len(data)}})
        return httpx.Response(404, json={"title": "Not Found", "detail": f"unexpected {path}"})

    return handle


class MatrixRooms:
    """The part of a homeserver the provider uses through ``MatrixClient``: sending an event
    with a transaction id (recorded, then the answer may be lost) and ``/messages``."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.user_id: str | None = ME_MX
        self.events: dict[str, dict[str, Any]] = {
            "$q1": {
                "type": "m.room.message",
                "event_id": "$q1",
                "sender": BOB_MX,
                "room_id": DM_ROOM,
                "origin_server_ts": 1_700_000_000_000,
                "content": {"msgtype": "m.text", "body": TEXT},
            }
        }

    def whoami(self) -> str:
        return ME_MX

    def get_event(self, room_id: str, event_id: str) -> dict[str, Any]:
        return self.events[event_id]

    def send_event(
        self,
        room_id: str,
        content: Mapping[str, Any],
        *,
        event_type: str = "m.room.message",
        txn_id: str | None = None,
    ) -> str:
        self.net.calls.append(f"send {room_id}")
        event_id = f"$mine{next(self.net.ids)}"
        event = {
            "type": event_type,
            "event_id": event_id,
            "sender": ME_MX,
            "room_id": room_id,
            # stamped when sent, as a homeserver does (the retry asks since the reply was written)
            "origin_server_ts": int(dt.datetime.now(dt.UTC).timestamp() * 1000),
            "content": dict(content),
            "unsigned": {"transaction_id": txn_id} if txn_id else {},
        }
        self.net.sent.append(event)
        self.events[event_id] = event
        if self.net.lose:
            self.net.lose -= 1
            raise OutcomeUnknown("matrix did not answer after the event was sent", network="matrix")
        return event_id

    def messages(self, room_id: str, **kwargs: Any) -> MessagesPage:
        self.net.calls.append(f"messages {room_id}")
        senders = kwargs.get("message_filter", {}).get("senders")
        events = [e for e in reversed(self.events.values()) if e["room_id"] == room_id]
        if senders:
            events = [e for e in events if e["sender"] in senders]
        return MessagesPage(events=events[: kwargs.get("limit", 10)], end=None)

    def close(self) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class Case:
    network: str
    provider: Callable[[Network], type[Provider]]
    http: Callable[[Network], Callable[[httpx.Request], httpx.Response]] | None
    credentials: Credentials
    config: dict[str, str]
    inbound: Callable[[], InboundMessage]
    read: str  # the call that reads the thread on the retry


def _facebook(_net: Network) -> type[Provider]:
    return FacebookProvider


def _x(_net: Network) -> type[Provider]:
    return XProvider


def _matrix(net: Network) -> type[Provider]:
    rooms = MatrixRooms(net)

    class BoundMatrix(MatrixProvider):
        def __init__(
            self,
            credentials: Credentials,
            *,
            http: httpx.Client | None = None,
            config: dict[str, str] | None = None,
            client: MatrixClient | None = None,
        ) -> None:
            super().__init__(
                credentials, http=http, config=config, client=cast(MatrixClient, rooms)
            )

    return BoundMatrix


def _messenger_dm() -> InboundMessage:
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    return meta_direct(
        network="facebook",
        message_id="m_anna",
        user_id=ANNA,
        user_handle=ANNA,
        user_name="Anna Rossi",
        text="Spedite in Sicilia?",
        created_at=when,
        in_reply_to=None,
        raw={"mid": "m_anna"},
    )


def _facebook_comment() -> InboundMessage:
    return InboundMessage(
        remote_id=COMMENT,
        kind=MessageKind.comment,
        author=Author(remote_id="555", handle="anna", display_name="Anna Rossi"),
        text="Spedite in Sicilia?",
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        conversation_id="104512345678901_900000000000001",
    )


def _x_dm() -> InboundMessage:
    return x_messaging.direct_message(
        event_id="1700000000000000001",
        sender=ANNA_X,
        thread=ANNA_X,
        conversation=f"{ME_X}-{ANNA_X}",
        text="Spedite in Sicilia?",
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        user={"username": "anna"},
        followers=None,
    )


def _matrix_dm() -> InboundMessage:
    return InboundMessage(
        remote_id="$q1",
        kind=MessageKind.direct,
        author=Author(remote_id=BOB_MX, handle=BOB_MX, display_name="Bob"),
        text="Spedite in Sicilia?",
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        conversation_id=DM_ROOM,
        raw={"room_id": DM_ROOM},
    )


FB_CREDENTIALS = Credentials(
    access_token="page-token",
    account_id=PAGE,
    extra={"token_kind": "page", "user_token": "user-token"},
)
CASES = {
    "messenger_dm": Case(
        "facebook",
        _facebook,
        graph_handler,
        FB_CREDENTIALS,
        {"client_id": "1234567890", "page_id": PAGE},
        _messenger_dm,
        f"GET {PAGE}/conversations",
    ),
    "facebook_comment": Case(
        "facebook",
        _facebook,
        graph_handler,
        FB_CREDENTIALS,
        {"client_id": "1234567890", "page_id": PAGE},
        _facebook_comment,
        f"GET {COMMENT}/comments",
    ),
    "x_dm": Case(
        "x",
        _x,
        x_handler,
        Credentials(access_token="x-token", account_id=ME_X),
        {"client_id": "x-client"},
        _x_dm,
        f"GET /2/dm_conversations/with/{ANNA_X}/dm_events",
    ),
    "matrix_dm": Case(
        "matrix",
        _matrix,
        None,
        Credentials(access_token="syt_x", account_id=ME_MX),
        {"homeserver": "https://matrix.example.org", "room_id": "!public:example.org"},
        _matrix_dm,
        f"messages {DM_ROOM}",
    ),
}


@dataclasses.dataclass
class Setup:
    net: Network
    case: Case
    clock: FrozenClock
    worker: Worker
    factory: sessionmaker[Session]
    reply_id: int

    def run(self) -> None:
        while self.worker.run_once():
            pass

    def reply(self) -> Reply:
        with self.factory() as session:
            reply = session.get(Reply, self.reply_id)
            assert reply is not None
            session.expunge(reply)
            return reply


@pytest.fixture(params=sorted(CASES))
def setup(
    request: pytest.FixtureRequest,
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    brand: Brand,
    cipher: CredentialCipher,
) -> Setup:
    case = CASES[request.param]
    net = Network()
    channel = Channel(
        workspace_id=brand.id,
        network=case.network,
        name="Caffè Aurora",
        account_remote_id=case.credentials.account_id or "",
        account_handle="caffeaurora",
        config=case.config,
        credentials=cipher.encrypt(case.credentials),
        status=ChannelStatus.ok.value,
    )
    db.add(channel)
    db.commit()
    with transaction(session_factory) as session:
        ingest.store_messages(
            session,
            session.get(Channel, channel.id),  # type: ignore[arg-type]
            [case.inbound()],
            analyser=keyword_analyser,
        )
    conversation = db.scalar(select(Conversation).where(Conversation.channel_id == channel.id))
    assert conversation is not None
    with transaction(session_factory) as session:
        reply = inbox.create_reply(session, brand.principal, brand.id, conversation.id, TEXT)
        reply_id = reply.id
    registry = TaskRegistry()
    providers = ProviderRegistry({case.network: case.provider(net)})
    http = httpx.Client(transport=httpx.MockTransport(case.http(net))) if case.http else None
    tasks.register(registry, providers=lambda _settings: providers, http=http)
    clock = FrozenClock(dt.datetime.now(dt.UTC))
    worker = Worker(settings, session_factory, registry, clock=clock, worker_id="host:1:rec")
    return Setup(net, case, clock, worker, session_factory, reply_id)


def outbound(setup: Setup) -> list[Message]:
    with setup.factory() as session:
        return list(
            session.scalars(select(Message).where(Message.direction == Direction.outbound.value))
        )


def test_an_accepted_answer_that_was_lost_is_found_in_the_thread_and_not_sent_again(
    setup: Setup,
) -> None:
    setup.net.lose = 1  # accepted, then the connection times out: OutcomeUnknown
    setup.run()
    assert len(setup.net.sent) == 1
    assert setup.reply().status == ReplyStatus.queued.value  # the retry will look first
    setup.clock.advance(seconds=10)
    setup.run()
    assert len(setup.net.sent) == 1, "sent twice"
    reply = setup.reply()
    assert reply.status == ReplyStatus.sent.value
    sent = setup.net.sent[0]
    assert reply.remote_id == sent.get("id", sent.get("event_id"))
    assert setup.case.read in setup.net.calls
    [stored] = outbound(setup)
    assert stored.remote_id == reply.remote_id and stored.text == TEXT


def test_an_answer_that_never_arrived_is_sent_exactly_once_on_the_retry(setup: Setup) -> None:
    # The first attempt died before the network got anything (a worker killed): the retry
    # reads the thread, finds only the other person's messages, and sends once.
    with transaction(setup.factory) as session:
        reply = session.get(Reply, setup.reply_id)
        assert reply is not None
        reply.needs_check = True
    setup.run()
    setup.clock.advance(seconds=10)
    setup.run()
    assert setup.case.read in setup.net.calls
    assert len(setup.net.sent) == 1
    assert setup.reply().status == ReplyStatus.sent.value
    assert len(outbound(setup)) == 1


def test_provider_reads_only_our_messages_of_the_thread(setup: Setup) -> None:
    """Nothing sent yet: the thread holds only the other person's messages (one with our
    very text), and none of them is taken for ours."""
    cls = setup.case.provider(setup.net)
    http = (
        httpx.Client(transport=httpx.MockTransport(setup.case.http(setup.net)))
        if (setup.case.http)
        else None
    )
    provider = cls(setup.case.credentials, http=http, config=setup.case.config)
    inbound = setup.case.inbound()
    target = RemoteRef(
        remote_id=inbound.remote_id,
        conversation_id=inbound.conversation_id,
        extra=ingest.reference_of(inbound),
    )
    assert provider.recent_replies(target, limit=10) == []


# --- Instagram (same Graph helpers; provider level) ----------------------------------------------


def test_instagram_reads_our_messages_in_the_conversation_and_our_replies_under_a_comment() -> None:
    recorder = Recorder()
    recorder.on(
        "GET", f"{V}/me", httpx.Response(200, json={"user_id": "1789", "username": "caffe.aurora"})
    )
    recorder.on(
        "GET",
        f"{V}/{IG}/conversations",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "aWdfZAG06",
                        "messages": {
                            "data": [
                                {
                                    "id": "aWdf_mine",
                                    "created_time": "2026-11-22T10:06:00+0000",
                                    "from": {"username": "caffe.aurora", "id": "1789"},
                                    "message": TEXT,
                                },
                                {
                                    "id": "aWdf_hers",
                                    "created_time": "2026-11-22T10:05:00+0000",
                                    "from": {"username": "anna", "id": "5551"},
                                    "message": TEXT,
                                },
                            ]
                        },
                    }
                ]
            },
        ),
    )
    recorder.on(
        "GET",
        f"{V}/17900000000000001/replies",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "r_hers",
                        "text": TEXT,
                        "timestamp": "2026-11-22T10:07:00+0000",
                        "username": "anna",
                        "from": {"id": "5551", "username": "anna"},
                    },
                    {
                        "id": "r_mine",
                        "text": TEXT,
                        "timestamp": "2026-11-22T10:08:00+0000",
                        "username": "caffe.aurora",
                        "from": {"id": IG, "username": "caffe.aurora"},
                    },
                ]
            },
        ),
    )
    ig = instagram(recorder)
    dm = RemoteRef("aWdf_q", extra={"dm_network": "instagram", "dm_user_id": "5551"})
    [mine] = ig.recent_replies(dm, limit=5)
    assert mine.remote_id == "aWdf_mine" and mine.state["text"] == TEXT
    assert mine.state["created_at"] == "2026-11-22T10:06:00+00:00"
    [lookup] = recorder.sent("GET", f"{V}/{IG}/conversations")
    assert lookup.url.params["platform"] == "instagram"
    assert lookup.url.params["user_id"] == "5551"
    [reply] = ig.recent_replies(RemoteRef("17900000000000001"), limit=5)
    assert reply.remote_id == "r_mine"


# --- networks that cannot read a thread ----------------------------------------------------------


def test_a_network_that_cannot_read_the_thread_leaves_the_reply_unconfirmed_with_why(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = setup_conversation(rig)
    reply = write(rig, conv)
    provider = rig.providers.get(rig.network.name)

    def cannot(self: object, target: RemoteRef, *, limit: int = 20) -> list[object]:
        raise NotImplementedError("the Telegram Bot API cannot read a chat's history")

    monkeypatch.setattr(provider, "recent_replies", cannot)
    rig.network.fail_next(OutcomeUnknown("read timeout"))
    rig.run()
    rig.clock.advance(seconds=10)
    rig.run()
    done = rig.db.get(Reply, reply.id, populate_existing=True)
    assert done is not None and done.status == ReplyStatus.unconfirmed.value
    assert done.last_error is not None
    assert done.last_error.startswith("the Telegram Bot API cannot read a chat's history, so")
    assert rig.network.posts == []
