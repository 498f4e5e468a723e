"""Mastodon: statuses, media with alt text, visibility, threads, replies, mentions, direct
messages, search and metrics, on any Mastodon server (through Mastodon.py, see
:mod:`dialogo.providers.mastodon.client`).

Configuration (``config``, not secret): ``instance_url``, the server the account is on (e.g.
``https://mastodon.social``), and ``visibility``, the default visibility of new posts
(``public``, ``unlisted``, ``private`` for followers only, or ``direct``; default ``public``).

Credentials: an **access token** (``access_token``) made in the server's Preferences →
Development → New application with the ``read`` and ``write`` scopes. OAuth with an app
registered per server comes later. :meth:`MastodonProvider.verify` reads the account
(``verify_credentials``) and sets ``credentials.account_id`` for the caller to store.

What maps to what:

- a **post** is a status: text (500 characters, counted as Mastodon counts them, see
  :func:`status_length`), up to four images or one video, each with a description (alt text,
  1,500 characters at most), a visibility; the draft's idempotency key travels as Mastodon's
  ``Idempotency-Key`` header (a status sent twice with the same key is created once, for an
  hour), each post of a thread with the key suffixed by its position;
- a **thread**: each following post replies to the one before (replies to oneself), with the
  same visibility;
- a **reply** answers ``RemoteRef.remote_id`` (a status id); ``RemoteRef.extra["visibility"]``
  (``direct`` for a direct message) is kept, so an answer to a private message stays private;
- ``remote_id`` is the status id; ``conversation_id`` of an inbound message is the id of the
  status it replies to (Mastodon's API exposes no thread root without another request);
- **inbound** messages are the account's ``mention`` notifications newer than the cursor (the
  newest notification id seen, Mastodon's ``since_id``; pages are read forward with ``min_id``,
  at most :data:`MAX_PAGES` of :data:`PAGE_SIZE` per fetch, the rest on the next): a status
  with visibility ``direct`` is a ``direct`` message, one replying to a status of ours a
  ``reply``, anything else a ``mention``; the status's HTML becomes plain text;
- **metrics**: ``favourites_count``, ``reblogs_count`` and ``replies_count`` of each status
  (Mastodon exposes no impressions);
- **search**: :meth:`MastodonProvider.search_posts` (``/api/v2/search``, statuses only; most
  servers search only posts the account interacted with, or opted-in posts).

Not supported yet: videos that the server is still processing when the status is posted
(Mastodon answers 202 to the upload and 422 to the status: the publish fails with
``InvalidPayload``; the ``pending``/``check_status`` flow is to do), content warnings
(``spoiler_text``), polls, scheduled statuses and editing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import queue
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import httpx
import regex  # type: ignore[import-untyped]  # (types-regex is not a dependency)
from mastodon._url_regex import url_regex  # Mastodon's own (twitter-text) URL pattern
from mastodon.streaming import StreamListener

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
)
from dialogo.providers.errors import InvalidPayload, ProviderError, TransientError
from dialogo.providers.mastodon.client import (
    DEFAULT_TIMEOUT,
    NETWORK,
    MastodonClient,
    RecordingSession,
    int_of,
    mapping_of,
    text_of,
)
from dialogo.providers.netpolicy import policy_of
from dialogo.providers.pinning import pin_session
from dialogo.providers.text import html_to_text

MAX_CHARS = 500
URL_LENGTH = 23
MAX_MEDIA = 4
MAX_ALT_TEXT = 1500
VISIBILITIES = ("public", "unlisted", "private", "direct")
#: Notifications per request (Mastodon's maximum is 80) and requests per fetch.
PAGE_SIZE = 40
#: The most statuses ``GET /api/v1/accounts/:id/statuses`` answers at once (its ``limit``).
STATUSES_PAGE = 40
MAX_PAGES = 5
# docs.joinmastodon.org/user/posting/#media (Mastodon 4.x defaults)
IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif", "image/avif"}
)
VIDEO_TYPES = frozenset({"video/mp4", "video/webm", "video/quicktime"})
MAX_IMAGE_BYTES = 16 * 1024 * 1024
MAX_VIDEO_BYTES = 99 * 1024 * 1024

# Mastodon's Account::MENTION_RE: a mention of a remote account (``@user@domain``) counts only
# its ``@user`` part towards the limit.
_MENTION = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.\-]+[a-z0-9_]+)?)(?:@[\w.\-]+\w+)?", re.IGNORECASE
)
_GRAPHEME = regex.compile(r"\X")


def countable_text(text: str) -> str:
    """The text as Mastodon's ``StatusLengthValidator`` measures it: every URL (``http`` or
    ``https``, found with Mastodon's own pattern) replaced by 23 placeholder characters and
    every ``@user@domain`` mention by ``@user``."""
    replaced = url_regex.sub(lambda m: m.group(2) + "x" * URL_LENGTH, text)
    return _MENTION.sub(r"@\1", replaced)


def status_length(text: str, spoiler_text: str = "") -> int:
    """How long Mastodon considers a status: grapheme clusters of :func:`countable_text`
    plus those of the content warning."""
    return len(_GRAPHEME.findall(countable_text(text))) + len(_GRAPHEME.findall(spoiler_text))


def _listed(status: Mapping[str, Any]) -> PublishResult:
    """A status of the account as :meth:`MastodonProvider.recent_posts` lists it."""
    return PublishResult(
        remote_id=_id(status.get("id")),
        url=text_of(status.get("url") or status.get("uri")) or None,
        state={
            "text": html_to_text(text_of(status.get("content"))),
            "created_at": _parse_time(status.get("created_at")).isoformat(),
            "visibility": text_of(status.get("visibility")),
            "in_reply_to_id": text_of(status.get("in_reply_to_id")),
        },
    )


def _parse_time(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text_of(value).replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.now(dt.UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _id(value: object) -> str:
    return text_of(value)


#: How long a notification stream may stay silent (Mastodon's heartbeat comes every 15 s).
STREAM_READ_TIMEOUT = 60.0
#: How soon :meth:`MastodonProvider.watch` notices that it should stop.
STREAM_STOP_CHECK_SECONDS = 0.1


class _StreamListener(StreamListener):
    """Mastodon.py's parser of the streaming API's events, reporting mentions to a queue."""

    def __init__(self, events: queue.Queue[tuple[str, object]]) -> None:
        super().__init__()
        self.events = events

    def on_notification(self, notification: Any) -> None:
        if isinstance(notification, Mapping) and notification.get("type") == "mention":
            self.events.put(("mention", None))


class MastodonProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="Mastodon",
        auth=AuthKind.access_token,
        text_limit=MAX_CHARS,
        text_counting=TextCounting.graphemes,
        url_length=URL_LENGTH,
        media=MediaRules(
            max_items=MAX_MEDIA,
            image_types=IMAGE_TYPES,
            video_types=VIDEO_TYPES,
            max_image_bytes=MAX_IMAGE_BYTES,
            max_video_bytes=MAX_VIDEO_BYTES,
            alt_text_max=MAX_ALT_TEXT,
            mix_images_and_video=False,
        ),
        threads=True,
        replies=True,
        direct_messages=True,
        metrics=True,
        search=True,
        streams=True,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "instance_url",
            "Instance URL",
            kind=ConnectFieldKind.config,
            help="The address of the Mastodon server the account is on, e.g. "
            "https://mastodon.social.",
        ),
        ConnectField(
            "access_token",
            "Access token",
            secret=True,
            help="In Mastodon: Preferences → Development → New application, with the read "
            "and write scopes; then copy “Your access token”.",
        ),
        ConnectField(
            "visibility",
            "Default visibility",
            kind=ConnectFieldKind.config,
            required=False,
            help="public, unlisted, private (followers only) or direct; public if empty.",
        ),
    )

    def __init__(
        self,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        config: dict[str, str] | None = None,
        client: MastodonClient | None = None,
        session: RecordingSession | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(credentials, http=http, config=config)
        if client is None:
            base = (self.config.get("instance_url") or "").strip()
            if not base:
                raise ProviderError("a Mastodon channel needs its instance URL", network=NETWORK)
            if "://" not in base:
                base = f"https://{base}"
            policy = policy_of(self.http)
            if session is None and policy is not None:  # its connections pinned (netpolicy)
                session = RecordingSession()
                pin_session(session, policy)
            client = MastodonClient(
                base, credentials.access_token, session=session, timeout=timeout
            )
        self.client = client

    # -- auth ------------------------------------------------------------------------------------

    def verify(self) -> Account:
        me = self.client.verify_credentials()
        remote_id = _id(me.get("id"))
        self.credentials = dataclasses.replace(self.credentials, account_id=remote_id)
        username = text_of(me.get("username") or me.get("acct"))
        host = httpx.URL(self.client.api_base_url).host
        return Account(
            remote_id=remote_id,
            handle=f"@{username}@{host}" if host else f"@{username}",
            display_name=text_of(me.get("display_name")),
            url=text_of(me.get("url")) or None,
            followers=int_of(me.get("followers_count")),
        )

    def _account_id(self) -> str:
        if not self.credentials.account_id:
            self.verify()
        return self.credentials.account_id or ""

    # -- content ---------------------------------------------------------------------------------

    def _visibility(self, draft: Draft) -> str:
        target = draft.reply_to.extra.get("visibility") if draft.reply_to else None
        if target == "direct":
            return "direct"
        return (self.config.get("visibility") or "public").strip().lower()

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        visibility = self._visibility(draft)
        if visibility not in VISIBILITIES:
            issues.append(
                ValidationIssue(
                    "visibility",
                    N_("%(visibility)s is not a Mastodon visibility; use one of %(visibilities)s"),
                    "visibility",
                    params={
                        "visibility": repr(visibility),
                        "visibilities": ", ".join(VISIBILITIES),
                    },
                )
            )
        issues.extend(self._validate_post(draft, ""))
        for index, post in enumerate(draft.thread):
            prefix = f"thread[{index}]."
            if post.thread:
                issues.append(
                    ValidationIssue(
                        "nested_thread",
                        N_("a post in a thread cannot start a thread of its own"),
                        f"{prefix}thread",
                    )
                )
            if post.reply_to is not None:
                issues.append(
                    ValidationIssue(
                        "thread_reply",
                        N_("a post in a thread answers the post before it, not another post"),
                        f"{prefix}reply_to",
                    )
                )
            issues.extend(self._validate_post(post, prefix))
        return issues

    def _validate_post(self, draft: Draft, prefix: str) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        text_field = f"{prefix}text"
        if not draft.text.strip() and not draft.media:
            issues.append(ValidationIssue("empty", N_("a post needs text or media"), text_field))
        length = status_length(draft.text)
        if length > MAX_CHARS:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character (links count %(url_length)s); Mastodon allows "
                            "%(max_chars)s",
                            "%(length)s characters (links count %(url_length)s); Mastodon allows "
                            "%(max_chars)s",
                        ),
                        count="length",
                    ),
                    text_field,
                    params={"length": length, "url_length": URL_LENGTH, "max_chars": MAX_CHARS},
                )
            )
        issues.extend(self._validate_media(draft.media, f"{prefix}media"))
        return issues

    def _validate_media(self, media: Sequence[Media], field: str) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        videos = [m for m in media if m.mime_type.startswith("video/")]
        if len(media) > MAX_MEDIA:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_(
                            "%(count)s attachment; Mastodon allows %(max_media)s per post",
                            "%(count)s attachments; Mastodon allows %(max_media)s per post",
                        ),
                        count="count",
                    ),
                    field,
                    params={"count": len(media), "max_media": MAX_MEDIA},
                )
            )
        if videos and len(media) > 1:
            issues.append(
                ValidationIssue(
                    "mixed_media",
                    N_("a video must be the only attachment of a Mastodon post"),
                    field,
                )
            )
        for index, item in enumerate(media):
            item_field = f"{field}[{index}]"
            mime = item.mime_type.lower()
            if mime in IMAGE_TYPES:
                limit = MAX_IMAGE_BYTES
            elif mime in VIDEO_TYPES:
                limit = MAX_VIDEO_BYTES
            else:
                allowed = ", ".join(sorted(IMAGE_TYPES | VIDEO_TYPES))
                issues.append(
                    ValidationIssue(
                        "media_type",
                        N_("%(mime_type)s is not accepted; use %(allowed)s"),
                        item_field,
                        params={"mime_type": mime, "allowed": allowed},
                    )
                )
                continue
            if not item.content:
                issues.append(ValidationIssue("media_empty", N_("the file is empty"), item_field))
            elif len(item.content) > limit:
                issues.append(
                    ValidationIssue(
                        "media_too_large",
                        Plural(
                            Nn_(
                                "%(size)s byte; Mastodon accepts %(limit)s for %(mime_type)s",
                                "%(size)s bytes; Mastodon accepts %(limit)s for %(mime_type)s",
                            ),
                            count="size",
                        ),
                        item_field,
                        params={"size": len(item.content), "limit": limit, "mime_type": mime},
                    )
                )
            if len(item.alt_text) > MAX_ALT_TEXT:
                issues.append(
                    ValidationIssue(
                        "alt_text_too_long",
                        Plural(
                            Nn_(
                                "%(length)s character of alt text; Mastodon allows "
                                "%(max_alt_text)s",
                                "%(length)s characters of alt text; Mastodon allows "
                                "%(max_alt_text)s",
                            ),
                            count="length",
                        ),
                        f"{item_field}.alt_text",
                        params={"length": len(item.alt_text), "max_alt_text": MAX_ALT_TEXT},
                    )
                )
        return issues

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "the post breaks Mastodon's rules: "
                + "; ".join(f"{i.field}: {i.message}" for i in issues),
                issues=[i.code for i in issues],
                network=NETWORK,
            )
        visibility = self._visibility(draft)
        first = self._post(
            draft,
            in_reply_to_id=draft.reply_to.remote_id if draft.reply_to else None,
            visibility=visibility,
            idempotency_key=draft.idempotency_key,
        )
        first_id = _id(first.get("id"))
        thread_ids: list[str] = []
        previous = first_id
        for index, post in enumerate(draft.thread, start=1):
            key = f"{draft.idempotency_key}:{index}" if draft.idempotency_key else None
            status = self._post(
                post, in_reply_to_id=previous, visibility=visibility, idempotency_key=key
            )
            previous = _id(status.get("id"))
            thread_ids.append(previous)
        return PublishResult(
            remote_id=first_id,
            url=text_of(first.get("url") or first.get("uri")) or None,
            state={"visibility": text_of(first.get("visibility")) or visibility},
            thread_ids=thread_ids,
        )

    def _post(
        self,
        draft: Draft,
        *,
        in_reply_to_id: str | None,
        visibility: str,
        idempotency_key: str | None,
    ) -> Mapping[str, Any]:
        media_ids = [
            _id(
                self.client.upload_media(
                    item.content,
                    item.mime_type,
                    description=item.alt_text,
                    file_name=item.filename,
                ).get("id")
            )
            for item in draft.media
        ]
        return self.client.post_status(
            draft.text,
            media_ids=media_ids,
            in_reply_to_id=in_reply_to_id,
            visibility=visibility,
            idempotency_key=idempotency_key,
        )

    def reply(self, target: RemoteRef, draft: Draft) -> PublishResult:
        return self.publish(dataclasses.replace(draft, reply_to=target))

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """The account's newest statuses (to reconcile a publish whose answer was lost):
        ``GET /api/v1/accounts/:id/statuses`` (docs.joinmastodon.org/methods/accounts,
        ``limit`` at most 40), paged back with ``max_id`` from the ``Link`` header."""
        account_id = self._account_id()

        def page(cursor: str | None, count: int) -> tuple[list[PublishResult], str | None]:
            statuses, following = self.client.account_statuses(
                account_id, limit=count, max_id=cursor
            )
            return [_listed(status) for status in statuses], following

        return collect_pages(page, limit=limit, page_size=STATUSES_PAGE, since=since)

    # -- inbound, search and metrics -------------------------------------------------------------

    def watch(self, stop: threading.Event) -> Iterator[None]:
        """The account's notification stream (``/api/v1/streaming/user/notification``, read
        with Mastodon.py's ``StreamListener``): yields once connected, then at each ``mention``
        notification (what :meth:`fetch_messages` reads; direct messages are mentions too).

        The stream is read in a helper thread; this generator waits on what it reports, so
        ``stop`` is noticed within :data:`STREAM_STOP_CHECK_SECONDS`, and closing the
        connection ends the helper. Mastodon sends a heartbeat every 15 s: a connection silent
        for :data:`STREAM_READ_TIMEOUT` seconds is dead and raises ``TransientError``. The
        streaming API must answer on the instance's own address (as Mastodon's standard
        nginx configuration does); an instance serving it elsewhere answers 404 here."""
        response = self.client.open_stream("user/notification", read_timeout=STREAM_READ_TIMEOUT)
        events: queue.Queue[tuple[str, object]] = queue.Queue()
        listener = _StreamListener(events)

        def read() -> None:
            try:
                listener.handle_stream(response)  # type: ignore[no-untyped-call]
            except Exception as exc:  # reported to the generator, which raises it
                events.put(("error", exc))
            else:
                events.put(("end", None))

        reader = threading.Thread(target=read, name="dialogo-mastodon-stream", daemon=True)
        reader.start()
        try:
            yield
            while not stop.is_set():
                try:
                    kind, value = events.get(timeout=STREAM_STOP_CHECK_SECONDS)
                except queue.Empty:
                    continue
                if kind == "mention":
                    yield
                elif kind == "error":
                    raise TransientError(
                        f"the Mastodon stream broke: {value!r}", network=NETWORK
                    ) from (value if isinstance(value, BaseException) else None)
                elif kind == "end":
                    return
        finally:
            response.close()
            reader.join(timeout=2.0)

    def fetch_messages(self, since: str | None) -> MessagePage:
        me = self._account_id()  # to tell replies to us from mere mentions
        messages = []
        newest = since or None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.client.mentions(min_id=newest, limit=PAGE_SIZE)
            fresh = [n for n in page if _id(n.get("id")) not in seen]
            for notification in fresh:
                notification_id = _id(notification.get("id"))
                seen.add(notification_id)
                if newest is None or _newer(notification_id, newest):
                    newest = notification_id
                status = mapping_of(notification.get("status"))
                if status:
                    messages.append(self._message(status, me, notification_id))
            if since is None or len(page) < PAGE_SIZE or not fresh:
                break  # a first fetch reads only the newest page; a short page is the last
        # each page comes newest first: oldest first overall, ids breaking ties
        messages.sort(key=lambda m: (m.created_at, len(m.remote_id), m.remote_id))
        return MessagePage(messages=messages, cursor=newest)

    def _message(
        self, status: Mapping[str, Any], me: str | None, notification_id: str
    ) -> InboundMessage:
        account = mapping_of(status.get("account"))
        in_reply_to = _id(status.get("in_reply_to_id")) or None
        replying_to = _id(status.get("in_reply_to_account_id")) or None
        visibility = text_of(status.get("visibility"))
        if visibility == "direct":
            kind = MessageKind.direct
        elif in_reply_to and me and replying_to == me:
            kind = MessageKind.reply
        else:
            kind = MessageKind.mention
        return InboundMessage(
            remote_id=_id(status.get("id")),
            kind=kind,
            author=Author(
                remote_id=_id(account.get("id")),
                handle=text_of(account.get("acct")),
                display_name=text_of(account.get("display_name")),
                followers=int_of(account.get("followers_count")),
            ),
            text=html_to_text(text_of(status.get("content"))),
            created_at=_parse_time(status.get("created_at")),
            conversation_id=in_reply_to,
            in_reply_to=in_reply_to,
            url=text_of(status.get("url") or status.get("uri")) or None,
            language=text_of(status.get("language")) or None,
            raw={
                "notification_id": notification_id,
                "visibility": visibility,
                "in_reply_to_account_id": replying_to,
                "acct": text_of(account.get("acct")),
            },
        )

    def search_posts(self, query: str, *, limit: int = 20) -> list[InboundMessage]:
        """Statuses matching ``query`` (as the server's search allows), as ``post`` messages."""
        found = []
        for status in self.client.search_statuses(query, limit=limit):
            message = self._message(status, self.credentials.account_id, "")
            found.append(dataclasses.replace(message, kind=MessageKind.post))
        return found

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        now = dt.datetime.now(dt.UTC)
        metrics = []
        for remote_id in remote_ids:
            try:
                status = self.client.status(remote_id)
            except ProviderError as exc:
                if exc.code == "mastodon_http_404":
                    continue  # deleted since: nothing to measure
                raise
            metrics.append(
                PostMetrics(
                    remote_id=_id(status.get("id")) or remote_id,
                    observed_at=now,
                    likes=int_of(status.get("favourites_count")),
                    reposts=int_of(status.get("reblogs_count")),
                    replies=int_of(status.get("replies_count")),
                    quotes=int_of(status.get("quotes_count")),
                )
            )
        return metrics

    def close(self) -> None:
        self.client.close()
        super().close()


def _newer(candidate: str, current: str) -> bool:
    """Mastodon ids are numeric strings (snowflakes) that grow with time; compare them as
    numbers when they are, as (length, text) otherwise."""
    if candidate.isdigit() and current.isdigit():
        return int(candidate) > int(current)
    return (len(candidate), candidate) > (len(current), current)
