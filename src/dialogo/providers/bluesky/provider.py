"""Bluesky: posts, threads, replies, mentions and metrics on an AT Protocol PDS.

Configuration (``config``, not secret): ``service``, the PDS or entryway to log in at
(default ``https://bsky.social``; a self-hosted PDS or the local test network otherwise), and
``web_url``, where post links point (default ``https://bsky.app``).

Credentials: to connect, the account's handle (or DID, or e-mail) as ``account_id`` (or
``extra["identifier"]``) and an **app password** as ``extra["app_password"]`` (never the
account's main password: Bluesky lets people make and revoke app passwords in Settings →
Privacy and security → App passwords). :meth:`BlueskyProvider.verify` exchanges them for a
session: afterwards the provider's ``credentials`` hold the access token (``accessJwt``, about
two hours), the refresh token (``refreshJwt``), the DID as ``account_id``, ``extra["handle"]``
and, when the answer names it, the account's own PDS as ``extra["pds"]``, *without* the app
password, and the caller stores them. :meth:`refresh` renews the pair (Bluesky rotates the
refresh token: the new one must be stored). A provider holding an expired access token and a
refresh token refreshes once before its first call (that is renewing a credential, not
retrying a request); the caller stores ``provider.credentials`` as for any renewal.

What maps to what:

- a **post** is an ``app.bsky.feed.post`` record: text (at most 300 graphemes and 3,000 UTF-8
  bytes), facets for ``@mentions`` (handles resolved to DIDs; a handle that does not resolve
  stays plain text), links and ``#hashtags`` at UTF-8 byte offsets, and up to four images
  (``app.bsky.embed.images``, at most 1,000,000 bytes each, with alt text and aspect ratio);
- a **thread**: each following post replies to the one before, with the first post as root;
- a **reply** carries ``root`` and ``parent`` strong references (URI + CID): the target's CID
  and its own root come from ``RemoteRef.extra`` (``cid``, ``root_uri``, ``root_cid``, as
  :func:`reply_target` fills them from an inbound message) or are read from the network;
- ``remote_id`` is the post's AT URI (``at://did/app.bsky.feed.post/rkey``) and
  ``conversation_id`` the AT URI of the thread's root post;
- **inbound** messages are the account's notifications with reason ``mention``, ``reply`` or
  ``quote`` (a quote becomes a ``mention`` of us, with ``raw["reason"] == "quote"``);
- **metrics**: ``likeCount``, ``repostCount``, ``replyCount`` and ``quoteCount`` from the
  AppView (Bluesky exposes no impressions);
- **search**: :meth:`BlueskyProvider.search_posts` over the AppView's post search.

The notification cursor
-----------------------
The AppView orders notifications by ``sortAt``, the *earlier* of when the post was indexed and
the ``createdAt`` its author's app wrote, so a post from a device whose clock runs late sorts
below posts that were indexed before it. A cursor that remembered only the newest time would
miss it. The cursor therefore holds the newest ``sortAt`` seen *and* short hashes of the
notifications seen within :data:`OVERLAP` before it; every fetch re-reads that window and
returns only what is new. At most :data:`MAX_PAGES` pages are read per fetch (the newest
first), so after a very long pause the oldest notifications of the gap are skipped.

Not supported: direct messages (Bluesky's chat service is separate and needs a privileged app
password), video (uploaded through a separate video service), link cards, quote posts on the
way out, and idempotent publishing (AT Protocol has no client-supplied idempotency key: a
publish whose answer was lost raises ``OutcomeUnknown`` and the dispatcher reconciles with
:meth:`BlueskyProvider.recent_posts`, which reads the repository itself, without the AppView's
indexing delay).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
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
)
from dialogo.providers.bluesky import richtext
from dialogo.providers.bluesky.client import (
    DEFAULT_SERVICE,
    NETWORK,
    POST_COLLECTION,
    BlueskyClient,
    Session,
    StrongRef,
    format_datetime,
    integer,
    obj,
    parse_datetime,
    split_at_uri,
    string,
    token_expiry,
)
from dialogo.providers.errors import (
    Disconnected,
    InvalidPayload,
    ProviderError,
    ReauthRequired,
)

DEFAULT_WEB_URL = "https://bsky.app"
MAX_IMAGE_BYTES = 1_000_000  # app.bsky.embed.images: maxSize 1000000
MAX_IMAGES = 4
MAX_ALT_TEXT_GRAPHEMES = 2000  # what Bluesky's app accepts; the lexicon sets no limit
INBOUND_REASONS = ("mention", "reply", "quote")
OVERLAP = dt.timedelta(minutes=10)
MAX_PAGES = 5
PAGE_SIZE = 100
#: The most records one ``com.atproto.repo.listRecords`` answers (its lexicon: 1-100).
RECORDS_PAGE = 100
METRICS_BATCH = 25  # app.bsky.feed.getPosts: at most 25 URIs
#: Refresh before a call when the access token has less than this left.
EXPIRY_MARGIN = dt.timedelta(seconds=60)

_KINDS = {
    "mention": MessageKind.mention,
    "reply": MessageKind.reply,
    "quote": MessageKind.mention,
}
_GONE_STATUSES = frozenset({"takendown", "suspended", "deactivated"})
_RECONNECT_HINT = (
    "Create an app password in Bluesky (Settings → Privacy and security → App passwords) "
    "and connect the account again with its handle and that app password."
)


def reply_target(message: InboundMessage) -> RemoteRef:
    """The reference to answer an inbound Bluesky message with, carrying the CIDs that spare
    :meth:`BlueskyProvider.reply` a lookup."""
    extra = {
        key: str(message.raw[key])
        for key in ("cid", "root_uri", "root_cid")
        if isinstance(message.raw.get(key), str)
    }
    return RemoteRef(
        remote_id=message.remote_id, conversation_id=message.conversation_id, extra=extra
    )


@dataclasses.dataclass(frozen=True)
class _NotificationCursor:
    newest: dt.datetime | None
    seen: frozenset[str]

    @classmethod
    def parse(cls, value: str | None) -> _NotificationCursor:
        if not value:
            return cls(None, frozenset())
        try:
            data = json.loads(value)
        except ValueError:
            return cls(parse_datetime(value), frozenset())  # a bare timestamp
        data = obj(data)
        seen = data.get("seen")
        items = seen if isinstance(seen, list) else []
        return cls(parse_datetime(data.get("t")), frozenset(s for s in items if isinstance(s, str)))

    def encode(self) -> str | None:
        if self.newest is None:
            return None
        return json.dumps(
            {"t": format_datetime(self.newest), "seen": sorted(self.seen)},
            separators=(",", ":"),
        )


def _short_id(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()[:16]


class BlueskyProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="Bluesky",
        auth=AuthKind.app_password,
        text_limit=richtext.MAX_GRAPHEMES,
        text_counting=TextCounting.graphemes,
        media=MediaRules(
            max_items=MAX_IMAGES,
            image_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
            video_types=frozenset(),
            max_image_bytes=MAX_IMAGE_BYTES,
            max_video_bytes=0,
            alt_text_max=MAX_ALT_TEXT_GRAPHEMES,
            mix_images_and_video=False,
        ),
        threads=True,
        replies=True,
        direct_messages=False,
        metrics=True,
        search=True,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField("account_id", "Handle", help="The account's handle, e.g. brand.bsky.social."),
        ConnectField(
            "app_password",
            "App password",
            kind=ConnectFieldKind.extra,
            secret=True,
            help=(
                "Create an app password in Bluesky (Settings → Privacy and security → "
                "App passwords) and paste it here; never use the account's main password."
            ),
        ),
        ConnectField(
            "service",
            "Server",
            kind=ConnectFieldKind.config,
            required=False,
            help="Leave empty for bsky.social; for a self-hosted PDS, its address.",
        ),
    )

    def __init__(
        self,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        super().__init__(credentials, http=http, config=config)
        self._client: BlueskyClient | None = None

    # -- configuration and session ---------------------------------------------------------------

    @property
    def service(self) -> str:
        """Where this account's XRPC calls go: its own PDS once known, else the configured
        service (an entryway such as bsky.social forwards to it)."""
        extra = self.credentials.extra
        return (
            extra.get("pds") or extra.get("service") or self.config.get("service")
        ) or DEFAULT_SERVICE

    @property
    def web_url(self) -> str:
        return (self.config.get("web_url") or DEFAULT_WEB_URL).rstrip("/")

    def _api(self) -> BlueskyClient:
        if self._client is None or self._client.service != self.service.rstrip("/"):
            self._client = BlueskyClient(self.service, http=self.http)
        self._client.access_token = self.credentials.access_token
        return self._client

    def _now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def _login_details(self) -> tuple[str | None, str | None]:
        extra = self.credentials.extra
        identifier = (
            extra.get("identifier") or extra.get("handle") or self.credentials.account_id or None
        )
        password = extra.get("app_password") or extra.get("password") or None
        return identifier, password

    def _adopt(self, session: Session) -> Credentials:
        """Take a new session into ``self.credentials`` (dropping the app password) and return
        the renewed part, as :meth:`refresh` answers."""
        if not session.active or (session.status or "") in _GONE_STATUSES:
            raise Disconnected(
                f"the Bluesky account {session.handle} is {session.status or 'inactive'}",
                network=NETWORK,
            )
        extra = {"handle": session.handle}
        if session.pds_endpoint:
            extra["pds"] = session.pds_endpoint
        renewed = Credentials(
            access_token=session.access_jwt,
            refresh_token=session.refresh_jwt or None,
            expires_at=session.expires_at,
            account_id=session.did,
            extra=extra,
        )
        kept = {
            k: v
            for k, v in self.credentials.extra.items()
            if k not in ("app_password", "password", "identifier")
        }
        self.credentials = Credentials(
            access_token=renewed.access_token,
            refresh_token=renewed.refresh_token or self.credentials.refresh_token,
            expires_at=renewed.expires_at,
            account_id=renewed.account_id,
            extra={**kept, **extra},
        )
        return renewed

    def _login(self) -> Session:
        identifier, password = self._login_details()
        if not identifier or not password:
            raise ReauthRequired(
                "no Bluesky session and no handle and app password to open one. " + _RECONNECT_HINT,
                network=NETWORK,
            )
        try:
            return self._api().create_session(identifier, password)
        except ReauthRequired as exc:
            raise ReauthRequired(
                f"Bluesky refused the handle or app password for {identifier} "
                f"({exc.details.get('xrpc_error') or 'refused'}). " + _RECONNECT_HINT,
                network=NETWORK,
                xrpc_error=exc.details.get("xrpc_error"),
            ) from None

    def _ready(self) -> BlueskyClient:
        """A client holding a usable access token: a first session from the app password, or a
        refreshed one when the stored access token has expired."""
        if not self.credentials.access_token:
            self._adopt(self._login())
        else:
            expires = token_expiry(self.credentials.access_token) or self.credentials.expires_at
            if (
                expires is not None
                and expires <= self._now() + EXPIRY_MARGIN
                and self.credentials.refresh_token
            ):
                self.refresh()
        return self._api()

    def _did(self) -> str:
        did = self.credentials.account_id
        if not did or not did.startswith("did:"):
            _, did_now, _, _ = self._api().get_session()
            self.credentials = dataclasses.replace(self.credentials, account_id=did_now)
            return did_now
        return did

    # -- auth ------------------------------------------------------------------------------------

    def verify(self) -> Account:
        """Open a session with the handle and app password (at connect time) or check the
        stored one, and say whose account it is."""
        _, password = self._login_details()
        if password:
            self._adopt(self._login())
            client = self._api()
            did, handle = self._did(), self.credentials.extra.get("handle", "")
        else:
            client = self._ready()
            did, handle, active, status = client.get_session()
            if not active or (status or "") in _GONE_STATUSES:
                raise Disconnected(
                    f"the Bluesky account {handle} is {status or 'inactive'}", network=NETWORK
                )
            if self.credentials.account_id != did or self.credentials.extra.get("handle") != handle:
                self.credentials = dataclasses.replace(
                    self.credentials,
                    account_id=did,
                    extra={**self.credentials.extra, "handle": handle},
                )
        display_name, followers = "", None
        try:
            profile = client.get_profile(did)
        except ProviderError as exc:
            if exc.transient or isinstance(exc, ReauthRequired | Disconnected):
                raise
            profile = {}  # the AppView may not have indexed a brand-new account yet
        display_name = string(profile.get("displayName")) or ""
        followers = integer(profile.get("followersCount"))
        handle = string(profile.get("handle")) or handle
        return Account(
            remote_id=did,
            handle=handle,
            display_name=display_name,
            url=f"{self.web_url}/profile/{handle or did}",
            followers=followers,
        )

    def refresh(self) -> Credentials:
        refresh_token = self.credentials.refresh_token
        if not refresh_token:
            raise ReauthRequired(
                "no Bluesky refresh token is stored. " + _RECONNECT_HINT, network=NETWORK
            )
        session = self._api().refresh_session(refresh_token)
        return self._adopt(session)

    # -- validation ------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues = self._validate_post(draft, prefix="")
        for index, part in enumerate(draft.thread):
            prefix = f"thread[{index}]."
            issues += self._validate_post(part, prefix=prefix)
            if part.thread:
                issues.append(
                    ValidationIssue(
                        "nested_thread",
                        N_("a post in a thread cannot start a thread of its own"),
                        field=f"{prefix}thread",
                    )
                )
            if part.reply_to is not None:
                issues.append(
                    ValidationIssue(
                        "thread_reply",
                        N_("a post in a thread answers the post before it, not another post"),
                        field=f"{prefix}reply_to",
                    )
                )
        return issues

    def _validate_post(self, draft: Draft, *, prefix: str) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        text_field = f"{prefix}text"
        if not draft.text.strip() and not draft.media:
            issues.append(ValidationIssue("empty", N_("a post needs text or images"), text_field))
        graphemes = richtext.grapheme_length(draft.text)
        if graphemes > richtext.MAX_GRAPHEMES:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(graphemes)s character; Bluesky allows %(max_graphemes)s",
                            "%(graphemes)s characters; Bluesky allows %(max_graphemes)s",
                        ),
                        count="graphemes",
                    ),
                    text_field,
                    params={"graphemes": graphemes, "max_graphemes": richtext.MAX_GRAPHEMES},
                )
            )
        size = richtext.utf8_length(draft.text)
        if size > richtext.MAX_BYTES:
            issues.append(
                ValidationIssue(
                    "too_many_bytes",
                    Plural(
                        Nn_(
                            "%(size)s byte of text; Bluesky allows %(max_bytes)s",
                            "%(size)s bytes of text; Bluesky allows %(max_bytes)s",
                        ),
                        count="size",
                    ),
                    text_field,
                    params={"size": size, "max_bytes": richtext.MAX_BYTES},
                )
            )
        if len(draft.media) > MAX_IMAGES:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_(
                            "%(count)s image; Bluesky allows %(max_images)s per post",
                            "%(count)s images; Bluesky allows %(max_images)s per post",
                        ),
                        count="count",
                    ),
                    f"{prefix}media",
                    params={"count": len(draft.media), "max_images": MAX_IMAGES},
                )
            )
        for index, media in enumerate(draft.media):
            issues += self._validate_media(media, field=f"{prefix}media[{index}]")
        return issues

    def _validate_media(self, media: Media, *, field: str) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        rules = self.capabilities.media
        mime = media.mime_type.lower().split(";")[0].strip()
        if mime.startswith("video/"):
            issues.append(
                ValidationIssue(
                    "video_unsupported", N_("videos cannot be posted to Bluesky yet"), field
                )
            )
        elif mime not in rules.image_types:
            allowed = ", ".join(sorted(rules.image_types))
            issues.append(
                ValidationIssue(
                    "media_type",
                    N_("%(mime_type)s is not accepted; use %(allowed)s"),
                    field,
                    params={"mime_type": mime, "allowed": allowed},
                )
            )
        if mime.startswith("video/"):
            pass  # its size does not matter: it cannot be posted at all
        elif not media.content:
            issues.append(ValidationIssue("media_empty", N_("the image is empty"), field))
        elif len(media.content) > MAX_IMAGE_BYTES:
            issues.append(
                ValidationIssue(
                    "media_too_large",
                    Plural(
                        Nn_(
                            "%(size)s byte; Bluesky allows %(max_image_bytes)s per image",
                            "%(size)s bytes; Bluesky allows %(max_image_bytes)s per image",
                        ),
                        count="size",
                    ),
                    field,
                    params={"size": len(media.content), "max_image_bytes": MAX_IMAGE_BYTES},
                )
            )
        alt = richtext.grapheme_length(media.alt_text)
        if alt > MAX_ALT_TEXT_GRAPHEMES:
            issues.append(
                ValidationIssue(
                    "alt_text_too_long",
                    Plural(
                        Nn_(
                            "alt text of %(alt)s character; Bluesky allows "
                            "%(max_alt_text_graphemes)s",
                            "alt text of %(alt)s characters; Bluesky allows "
                            "%(max_alt_text_graphemes)s",
                        ),
                        count="alt",
                    ),
                    f"{field}.alt_text",
                    params={"alt": alt, "max_alt_text_graphemes": MAX_ALT_TEXT_GRAPHEMES},
                )
            )
        return issues

    # -- publishing ------------------------------------------------------------------------------

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "Bluesky would reject this post: " + "; ".join(i.message for i in issues),
                issues=[f"{i.field}: {i.code}" for i in issues],
                network=NETWORK,
            )
        client = self._ready()
        repo = self._did()
        published: list[str] = []
        try:
            if draft.reply_to is not None:
                root, parent = self._reply_refs(client, draft.reply_to)
                first = self._create_post(client, repo, draft, reply=(root, parent))
            else:
                first = self._create_post(client, repo, draft, reply=None)
                root = first
            published.append(first.uri)
            previous = first
            for part in draft.thread:
                previous = self._create_post(client, repo, part, reply=(root, previous))
                published.append(previous.uri)
        except ProviderError as exc:
            if published:  # a thread cut short: say what exists, for reconciliation
                exc.details["published"] = list(published)
            raise
        return PublishResult(
            remote_id=first.uri,
            url=self.post_url(first.uri),
            state={"cid": first.cid, "root_uri": root.uri, "root_cid": root.cid},
            thread_ids=published[1:],
        )

    def post_url(self, uri: str, handle: str | None = None) -> str:
        did, _, rkey = split_at_uri(uri)
        if handle is None and did == self.credentials.account_id:
            handle = self.credentials.extra.get("handle")
        return f"{self.web_url}/profile/{handle or did}/post/{rkey}"

    def _reply_refs(self, client: BlueskyClient, target: RemoteRef) -> tuple[StrongRef, StrongRef]:
        """``(root, parent)`` for a reply to ``target``."""
        cid = target.extra.get("cid")
        root_uri, root_cid = target.extra.get("root_uri"), target.extra.get("root_cid")
        if cid and root_uri and root_cid:
            return StrongRef(root_uri, root_cid), StrongRef(target.remote_id, cid)
        try:
            record = client.get_record(target.remote_id)
        except ProviderError as exc:
            if exc.transient or isinstance(exc, ReauthRequired | Disconnected):
                raise
            raise InvalidPayload(
                f"the Bluesky post to reply to cannot be read ({exc.message})",
                issues=["reply_to: not_found"],
                network=NETWORK,
            ) from None
        parent = StrongRef(string(record.get("uri")) or target.remote_id, str(record.get("cid")))
        root = obj(obj(obj(record.get("value")).get("reply")).get("root"))
        if string(root.get("uri")) and string(root.get("cid")):
            return StrongRef(str(root["uri"]), str(root["cid"])), parent
        return parent, parent

    def _create_post(
        self,
        client: BlueskyClient,
        repo: str,
        draft: Draft,
        *,
        reply: tuple[StrongRef, StrongRef] | None,
    ) -> StrongRef:
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": draft.text,
            "createdAt": format_datetime(self._now()),
        }
        found = richtext.facets(draft.text, client.resolve_handle)
        if found:
            record["facets"] = [facet.as_record() for facet in found]
        if draft.media:
            images = []
            for media in draft.media:
                image: dict[str, Any] = {
                    "image": client.upload_blob(media.content, media.mime_type),
                    "alt": media.alt_text,
                }
                size = richtext.image_size(media.content)
                if size is not None:
                    image["aspectRatio"] = {"width": size[0], "height": size[1]}
                images.append(image)
            record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
        if reply is not None:
            root, parent = reply
            record["reply"] = {"root": root.as_record(), "parent": parent.as_record()}
        return client.create_record(repo, POST_COLLECTION, record)

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """The account's newest posts, read from its repository (no indexing delay), paged
        with ``listRecords``' cursor, :data:`RECORDS_PAGE` a request."""
        client, repo = self._ready(), self._did()

        def page(cursor: str | None, count: int) -> tuple[list[PublishResult], str | None]:
            records, following = client.list_records(
                repo, POST_COLLECTION, limit=count, cursor=cursor
            )
            results = []
            for item in records:
                uri, cid = string(item.get("uri")), string(item.get("cid"))
                if not uri:
                    continue
                value = obj(item.get("value"))
                results.append(
                    PublishResult(
                        remote_id=uri,
                        url=self.post_url(uri),
                        state={
                            "cid": cid or "",
                            "text": string(value.get("text")) or "",
                            "created_at": string(value.get("createdAt")) or "",
                        },
                    )
                )
            return results, following

        return collect_pages(page, limit=limit, page_size=RECORDS_PAGE, since=since)

    # -- inbound ---------------------------------------------------------------------------------

    def fetch_messages(self, since: str | None) -> MessagePage:
        client = self._ready()
        state = _NotificationCursor.parse(since)
        floor = state.newest - OVERLAP if state.newest else None
        window: list[tuple[dict[str, Any], dt.datetime]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES if state.newest else 1):
            page, cursor = client.list_notifications(
                reasons=INBOUND_REASONS, cursor=cursor, limit=PAGE_SIZE
            )
            reached_floor = False
            for item in page:
                sort_at = parse_datetime(item.get("indexedAt"))
                if sort_at is None:
                    continue
                if floor is not None and sort_at < floor:
                    reached_floor = True
                    break
                window.append((item, sort_at))
            if reached_floor or not cursor:
                break
        if not window:  # nothing in the window: the cursor stays as it was
            return MessagePage(messages=[], cursor=since)
        newest = max(sort_at for _, sort_at in window)
        if state.newest is not None and state.newest > newest:
            newest = state.newest
        messages = []
        for item, _ in sorted(window, key=lambda pair: pair[1]):
            uri = string(item.get("uri"))
            if uri is None or _short_id(uri) in state.seen:
                continue
            message = self._message_from_notification(item)
            if message is not None:
                messages.append(message)
        seen = frozenset(
            _short_id(str(item.get("uri")))
            for item, sort_at in window
            if sort_at >= newest - OVERLAP and string(item.get("uri"))
        )
        return MessagePage(messages=messages, cursor=_NotificationCursor(newest, seen).encode())

    def _message_from_notification(self, item: dict[str, Any]) -> InboundMessage | None:
        reason = string(item.get("reason")) or ""
        kind = _KINDS.get(reason)
        if kind is None:
            return None
        message = self._message_from_post(
            uri=string(item.get("uri")),
            cid=string(item.get("cid")),
            author=obj(item.get("author")),
            record=obj(item.get("record")),
            indexed_at=string(item.get("indexedAt")),
            kind=kind,
        )
        if message is None:
            return None
        subject = string(item.get("reasonSubject"))
        raw = {**message.raw, "reason": reason, "reason_subject": subject}
        in_reply_to = message.in_reply_to or (subject if reason == "quote" else None)
        return dataclasses.replace(message, raw=raw, in_reply_to=in_reply_to)

    def _message_from_post(
        self,
        *,
        uri: str | None,
        cid: str | None,
        author: dict[str, Any],
        record: dict[str, Any],
        indexed_at: str | None,
        kind: MessageKind,
    ) -> InboundMessage | None:
        did = string(author.get("did"))
        if uri is None or did is None:
            return None
        handle = string(author.get("handle")) or did
        reply = obj(record.get("reply"))
        root, parent = obj(reply.get("root")), obj(reply.get("parent"))
        root_uri = string(root.get("uri")) or uri
        root_cid = string(root.get("cid")) or cid
        langs = record.get("langs")
        created = (
            parse_datetime(record.get("createdAt")) or parse_datetime(indexed_at) or self._now()
        )
        return InboundMessage(
            remote_id=uri,
            kind=kind,
            author=Author(
                remote_id=did,
                handle=handle,
                display_name=string(author.get("displayName")) or "",
                followers=integer(author.get("followersCount")),
            ),
            text=string(record.get("text")) or "",
            created_at=created,
            conversation_id=root_uri,
            in_reply_to=string(parent.get("uri")),
            url=self.post_url(uri, handle),
            language=langs[0]
            if isinstance(langs, list) and langs and isinstance(langs[0], str)
            else None,
            raw={
                "cid": cid,
                "root_uri": root_uri,
                "root_cid": root_cid,
                "parent_uri": string(parent.get("uri")),
                "parent_cid": string(parent.get("cid")),
                "indexed_at": indexed_at,
                "record": record,
            },
        )

    def search_posts(self, query: str, *, since: str | None = None) -> MessagePage:
        """Public posts matching ``query`` (newest first from the network, returned oldest
        first), newer than the ``since`` cursor a previous search returned."""
        client = self._ready()
        posts, _ = client.search_posts(query, since=since, limit=100)
        after = parse_datetime(since)
        newest = after
        messages = []
        for post in posts:
            indexed = parse_datetime(post.get("indexedAt"))
            if indexed is None or (after is not None and indexed <= after):
                continue
            newest = indexed if newest is None or indexed > newest else newest
            message = self._message_from_post(
                uri=string(post.get("uri")),
                cid=string(post.get("cid")),
                author=obj(post.get("author")),
                record=obj(post.get("record")),
                indexed_at=string(post.get("indexedAt")),
                kind=MessageKind.post,
            )
            if message is not None:
                messages.append(message)
        messages.sort(key=lambda m: m.created_at)
        return MessagePage(messages=messages, cursor=format_datetime(newest) if newest else since)

    # -- metrics ---------------------------------------------------------------------------------

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        client = self._ready()
        observed = self._now()
        metrics = []
        ids = list(dict.fromkeys(remote_ids))
        for start in range(0, len(ids), METRICS_BATCH):
            for post in client.get_posts(ids[start : start + METRICS_BATCH]):
                uri = string(post.get("uri"))
                if uri is None:
                    continue
                metrics.append(
                    PostMetrics(
                        remote_id=uri,
                        observed_at=observed,
                        likes=integer(post.get("likeCount")),
                        replies=integer(post.get("replyCount")),
                        reposts=integer(post.get("repostCount")),
                        quotes=integer(post.get("quoteCount")),
                    )
                )
        return metrics


__all__ = ["BlueskyProvider", "reply_target"]
