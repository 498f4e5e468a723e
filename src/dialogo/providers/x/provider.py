"""X (formerly Twitter) through the X API v2, for one account authorised with OAuth 2.0.

Connecting: the authorisation-code flow with PKCE (https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token):
the app's ``client_id`` is the channel's configuration (``config["client_id"]``; a confidential
app also has a ``client_secret``, stored encrypted in ``Credentials.extra``); the person grants
the scopes :data:`SCOPES` at ``x.com/i/oauth2/authorize``; the code is exchanged at
``api.x.com/2/oauth2/token``. Access tokens last two hours; ``offline.access`` gives a refresh
token, and X **rotates** it on every refresh (the old one stops working), so
:meth:`XProvider.refresh` returns both and the caller stores them at once.

What maps to what:

- **text** is counted the way X counts it (twitter-text's weighted length: most Latin, Greek
  and Cyrillic characters weigh 1, CJK characters and emoji 2, every URL 23) with the
  ``twitter-text-parser`` package, the official algorithm's Python port; 280 is the limit of a
  standard account;
- a **post** is ``POST /2/tweets``; up to four images (JPEG, PNG, WebP, GIF; 5 MB each) are
  uploaded first with the chunked media upload (``POST /2/media/upload`` INIT → APPEND →
  FINALIZE) and their alt text set with ``POST /2/media/metadata`` (1,000 characters at most);
  a **thread** is each following post replying to the previous one; a **reply** sets
  ``reply.in_reply_to_tweet_id``;
- a **video** (one per post, never with images; MP4 or MOV, 512 MB, 0.5 to 140 seconds: "Media
  best practices", https://docs.x.com/x-api/media/quickstart/best-practices) is uploaded the
  same way with ``media_category=tweet_video`` in segments of :data:`VIDEO_CHUNK` (X takes up
  to 5 MB each), and X then processes it: FINALIZE answers a ``processing_info`` and
  ``GET /2/media/upload?command=STATUS`` follows it (``pending`` → ``in_progress`` →
  ``succeeded`` or ``failed``). That is the provider's ``slow_media``: :meth:`publish` uploads
  and returns a ``pending`` result holding the media id, :meth:`check_status` asks STATUS
  once (a ``failed`` state is :class:`InvalidPayload` with X's error), and
  :meth:`finalise` creates the post (and its thread). The post is **always** made by
  ``finalise``, in a later, short claim of the dispatcher, never at the end of a long upload:
  a worker whose lease ran out mid-upload and another that took the variant over may both
  upload, but only the one that recorded the pending state posts. An upload longer than the
  request deadline is **resumable** (:mod:`dialogo.providers.uploads`): the segments that fit
  are sent, and an ``uploading`` checkpoint (media id, segment size, next segment index,
  ``expires_after_secs`` as a moment) comes back; :meth:`XProvider.resume_upload` goes on
  from it in the next lease (an APPEND of a segment already sent is sent again: X lets
  segments be retried). A session that is about to expire, or that X refuses on resume, is
  begun again once from INIT (the old media id is left to expire; nothing refers to it). A
  5xx or 429 mid-upload keeps the checkpoint. A video's alt text is not sent (X's metadata
  endpoint documents it for images and GIFs);
- ``remote_id`` is the post id; ``conversation_id`` X's ``conversation_id`` (the root post);
- **inbound** messages are the account's mentions (``GET /2/users/:id/mentions``, newest
  first, with the authors expanded): a mention answering one of the account's posts is a
  ``reply``, the others ``mention``. The cursor is the newest post id seen (``since_id``);
  while X pages a burst with ``next_token``, the cursor carries that token and the newest id
  of the first page until the burst is read;
- **direct messages** (scopes ``dm.read``/``dm.write``) are read from ``GET /2/dm_events`` in
  the same call, with their own cursor (:mod:`dialogo.providers.x.messaging`); the whole
  cursor is the mentions cursor, then ``#``, then the DM cursor (a cursor stored before DMs
  were read has no ``#``: its mentions position is kept and DMs start with one page). A token
  granted before the DM scopes existed here is logged and its DMs skipped, mentions still
  read: connecting the channel again grants them. A **reply** to a direct message is sent with
  ``POST /2/dm_conversations/with/:participant_id/messages``;
- **webhooks** (Account Activity API) are parsed by :mod:`dialogo.providers.x.webhook` with
  the app's consumer secret (``Credentials.extra["consumer_secret"]``);
- **metrics**: ``public_metrics`` of ``GET /2/tweets?ids=`` (impressions, likes, replies,
  reposts, quotes), up to 100 ids per request;
- **search**: ``GET /2/tweets/search/recent`` (the last seven days; needs an API tier that
  includes it);
- **reconciliation**: :meth:`recent_posts` pages ``GET /2/users/:id/tweets`` (100 a page,
  ``pagination_token``, back to the latest 3,200 posts X lists); X has no
  idempotency key for posts, and answers 403 to an exact duplicate of a recent post
  (mapped to :class:`InvalidPayload` with ``duplicate_content``).

Nothing here sleeps or retries (see :mod:`dialogo.providers.x.client`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx
from twitter_text import parse_tweet

from dialogo.core.i18n import N_, Nn_, Plural
from dialogo.providers import oauth, uploads
from dialogo.providers.base import (
    Account,
    AuthKind,
    Author,
    AuthorizationRequest,
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
from dialogo.providers.errors import (
    InsufficientScopes,
    InvalidPayload,
    OutcomeUnknown,
    ProviderError,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.fields import integer as _int
from dialogo.providers.fields import mapping as _dict
from dialogo.providers.fields import text as _str
from dialogo.providers.fields import timestamp as _time
from dialogo.providers.video import video_issues
from dialogo.providers.x import messaging
from dialogo.providers.x.client import NETWORK, XClient

log = logging.getLogger("dialogo.providers")

TEXT_LIMIT = 280
URL_LENGTH = 23
AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
TOKEN_PATH = "/2/oauth2/token"  # noqa: S105 - a path, not a secret
SCOPES = (
    "tweet.read",
    "tweet.write",
    "users.read",
    "media.write",
    "dm.read",
    "dm.write",
    "offline.access",
)
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: Videos, from "Media best practices" (docs.x.com): MP4 or MOV, at most 512 MB, 0.5 to 140
#: seconds (longer only for some accounts), one per post and not with images.
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
MAX_VIDEO_BYTES = 512 * 1024 * 1024
MIN_VIDEO_SECONDS = 0.5
MAX_VIDEO_SECONDS = 140.0
VIDEO_CHUNK = 4 * 1024 * 1024  # APPEND segments of a video (X takes up to 5 MB each)
#: STATUS states (``processing_info.state``) while X is still working on a video.
PROCESSING_STATES = frozenset({"pending", "in_progress"})
ALT_TEXT_MAX = 1000
CHUNK = 1024 * 1024  # APPEND segments (X accepts up to 5 MB each)
MAX_METRIC_IDS = 100
# GET /2/users/:id/tweets (docs.x.com, "User Posts timeline" and "Pagination"): max_results
# 5-100 a request; the next page is asked with ``pagination_token`` set to the answer's
# ``meta.next_token``, omitted on the last page; only the latest 3,200 posts are listed.
TIMELINE_PAGE = 100
TIMELINE_MIN = 5
TIMELINE_HISTORY = 3200
#: The earliest ``start_time`` the timeline takes (docs.x.com, User Posts timeline).
TIMELINE_EPOCH = dt.datetime(2010, 11, 6, tzinfo=dt.UTC)
TWEET_FIELDS = "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,lang"
USER_FIELDS = "username,name,public_metrics"


def _is_video(media: Media) -> bool:
    return media.mime_type.startswith("video/")


def _processing_info(body: Any) -> dict[str, Any]:
    """``processing_info`` of a FINALIZE or STATUS answer (v2 wraps it in ``data``)."""
    if not isinstance(body, dict):
        return {}
    data = _dict(body.get("data"))
    return _dict(data.get("processing_info") or body.get("processing_info"))


def _start_time(since: dt.datetime) -> str | None:
    """``since`` as the timeline's ``start_time`` (``YYYY-MM-DDTHH:mm:ssZ``, UTC, to the
    second: cut down, so the second it falls in is still listed); ``None`` before X's
    earliest, when the parameter would be refused and nothing is older anyway."""
    when = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
    if when < TIMELINE_EPOCH:
        return None
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_media_links(item: Mapping[str, Any]) -> str:
    """A post's text as it was sent: X appends a link to the attached media (an
    ``entities.urls`` item with a ``media_key``), which the text we sent did not have."""
    text = _str(item.get("text")) or ""
    for url in _dict(item.get("entities")).get("urls") or []:
        link = _str(url.get("url")) if isinstance(url, dict) else None
        if link and url.get("media_key") and text.rstrip().endswith(link):
            text = text.rstrip()[: -len(link)]
    return text.rstrip()


def weighted_length(text: str) -> int:
    """The length X counts for ``text`` (URLs count 23, CJK and emoji 2)."""
    return int(parse_tweet(text).weightedLength)


@dataclasses.dataclass(frozen=True)
class _Cursor:
    """``since`` = the newest id already returned; while a burst is paged, ``page`` is X's
    ``next_token`` and ``newest`` the newest id of the burst's first page."""

    since: str | None = None
    page: str | None = None
    newest: str | None = None

    def encode(self) -> str | None:
        if self.page:
            return f"{self.since or ''}|{self.page}|{self.newest or ''}"
        return self.since

    @classmethod
    def decode(cls, text: str | None) -> _Cursor:
        if not text:
            return cls()
        if "|" not in text:
            return cls(since=text)
        since, page, newest = [*text.split("|"), "", ""][:3]
        return cls(since=since or None, page=page or None, newest=newest or None)


class XProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="X",
        auth=AuthKind.oauth2_pkce,
        text_limit=TEXT_LIMIT,
        text_counting=TextCounting.weighted,
        url_length=URL_LENGTH,
        media=MediaRules(
            max_items=4,
            image_types=IMAGE_TYPES,
            video_types=VIDEO_TYPES,
            max_image_bytes=MAX_IMAGE_BYTES,
            max_video_bytes=MAX_VIDEO_BYTES,
            alt_text_max=ALT_TEXT_MAX,
            max_videos=1,
            min_video_seconds=MIN_VIDEO_SECONDS,
            max_video_seconds=MAX_VIDEO_SECONDS,
        ),
        threads=True,
        replies=True,
        direct_messages=True,
        metrics=True,
        search=True,
        slow_media=True,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "client_id",
            "App client id",
            kind=ConnectFieldKind.config,
            help="The OAuth 2.0 client id of your app in the X developer portal.",
        ),
        ConnectField(
            "client_secret",
            "App client secret",
            kind=ConnectFieldKind.extra,
            secret=True,
            required=False,
            help="Only for confidential apps (a web app with a secret).",
        ),
        ConnectField(
            "consumer_secret",
            "App consumer secret (API key secret)",
            kind=ConnectFieldKind.extra,
            secret=True,
            required=False,
            help="Only for webhooks (Account Activity API): X signs its deliveries with it. "
            "Register /webhooks/x/<channel id> as the webhook URL.",
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
        self.client = XClient(
            self.http,
            credentials.access_token,
            base_url=self.config.get("base_url", ""),
            signals=self.app_signals,
        )

    # -- auth ------------------------------------------------------------------------------------

    def _client_id(self) -> str:
        return self.config.get("client_id", "")

    def authorization_url(self, *, redirect_uri: str, state: str) -> AuthorizationRequest:
        return oauth.authorization_request(
            self.config.get("authorize_url", AUTHORIZE_URL),
            client_id=self._client_id(),
            redirect_uri=redirect_uri,
            scopes=SCOPES,
            state=state,
        )

    def _token(self, form: Mapping[str, str]) -> Credentials:
        return oauth.token_request(
            self.http,
            f"{self.client.base_url}{TOKEN_PATH}",
            form,
            network=NETWORK,
            client_id=self._client_id(),
            client_secret=self.credentials.extra.get("client_secret"),
        )

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> Credentials:
        return self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier or "",
            }
        )

    def refresh(self) -> Credentials:
        if not self.credentials.refresh_token:
            raise ReauthRequired(
                "X gave no refresh token (the offline.access scope was not granted): "
                "connect the account again",
                network=NETWORK,
            )
        return self._token(
            {"grant_type": "refresh_token", "refresh_token": self.credentials.refresh_token}
        )

    def verify(self) -> Account:
        body = self.client.get(
            "/2/users/me", operation="users/me", params={"user.fields": USER_FIELDS}
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not _str(data.get("id")):
            raise ProviderError("X answered users/me without a user", code="x_unexpected")
        metrics = _dict(data.get("public_metrics"))
        username = _str(data.get("username")) or ""
        return Account(
            remote_id=str(data["id"]),
            handle=username,
            display_name=_str(data.get("name")) or username,
            url=f"https://x.com/{username}" if username else None,
            followers=_int(metrics.get("followers_count")),
        )

    def _user_id(self) -> str:
        if self.credentials.account_id:
            return self.credentials.account_id
        return self.verify().remote_id

    # -- content ---------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        if draft.reply_to is not None and messaging.is_direct(draft.reply_to):
            return messaging.dm_issues(draft)
        issues = self._validate_post(draft, prefix="")
        for index, part in enumerate(draft.thread):
            prefix = f"thread[{index}]."
            issues += self._validate_post(part, prefix=prefix)
            if part.thread:
                issues.append(
                    ValidationIssue(
                        "nested_thread",
                        N_("a post in a thread cannot start a thread of its own"),
                        f"{prefix}thread",
                    )
                )
        return issues

    def _validate_post(self, draft: Draft, *, prefix: str) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        field = f"{prefix}text"
        if not draft.text.strip() and not draft.media:
            issues.append(ValidationIssue("empty", N_("a post needs text or images"), field))
        length = weighted_length(draft.text)
        if length > TEXT_LIMIT:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character as X counts them (links count %(url_length)s, "
                            "emoji and CJK characters 2); X allows %(text_limit)s",
                            "%(length)s characters as X counts them (links count %(url_length)s, "
                            "emoji and CJK characters 2); X allows %(text_limit)s",
                        ),
                        count="length",
                    ),
                    field,
                    params={"length": length, "url_length": URL_LENGTH, "text_limit": TEXT_LIMIT},
                )
            )
        if len(draft.media) > 4:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_("%(count)s image; X allows 4", "%(count)s images; X allows 4"),
                        count="count",
                    ),
                    f"{prefix}media",
                    params={"count": len(draft.media)},
                )
            )
        issues += video_issues(draft.media, self.capabilities.media, network="X", prefix=prefix)
        if prefix and any(_is_video(m) for m in draft.media):
            issues.append(
                ValidationIssue(
                    "media_type", N_("a video goes in the first post of a thread"), f"{prefix}media"
                )
            )
        for index, media in enumerate(draft.media):
            if not _is_video(media):
                issues += self._validate_media(media, f"{prefix}media[{index}]")
        return issues

    def _validate_media(self, media: Media, field: str) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        if media.mime_type not in IMAGE_TYPES:
            issues.append(
                ValidationIssue(
                    "media_type",
                    N_("%(mime_type)s is not supported (JPEG, PNG, WebP, GIF)"),
                    field,
                    params={"mime_type": media.mime_type},
                )
            )
        if len(media.content) > MAX_IMAGE_BYTES:
            issues.append(
                ValidationIssue("media_too_large", N_("an image is larger than 5 MB"), field)
            )
        if len(media.alt_text) > ALT_TEXT_MAX:
            issues.append(
                ValidationIssue(
                    "alt_text_too_long",
                    Plural(
                        Nn_(
                            "alt text is %(length)s character; X allows %(alt_text_max)s",
                            "alt text is %(length)s characters; X allows %(alt_text_max)s",
                        ),
                        count="length",
                    ),
                    f"{field}.alt_text",
                    params={"length": len(media.alt_text), "alt_text_max": ALT_TEXT_MAX},
                )
            )
        return issues

    def _upload(self, media: Media) -> str:
        """An image or GIF: INIT → APPEND segments → FINALIZE (small: one request deadline);
        its alt text set after. The media id."""
        category = "tweet_gif" if media.mime_type == "image/gif" else "tweet_image"
        media_id, _expires = self._init(media, category)
        for segment, start in enumerate(range(0, max(len(media.content), 1), CHUNK)):
            self._append(media_id, segment, media, media.content[start : start + CHUNK])
        self._finalize(media_id)
        if media.alt_text:
            self.client.post(
                "/2/media/metadata",
                operation="media/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": media.alt_text}}},
            )
        return media_id

    def _init(self, media: Media, category: str) -> tuple[str, int | None]:
        """INIT: the media id and how long X keeps the session (``expires_after_secs``)."""
        init = self.client.post(
            "/2/media/upload",
            operation="media/upload INIT",
            multipart=True,
            data={
                "command": "INIT",
                "media_type": media.mime_type,
                "total_bytes": str(len(media.content)),
                "media_category": category,
            },
        )
        data = _dict(init.get("data")) if isinstance(init, dict) else {}
        media_id = _str(data.get("id"))
        if media_id is None:
            raise ProviderError("X answered the media upload without an id", code="x_unexpected")
        return media_id, _int(data.get("expires_after_secs"))

    def _append(self, media_id: str, segment: int, media: Media, part: bytes) -> None:
        self.client.post(
            "/2/media/upload",
            operation="media/upload APPEND",
            multipart=True,
            data={"command": "APPEND", "media_id": media_id, "segment_index": str(segment)},
            files=[("media", (media.filename or "media", part, media.mime_type))],
        )

    def _finalize(self, media_id: str) -> dict[str, Any]:
        """FINALIZE; its ``processing_info`` (empty when X has nothing to process)."""
        done = self.client.post(
            "/2/media/upload",
            operation="media/upload FINALIZE",
            multipart=True,
            data={"command": "FINALIZE", "media_id": media_id},
        )
        return _processing_info(done)

    def _video_session(self, media: Media) -> dict[str, str]:
        """A new upload session for a video (INIT), as its checkpoint: the media id, the
        segment size (kept, so a resumed upload cuts the file the same way), the next
        segment, the file's size and when X forgets the session."""
        media_id, lasts = self._init(media, "tweet_video")
        return {
            "media_id": media_id,
            "chunk": str(VIDEO_CHUNK),
            "next_segment": "0",
            "total_bytes": str(len(media.content)),
            "expires_at": uploads.expires_at(lasts),
        }

    def _send_video(
        self, media: Media, checkpoint: Mapping[str, str] | None
    ) -> tuple[dict[str, str], dict[str, Any] | None]:
        """Send the video's segments from ``checkpoint`` (a new session when there is none,
        or it is for other bytes, or X is about to forget it) while they fit in the request
        deadline, then FINALIZE. The session and FINALIZE's ``processing_info``; ``None``
        when the deadline came first (the session is then the checkpoint to resume from).

        A resumed session X refuses (4xx: it expired, or X lost it) is begun again once,
        cleanly, with a new INIT: the old media id is left to expire, nothing refers to it."""
        return uploads.resume(
            checkpoint,
            network=NETWORK,
            key="media_id",
            size=len(media.content),
            begin=lambda: self._video_session(media),
            send=lambda session, budget: self._send_segments(media, session, budget),
        )

    def _send_segments(
        self, media: Media, session: dict[str, str], budget: uploads.PartBudget
    ) -> dict[str, Any] | None:
        chunk = int(session["chunk"])
        count = max(1, -(-len(media.content) // chunk))
        for segment in range(int(session["next_segment"]), count):
            if not budget.fits():
                budget.pause(NETWORK, session)
                return None
            start = segment * chunk
            with budget.part():
                try:
                    self._append(
                        session["media_id"], segment, media, media.content[start : start + chunk]
                    )
                except OutcomeUnknown as exc:  # APPEND posts nothing: send the segment again
                    raise TransientError(exc.message, network=NETWORK) from exc
            session["next_segment"] = str(segment + 1)
        if not budget.fits(final=True):
            budget.pause(NETWORK, session)
            return None
        try:
            return self._finalize(session["media_id"])
        except OutcomeUnknown as exc:  # FINALIZE posts nothing either
            raise TransientError(exc.message, network=NETWORK) from exc

    def _create(
        self, draft: Draft, reply_to: str | None, media_ids: Sequence[str] | None = None
    ) -> str:
        payload: dict[str, Any] = {"text": draft.text}
        if media_ids is None and draft.media:
            media_ids = [self._upload(m) for m in draft.media]
        if media_ids:
            payload["media"] = {"media_ids": list(media_ids)}
        if reply_to:
            payload["reply"] = {"in_reply_to_tweet_id": reply_to}
        body = self.client.post("/2/tweets", operation="tweets", json=payload)
        post_id = _str((body.get("data") or {}).get("id")) if isinstance(body, dict) else None
        if post_id is None:
            raise ProviderError("X answered the post without an id", code="x_unexpected")
        return post_id

    def post_url(self, post_id: str) -> str:
        handle = self.credentials.extra.get("username") or "i/web"
        return f"https://x.com/{handle}/status/{post_id}"

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "X would reject this post: " + "; ".join(i.message for i in issues),
                issues=[f"{i.field}: {i.code}" for i in issues],
                network=NETWORK,
            )
        reply_to = draft.reply_to.remote_id if draft.reply_to else None
        video = next((m for m in draft.media if _is_video(m)), None)
        if video is None:
            return self._post_all(draft, reply_to)
        return self._video_result(draft, *self._send_video(video, None))

    def resume_upload(self, checkpoint: PublishResult, draft: Draft) -> PublishResult:
        """Go on with a video upload from its checkpoint (see :mod:`dialogo.providers.uploads`)."""
        video = next((m for m in draft.media if _is_video(m)), None)
        if video is None:
            return self.publish(draft)
        return self._video_result(draft, *self._send_video(video, checkpoint.state))

    def _video_result(
        self, draft: Draft, session: Mapping[str, str], processing: Mapping[str, Any] | None
    ) -> PublishResult:
        if processing is None:  # the deadline came first: the checkpoint, nothing posted
            return PublishResult(remote_id=None, pending=True, uploading=True, state=dict(session))
        state = {
            "media_id": session["media_id"],
            "text": draft.text,
            "reply_to": draft.reply_to.remote_id if draft.reply_to else "",
            "thread": json.dumps([part.text for part in draft.thread]),
        }
        # Always pending, even when FINALIZE says X is done: the post is made by ``finalise``
        # in a short claim of its own (see the module docstring).
        pending = PublishResult(remote_id=None, pending=True, state=state)
        return self._after_processing(pending, processing)

    def _post_all(
        self, draft: Draft, reply_to: str | None, media_ids: Sequence[str] | None = None
    ) -> PublishResult:
        published: list[str] = []
        try:
            first = self._create(draft, reply_to, media_ids)
            published.append(first)
            for part in draft.thread:
                published.append(self._create(part, published[-1]))
        except ProviderError as exc:
            if published:  # a thread cut short: say what exists, for reconciliation
                exc.details["published"] = list(published)
            raise
        return PublishResult(
            remote_id=first,
            url=self.post_url(first),
            state={"text": draft.text},
            thread_ids=published[1:],
        )

    @staticmethod
    def _after_processing(pending: PublishResult, processing: Mapping[str, Any]) -> PublishResult:
        """``pending`` as X's ``processing_info`` leaves it: still pending, or raising
        :class:`InvalidPayload` when X could not process the video. The state notes X's
        last word (``processing``) and its ``check_after_secs``."""
        state = _str(processing.get("state")) or "succeeded"
        if state == "failed":
            error = _dict(processing.get("error"))
            reason = _str(error.get("message")) or _str(error.get("name")) or "no reason given"
            raise InvalidPayload(
                f"X could not process the video ({reason})",
                issues=["video_processing_failed"],
                network=NETWORK,
                media_id=pending.state.get("media_id", ""),
            )
        extra = {"processing": state}
        wait = _int(processing.get("check_after_secs"))
        if wait is not None:
            extra["check_after_secs"] = str(wait)
        return dataclasses.replace(pending, state={**pending.state, **extra})

    def check_status(self, pending: PublishResult) -> PublishResult:
        """One STATUS request about the video being processed (never a wait)."""
        if pending.state.get("processing") not in PROCESSING_STATES:
            return dataclasses.replace(pending, pending=False)  # FINALIZE said it was done
        media_id = pending.state.get("media_id", "")
        body = self.client.get(
            "/2/media/upload",
            operation="media/upload STATUS",
            params={"command": "STATUS", "media_id": media_id},
        )
        checked = self._after_processing(pending, _processing_info(body))
        if checked.state["processing"] in PROCESSING_STATES:
            return checked
        return dataclasses.replace(checked, pending=False)

    def finalise(self, ready: PublishResult) -> PublishResult:
        """Create the post (and its thread) with the processed video."""
        try:
            texts = json.loads(ready.state.get("thread") or "[]")
        except ValueError:
            texts = []
        draft = Draft(
            text=ready.state.get("text", ""),
            thread=[Draft(text=str(t)) for t in texts if isinstance(t, str)],
        )
        return self._post_all(
            draft, ready.state.get("reply_to") or None, [ready.state.get("media_id", "")]
        )

    def reply(self, target: RemoteRef, draft: Draft) -> PublishResult:
        if messaging.is_direct(target):
            return messaging.send_direct(self.client, target, draft)
        return self.publish(dataclasses.replace(draft, reply_to=target))

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        return self._timeline(limit, since)

    def _timeline(
        self, limit: int, since: dt.datetime | None, *, start_time: dt.datetime | None = None
    ) -> RecentPosts:
        """The account's posts (``GET /2/users/:id/tweets``), newest first; with
        ``start_time``, only those X dates from it on (its documented ``start_time``: the
        oldest UTC time of the posts answered, inclusive, to the second)."""
        user_id = self._user_id()
        start = _start_time(start_time) if start_time is not None else None

        def page(cursor: str | None, count: int) -> tuple[list[PublishResult], str | None]:
            params: dict[str, str | int] = {
                "max_results": max(TIMELINE_MIN, count),
                "tweet.fields": "created_at,entities",
            }
            if start:
                params["start_time"] = start
            if cursor:
                params["pagination_token"] = cursor
            body = self.client.get(
                f"/2/users/{user_id}/tweets", operation="users/tweets", params=params
            )
            results = []
            for item in body.get("data") or [] if isinstance(body, dict) else []:
                if isinstance(item, dict) and _str(item.get("id")):
                    results.append(
                        PublishResult(
                            remote_id=str(item["id"]),
                            url=self.post_url(str(item["id"])),
                            state={
                                "text": _without_media_links(item),
                                "created_at": _str(item.get("created_at")) or "",
                            },
                        )
                    )
            meta = body.get("meta") if isinstance(body, dict) else None
            return results, _str(meta.get("next_token")) if isinstance(meta, dict) else None

        listing = collect_pages(page, limit=limit, page_size=TIMELINE_PAGE, since=since)
        if listing.exhausted and len(listing) >= TIMELINE_HISTORY:
            # The end of what X lists, not of the account: older posts may exist.
            return dataclasses.replace(listing, exhausted=False)
        return listing

    def recent_replies(
        self, target: RemoteRef, *, limit: int = 20, since: dt.datetime | None = None
    ) -> list[PublishResult]:
        """Our messages in the direct conversation of a direct message; for a post, the
        account's recent posts (a reply on X is a post). With ``since``, the timeline is asked
        from then on (``start_time``); the direct messages' listing has no time parameter
        (``GET /2/dm_conversations/…/dm_events``), so the older ones are left out here."""
        if messaging.is_direct(target):
            found = messaging.recent_direct(self.client, self._user_id(), target, limit)
            return made_since(found, since)
        if since is None:
            return list(self.recent_posts(limit=limit))
        return made_since(self._timeline(limit, since, start_time=since), since)

    # -- inbound ---------------------------------------------------------------------------------

    def fetch_messages(self, since: str | None) -> MessagePage:
        mentions_part, _sep, dm_part = (since or "").partition("#")
        page = self._fetch_mentions(mentions_part or None)
        me = self._user_id()
        dm_cursor = messaging.DmCursor.decode(dm_part)
        try:
            direct = messaging.fetch_direct(self.client, me, dm_cursor, USER_FIELDS)
        except InsufficientScopes as exc:
            log.warning(
                "x: direct messages not read, the token lacks dm.read (connect the channel "
                "again): %s",
                exc.message,
            )
            direct = messaging.DmPage([], dm_cursor)
        return MessagePage(
            messages=[*page.messages, *direct.messages],
            cursor=f"{page.cursor or ''}#{direct.cursor.encode()}",
        )

    def _fetch_mentions(self, since: str | None) -> MessagePage:
        cursor = _Cursor.decode(since)
        me = self._user_id()
        params: dict[str, str | int] = {
            "max_results": 100,
            "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": USER_FIELDS,
        }
        if cursor.since:
            params["since_id"] = cursor.since
        if cursor.page:
            params["pagination_token"] = cursor.page
        body = self.client.get(f"/2/users/{me}/mentions", operation="users/mentions", params=params)
        body = body if isinstance(body, dict) else {}
        messages = self._messages(body, me)
        meta = _dict(body.get("meta"))
        newest = cursor.newest or _str(meta.get("newest_id"))
        next_token = _str(meta.get("next_token"))
        if next_token:
            following = _Cursor(since=cursor.since, page=next_token, newest=newest)
        else:
            following = _Cursor(since=newest or cursor.since)
        return MessagePage(messages=messages, cursor=following.encode())

    def _messages(self, body: Mapping[str, Any], me: str) -> list[InboundMessage]:
        includes = _dict(body.get("includes"))
        users: dict[str, dict[str, Any]] = {
            str(u["id"]): u
            for u in includes.get("users") or []
            if isinstance(u, dict) and _str(u.get("id"))
        }
        messages = []
        for item in body.get("data") or []:
            message = self._inbound(item, users, me) if isinstance(item, dict) else None
            if message is not None:
                messages.append(message)
        return messages

    def _inbound(
        self, item: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], me: str
    ) -> InboundMessage | None:
        post_id, author_id = _str(item.get("id")), _str(item.get("author_id"))
        created = _time(item.get("created_at"))
        if post_id is None or author_id is None or created is None:
            return None  # not a post X documents; nothing to answer
        user = users.get(author_id, {})
        metrics = _dict(user.get("public_metrics"))
        replied_to = next(
            (
                _str(ref.get("id"))
                for ref in item.get("referenced_tweets") or []
                if isinstance(ref, dict) and ref.get("type") == "replied_to"
            ),
            None,
        )
        kind = (
            MessageKind.reply
            if replied_to and _str(item.get("in_reply_to_user_id")) == me
            else MessageKind.mention
        )
        handle = _str(user.get("username")) or author_id
        return InboundMessage(
            remote_id=post_id,
            kind=kind,
            author=Author(
                remote_id=author_id,
                handle=handle,
                display_name=_str(user.get("name")) or handle,
                followers=_int(metrics.get("followers_count")),
            ),
            text=_str(item.get("text")) or "",
            created_at=created,
            conversation_id=_str(item.get("conversation_id")),
            in_reply_to=replied_to,
            url=f"https://x.com/{handle}/status/{post_id}",
            language=_str(item.get("lang")),
            raw=dict(item),
        )

    def search_posts(self, query: str, *, since: str | None = None) -> MessagePage:
        params: dict[str, str | int] = {
            "query": query,
            "max_results": 100,
            "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": USER_FIELDS,
        }
        if since:
            params["since_id"] = since
        body = self.client.get("/2/tweets/search/recent", operation="search/recent", params=params)
        body = body if isinstance(body, dict) else {}
        messages = [
            dataclasses.replace(m, kind=MessageKind.post) for m in self._messages(body, me="")
        ]
        meta = _dict(body.get("meta"))
        return MessagePage(messages=messages, cursor=_str(meta.get("newest_id")) or since)

    # -- metrics ---------------------------------------------------------------------------------

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        now = dt.datetime.now(dt.UTC)
        results: list[PostMetrics] = []
        ids = [i for i in dict.fromkeys(remote_ids) if i]
        for start in range(0, len(ids), MAX_METRIC_IDS):
            body = self.client.get(
                "/2/tweets",
                operation="tweets lookup",
                params={
                    "ids": ",".join(ids[start : start + MAX_METRIC_IDS]),
                    "tweet.fields": "public_metrics",
                },
            )
            for item in (body.get("data") or []) if isinstance(body, dict) else []:
                if not isinstance(item, dict) or not _str(item.get("id")):
                    continue
                m = _dict(item.get("public_metrics"))
                results.append(
                    PostMetrics(
                        remote_id=str(item["id"]),
                        observed_at=now,
                        impressions=_int(m.get("impression_count")),
                        likes=_int(m.get("like_count")),
                        replies=_int(m.get("reply_count")),
                        reposts=_int(m.get("retweet_count")),
                        quotes=_int(m.get("quote_count")),
                    )
                )
        return results
