"""Matrix: rooms as conversations, over the client-server API of any homeserver.

Configuration (``config``, not secret): ``homeserver`` (base URL, e.g.
``https://matrix.example.org``) and ``room_id`` (where :meth:`MatrixProvider.publish` posts).
Credentials: an access token (``access_token``; ``account_id`` is the user ID, filled in by
:meth:`~MatrixProvider.verify`), or a user and password (``extra["user"]``,
``extra["password"]``) exchanged for a token at connect time: after :meth:`verify` the
provider's ``credentials`` hold the new token and device, *without* the password, and the
caller stores them. ``extra["homeserver"]`` is accepted when the configuration lacks it.

What maps to what:

- a **post** is an ``m.room.message`` in the configured room; its images follow as ``m.image``
  events; the draft's ``thread`` becomes an ``m.thread`` thread rooted on the post;
- a **reply** is a rich reply (``m.in_reply_to``) in the target's room, inside the target's
  thread when it is in one; the target's sender is mentioned;
- **inbound** messages come from ``/sync`` over all joined rooms: ``direct`` in a room listed
  in the account's ``m.direct`` map, ``reply`` when answering one of our events (or written in
  a thread we started), ``mention`` when ``m.mentions`` names us, else ``comment``;
  ``conversation_id`` is the room, or ``room/$thread_root`` inside a thread;
- **idempotency**: a draft's ``idempotency_key`` becomes the transaction IDs of its events,
  so publishing the same draft again with the same token is a no-op on the homeserver
  (Synapse remembers transaction IDs for a while); without a key each event gets a fresh one;
- **metrics**: reactions (``m.annotation`` relations) as ``likes`` and thread replies as
  ``replies``, for events in the configured room.

Not supported yet: end-to-end encrypted rooms (their events are skipped on the way in, and
nothing is encrypted on the way out), edits (``m.replace`` events are skipped), video and
files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import httpx

from dialogo.core.i18n import N_, Nn_, Plural
from dialogo.providers.base import (
    Account,
    AuthKind,
    Author,
    Capabilities,
    ConnectField,
    ConnectFieldKind,
    Credentials,
    Draft,
    InboundMessage,
    Media,
    MediaRules,
    MessageKind,
    MessagePage,
    PostMetrics,
    Provider,
    PublishResult,
    RecentPosts,
    RemoteRef,
    TextCounting,
    ValidationIssue,
    collect_pages,
    made_since,
)
from dialogo.providers.errors import InvalidPayload, ProviderError, ReauthRequired
from dialogo.providers.matrix import content as c
from dialogo.providers.matrix.client import NETWORK, MatrixClient, RoomTimeline
from dialogo.providers.netpolicy import policy_of

#: One sync returns at most this many messages per room; a longer gap is paged in with
#: ``/messages`` (at most :data:`MAX_BACKFILL_PAGES` pages of 100).
TIMELINE_LIMIT = 50
MAX_BACKFILL_PAGES = 10
#: Events asked for per ``/messages`` request when listing our own (the spec sets no maximum;
#: the server may cap it and answer fewer, which paging takes in its stride).
MESSAGES_PAGE = 100
SYNC_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"types": [c.MESSAGE], "limit": TIMELINE_LIMIT},
        # The senders' member events, in every sync (a provider instance keeps no state).
        "state": {
            "types": ["m.room.member"],
            "lazy_load_members": True,
            "include_redundant_members": True,
        },
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}
#: How long one long-polling ``/sync`` of :meth:`MatrixProvider.watch` waits (the spec's
#: usual 30 s: a homeserver answers at once when something arrives).
WATCH_TIMEOUT_MS = 30_000
#: What :meth:`MatrixProvider.watch` asks for: only that messages arrived, not their senders'
#: state (the poll fetches those).
WATCH_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"types": [c.MESSAGE], "limit": 10},
        "state": {"not_types": ["*"]},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}
# Placeholders as long as real values, to measure events before they exist.
_SAMPLE_EVENT_ID = "$" + "x" * 43
_SAMPLE_MXC = "mxc://" + "x" * 40 + "/" + "x" * 32

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


class MatrixProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="Matrix",
        auth=AuthKind.access_token,
        # Matrix has no text limit of its own, only the 65,536-byte event limit, which
        # ``validate`` checks in bytes of the event's JSON. ``TextCounting`` has no "bytes"
        # member yet, so this is an upper bound that only ASCII text without mentions reaches.
        text_limit=c.MAX_CONTENT_BYTES,
        text_counting=TextCounting.characters,
        media=MediaRules(
            max_items=10,  # Dialogo's own bound: Matrix sends one event per image
            image_types=IMAGE_TYPES,
            video_types=frozenset(),
            max_image_bytes=50 * 1024 * 1024,  # Synapse's default max_upload_size
            alt_text_max=None,  # bounded only by the event size, checked in validate
        ),
        threads=True,
        replies=True,
        direct_messages=True,
        metrics=True,
        streams=True,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "homeserver",
            "Homeserver URL",
            kind=ConnectFieldKind.config,
            help="The address of the account's homeserver, e.g. https://matrix.example.org.",
        ),
        ConnectField(
            "access_token",
            "Access token",
            secret=True,
            help=(
                "The access token of the account Dialogo speaks as (in Element: Settings → "
                "Help & About → Access token)."
            ),
        ),
        ConnectField(
            "room_id",
            "Room ID",
            kind=ConnectFieldKind.config,
            required=False,
            help="Where posts are published, e.g. !abc123:example.org.",
        ),
    )

    def __init__(
        self,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        config: dict[str, str] | None = None,
        client: MatrixClient | None = None,
    ) -> None:
        super().__init__(credentials, http=http, config=config)
        self._client = client

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def homeserver(self) -> str:
        url = self.config.get("homeserver") or self.credentials.extra.get("homeserver")
        if not url:
            raise ProviderError("the Matrix channel has no homeserver URL", code="matrix_config")
        return url.rstrip("/")

    @property
    def client(self) -> MatrixClient:
        if self._client is None:
            self._client = MatrixClient(
                self.homeserver,
                access_token=self.credentials.access_token,
                user_id=self.credentials.account_id,
                device_id=self.credentials.extra.get("device_id"),
                policy=policy_of(self.http),
            )
        return self._client

    def _me(self) -> str:
        user_id = self.credentials.account_id or self.client.user_id
        if not user_id:
            user_id = self.client.whoami()
            self.credentials = dataclasses.replace(self.credentials, account_id=user_id)
        return user_id

    def _default_room(self) -> str | None:
        return self.config.get("room_id") or None

    # -- auth -------------------------------------------------------------------------------------

    def login(self) -> Credentials:
        """Exchange ``extra["user"]`` and ``extra["password"]`` for an access token."""
        user = self.credentials.extra.get("user") or self.credentials.account_id
        password = self.credentials.extra.get("password")
        if not user or not password:
            raise ReauthRequired("the Matrix channel has neither a token nor a password")
        session = self.client.login(user, password)
        extra = {k: v for k, v in self.credentials.extra.items() if k not in ("password", "user")}
        return Credentials(
            access_token=session.access_token,
            account_id=session.user_id,
            extra={**extra, "device_id": session.device_id},
        )

    def verify(self) -> Account:
        if not self.credentials.access_token:
            # Replaced, not merged: the password must not survive in the stored credentials.
            self.credentials = self.login()
        user_id = self.client.whoami()
        self.credentials = dataclasses.replace(self.credentials, account_id=user_id)
        return Account(
            remote_id=user_id,
            handle=user_id,
            display_name=self.client.display_name(user_id) or "",
            url=c.user_link(user_id),
        )

    # -- validation -------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        if draft.reply_to is None and not self._default_room():
            issues.append(
                ValidationIssue("no_room", N_("the channel has no room_id to post in"), "config")
            )
        if draft.reply_to is not None and not (
            self._room_of(draft.reply_to) or self._default_room()
        ):
            issues.append(
                ValidationIssue("no_room", N_("the reply target has no room"), "reply_to")
            )
        issues.extend(self._validate_one(draft, "", in_thread=draft.reply_to is not None))
        for index, part in enumerate(draft.thread):
            prefix = f"thread[{index}]."
            if part.thread:
                issues.append(
                    ValidationIssue(
                        "nested_thread",
                        N_("a thread post cannot have its own thread"),
                        prefix + "thread",
                    )
                )
            issues.extend(self._validate_one(part, prefix, in_thread=True))
        return issues

    def _validate_one(self, draft: Draft, prefix: str, *, in_thread: bool) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        rules = self.capabilities.media
        if not draft.text.strip() and not draft.media:
            issues.append(
                ValidationIssue("empty", N_("a post needs text or an image"), prefix + "text")
            )
        relation = (
            c.relates_to(reply_to=_SAMPLE_EVENT_ID, thread_root=_SAMPLE_EVENT_ID)
            if in_thread or draft.reply_to
            else None
        )
        if draft.text:
            size = c.content_bytes(
                c.text_content(draft.text, relation=relation, also_mention=["@" + "x" * 60])
            )
            if size > c.MAX_CONTENT_BYTES:
                issues.append(
                    ValidationIssue(
                        "too_long",
                        Plural(
                            Nn_(
                                "the message would take %(size)s byte of event JSON; "
                                "%(max_content_bytes)s fit in a Matrix event",
                                "the message would take %(size)s bytes of event JSON; "
                                "%(max_content_bytes)s fit in a Matrix event",
                            ),
                            count="size",
                        ),
                        prefix + "text",
                        params={"size": size, "max_content_bytes": c.MAX_CONTENT_BYTES},
                    )
                )
        if len(draft.media) > rules.max_items:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_("at most %(max_items)s image", "at most %(max_items)s images"),
                        count="max_items",
                    ),
                    prefix + "media",
                    params={"max_items": rules.max_items},
                )
            )
        for index, media in enumerate(draft.media):
            field = f"{prefix}media[{index}]"
            if media.mime_type not in rules.image_types:
                issues.append(
                    ValidationIssue(
                        "media_type",
                        N_("%(mime_type)s is not supported on Matrix"),
                        field,
                        params={"mime_type": media.mime_type},
                    )
                )
            if not media.content:
                issues.append(ValidationIssue("media_empty", N_("the file is empty"), field))
            elif len(media.content) > rules.max_image_bytes:
                issues.append(
                    ValidationIssue(
                        "media_too_large",
                        Plural(
                            Nn_(
                                "%(size)s byte; at most %(max_image_bytes)s",
                                "%(size)s bytes; at most %(max_image_bytes)s",
                            ),
                            count="size",
                        ),
                        field,
                        params={
                            "size": len(media.content),
                            "max_image_bytes": rules.max_image_bytes,
                        },
                    )
                )
            size = c.content_bytes(self._image_content(_SAMPLE_MXC, media, relation))
            if size > c.MAX_CONTENT_BYTES:
                issues.append(
                    ValidationIssue(
                        "alt_text_too_long",
                        Plural(
                            Nn_(
                                "the image event would take %(size)s byte of JSON; "
                                "%(max_content_bytes)s fit in a Matrix event",
                                "the image event would take %(size)s bytes of JSON; "
                                "%(max_content_bytes)s fit in a Matrix event",
                            ),
                            count="size",
                        ),
                        field + ".alt_text",
                        params={"size": size, "max_content_bytes": c.MAX_CONTENT_BYTES},
                    )
                )
        return issues

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "; ".join(issue.message for issue in issues),
                issues=[f"{issue.field}: {issue.code}" for issue in issues],
            )
        txn_ids = self._txn_ids(draft.idempotency_key)
        me = self._me()
        room_id: str
        relation: dict[str, Any] | None = None
        also_mention: list[str] = []
        thread_root: str | None = None
        if draft.reply_to is not None:
            room_id = self._room_of(draft.reply_to) or self._default_room() or ""
            target = self.client.get_event(room_id, draft.reply_to.remote_id)
            target_content = target.get("content") or {}
            _, thread_root, _ = c.relation_of(target_content)
            relation = c.relates_to(reply_to=draft.reply_to.remote_id, thread_root=thread_root)
            sender = target.get("sender")
            if isinstance(sender, str) and sender != me:
                also_mention.append(sender)
        else:
            room_id = self._default_room() or ""

        first = self._send_post(room_id, draft, relation, also_mention, txn_ids)
        event_ids = list(first)
        thread_ids: list[str] = []
        root = thread_root or event_ids[0]
        latest = event_ids[-1]
        for part in draft.thread:
            part_relation = c.relates_to(thread_root=root, latest=latest)
            ids = self._send_post(room_id, part, part_relation, [], txn_ids)
            thread_ids.append(ids[0])
            event_ids.extend(ids)
            latest = ids[-1]
        return PublishResult(
            remote_id=event_ids[0],
            url=c.event_link(room_id, event_ids[0]),
            thread_ids=thread_ids,
            state={"room_id": room_id, "event_ids": ",".join(event_ids)},
        )

    def _send_post(
        self,
        room_id: str,
        draft: Draft,
        relation: dict[str, Any] | None,
        also_mention: Sequence[str],
        txn_ids: Iterator[str],
    ) -> list[str]:
        """The text event, then one event per image, all with the same relation."""
        ids: list[str] = []
        if draft.text.strip():
            content = c.text_content(draft.text, relation=relation, also_mention=also_mention)
            ids.append(self.client.send_event(room_id, content, txn_id=next(txn_ids)))
        for media in draft.media:
            uri = self.client.upload(
                media.content, content_type=media.mime_type, filename=media.filename
            )
            content = self._image_content(uri, media, relation)
            ids.append(self.client.send_event(room_id, content, txn_id=next(txn_ids)))
        return ids

    @staticmethod
    def _image_content(uri: str, media: Media, relation: dict[str, Any] | None) -> dict[str, Any]:
        return c.image_content(
            uri,
            mime_type=media.mime_type,
            size=len(media.content),
            alt_text=media.alt_text,
            filename=media.filename,
            dimensions=c.image_dimensions(media.content),
            relation=relation,
        )

    @staticmethod
    def _txn_ids(key: str | None) -> Iterator[str]:
        if key:
            return (f"dialogo.{key}.{n}" for n in itertools.count())
        return (f"dialogo.{uuid.uuid4().hex}" for _ in itertools.count())

    def _room_of(self, ref: RemoteRef) -> str | None:
        room = ref.extra.get("room_id")
        if room:
            return room
        if ref.conversation_id:
            return c.split_conversation(ref.conversation_id)[0]
        return None

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """Our latest messages in the configured room, newest first. ``state`` carries the
        ``transaction_id`` the homeserver echoes to the sending device, to match a publish
        whose answer was lost, and ``created_at`` (the event's ``origin_server_ts``)."""
        room_id = self._default_room()
        if not room_id:
            # No room configured: nothing was published, nothing to list (nor to miss).
            return RecentPosts(posts=(), exhausted=True)
        return self._own_messages(room_id, limit, since)

    def recent_replies(
        self, target: RemoteRef, *, limit: int = 20, since: dt.datetime | None = None
    ) -> list[PublishResult]:
        """Our latest messages in the room of ``target`` (the room a reply to it is sent to:
        a DM room or the configured room), newest first, read with ``/messages`` filtered to
        our own ``m.room.message`` events; the ``transaction_id`` echoed to our device matches
        a reply whose answer was lost. ``/messages`` takes no time (only ``from``, ``dir``,
        ``limit`` and a filter): with ``since``, paging back stops after the first page that
        reaches before it, and the events older than it are left out."""
        room_id = self._room_of(target) or self._default_room()
        if not room_id:
            return []
        if since is None:
            return list(self._own_messages(room_id, limit))
        return made_since(self._own_messages(room_id, limit, since), since)

    def _own_messages(
        self, room_id: str, limit: int, since: dt.datetime | None = None
    ) -> RecentPosts:
        """Paged back with ``/messages`` (``dir=b``; the next page ``from`` the answer's
        ``end``, which the spec omits once the start of the visible timeline is reached:
        spec.matrix.org, client-server API, ``GET /_matrix/client/v3/rooms/{roomId}/messages``).
        The filter keeps our own messages, but the server may still answer short pages
        (edits and events it hides are dropped), so more requests than ``limit`` needs are
        allowed before the listing stops short."""
        me = self._me()

        def page(cursor: str | None, count: int) -> tuple[list[PublishResult], str | None]:
            answer = self.client.messages(
                room_id,
                start=cursor,
                backwards=True,
                limit=count,
                message_filter={"senders": [me], "types": [c.MESSAGE]},
            )
            results = []
            for event in answer.events:
                event_id = event.get("event_id")
                content = event.get("content") or {}
                if event.get("sender") != me or not isinstance(event_id, str) or c.is_edit(content):
                    continue
                state = {"room_id": room_id}
                txn = (event.get("unsigned") or {}).get("transaction_id")
                if isinstance(txn, str):
                    state["transaction_id"] = txn
                sent = event.get("origin_server_ts")
                if isinstance(sent, int) and not isinstance(sent, bool):
                    state["created_at"] = dt.datetime.fromtimestamp(sent / 1000, dt.UTC).isoformat()
                results.append(
                    PublishResult(
                        remote_id=event_id, url=c.event_link(room_id, event_id), state=state
                    )
                )
            return results, answer.end

        pages = -(-limit // MESSAGES_PAGE)
        return collect_pages(
            page, limit=limit, page_size=MESSAGES_PAGE, max_requests=2 * pages + 2, since=since
        )

    # -- direct messages --------------------------------------------------------------------------

    def open_direct_room(self, user_id: str) -> str:
        """The DM room with ``user_id``: the one in ``m.direct`` or a new one (invited, and
        recorded in ``m.direct``). Reply to its messages with their ``conversation_id``."""
        direct = self.client.direct_rooms()
        existing = direct.get(user_id)
        if existing:
            return existing[-1]
        room_id = self.client.create_room(invite=[user_id], is_direct=True)
        direct[user_id] = [*direct.get(user_id, []), room_id]
        self.client.set_direct_rooms(direct)
        return room_id

    # -- inbound ----------------------------------------------------------------------------------

    def fetch_messages(self, since: str | None) -> MessagePage:
        """Messages from others in every joined room since the ``/sync`` token ``since``
        (with ``None``: the latest :data:`TIMELINE_LIMIT` of each room)."""
        me = self._me()
        direct_rooms = set(itertools.chain.from_iterable(self.client.direct_rooms().values()))
        sync = self.client.sync(since, SYNC_FILTER)
        messages: list[InboundMessage] = []
        for room in sync.joined:
            events = room.events
            if room.limited and since and room.prev_batch:
                events = self._backfill(room, since) + events
            senders = _Senders(self.client, room.room_id, events, room.names)
            for event in events:
                message = self._inbound(
                    event, room.room_id, me, room.room_id in direct_rooms, senders
                )
                if message is not None:
                    messages.append(message)
        messages.sort(key=lambda m: m.created_at)
        return MessagePage(messages=messages, cursor=sync.next_batch)

    def watch(self, stop: threading.Event) -> Iterator[None]:
        """Long-poll ``/sync`` (:data:`WATCH_TIMEOUT_MS`) from the homeserver's present
        position and yield whenever a message from someone else arrived in a joined room.

        Yields once at the start, too: the stream may have been down, and the poll it wakes
        fetches whatever came meanwhile. The stream keeps its own ``/sync`` position in memory;
        the inbox's cursor belongs to the poll alone."""
        me = self._me()
        first = self.client.long_poll(None, WATCH_FILTER, timeout_ms=0, stop=stop)
        if first is None:
            return
        since = first.next_batch
        yield
        while not stop.is_set():
            sync = self.client.long_poll(
                since, WATCH_FILTER, timeout_ms=WATCH_TIMEOUT_MS, stop=stop
            )
            if sync is None:
                return
            since = sync.next_batch
            if any(_is_news(event, me) for room in sync.joined for event in room.events):
                yield

    def _backfill(self, room: RoomTimeline, since: str) -> list[dict[str, Any]]:
        """The events a limited sync left out, oldest first (``/messages`` back to ``since``)."""
        older: list[dict[str, Any]] = []
        token = room.prev_batch
        for _ in range(MAX_BACKFILL_PAGES):
            page = self.client.messages(
                room.room_id,
                start=token,
                end=since,
                backwards=True,
                limit=100,
                message_filter={"types": [c.MESSAGE]},
            )
            older.extend(page.events)
            if not page.events or not page.end or page.end == token:
                break
            token = page.end
        return list(reversed(older))

    def _inbound(
        self,
        event: dict[str, Any],
        room_id: str,
        me: str,
        direct: bool,
        senders: _Senders,
    ) -> InboundMessage | None:
        content = event.get("content")
        sender = event.get("sender")
        event_id = event.get("event_id")
        if (
            event.get("type") != c.MESSAGE
            or not isinstance(content, dict)
            or not content  # redacted
            or not isinstance(sender, str)
            or not isinstance(event_id, str)
            or sender == me
            or c.is_edit(content)
        ):
            return None
        reply_to, thread_root, falling_back = c.relation_of(content)
        target = thread_root if (falling_back or not reply_to) else reply_to
        if direct:
            kind = MessageKind.direct
        elif target and senders.sender_of(target) == me:
            kind = MessageKind.reply
        elif c.mentions_user(content, me):
            kind = MessageKind.mention
        else:
            kind = MessageKind.comment
        body = content.get("body")
        return InboundMessage(
            remote_id=event_id,
            kind=kind,
            author=Author(remote_id=sender, handle=sender, display_name=senders.name(sender)),
            text=body if isinstance(body, str) else "",
            created_at=c.timestamp(event),
            conversation_id=c.conversation_id(room_id, thread_root),
            in_reply_to=target,
            url=c.event_link(room_id, event_id),
            raw={**event, "room_id": room_id},
        )

    # -- metrics ----------------------------------------------------------------------------------

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        """Reactions (any key) as ``likes`` and thread replies as ``replies``, for events in the
        configured room. Rich replies outside a thread are not relations and are not counted."""
        room_id = self._default_room()
        if not room_id:
            raise ProviderError("the Matrix channel has no room_id", code="matrix_config")
        now = dt.datetime.now(dt.UTC)
        metrics = []
        for remote_id in remote_ids:
            reactions, _ = self.client.relations(
                room_id, remote_id, rel_type="m.annotation", event_type="m.reaction"
            )
            replies, _ = self.client.relations(room_id, remote_id, rel_type="m.thread")
            metrics.append(
                PostMetrics(
                    remote_id=remote_id, observed_at=now, likes=len(reactions), replies=len(replies)
                )
            )
        return metrics

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        super().close()


class _Senders:
    """Who sent an event (to tell replies to us apart) and members' display names, from the
    events at hand first and the homeserver only when needed (one lookup per event)."""

    def __init__(
        self,
        client: MatrixClient,
        room_id: str,
        events: Sequence[dict[str, Any]],
        names: dict[str, str],
    ) -> None:
        self.client = client
        self.room_id = room_id
        self.names = names
        self.senders: dict[str, str | None] = {}
        for event in events:
            event_id, sender = event.get("event_id"), event.get("sender")
            if isinstance(event_id, str) and isinstance(sender, str):
                self.senders[event_id] = sender

    def sender_of(self, event_id: str) -> str | None:
        if event_id not in self.senders:
            try:
                sender = self.client.get_event(self.room_id, event_id).get("sender")
            except ProviderError as exc:
                if exc.transient or isinstance(exc, ReauthRequired):
                    raise
                sender = None  # not visible to us (before we joined, or redacted)
            self.senders[event_id] = sender if isinstance(sender, str) else None
        return self.senders[event_id]

    def name(self, user_id: str) -> str:
        return self.names.get(user_id, "")


def _is_news(event: dict[str, Any], me: str) -> bool:
    """A message someone else sent (what :meth:`MatrixProvider.fetch_messages` would keep)."""
    content = event.get("content")
    return (
        event.get("type") == c.MESSAGE
        and event.get("sender") != me
        and isinstance(content, dict)
        and bool(content)
        and not c.is_edit(content)
    )
