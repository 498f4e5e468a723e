"""Instagram professional accounts through the Instagram API with Instagram Login
(``graph.instagram.com``; https://developers.facebook.com/docs/instagram-platform).

Connecting: OAuth 2 without PKCE (Business Login for Instagram): the app's ``client_id``
(config) and ``client_secret`` (encrypted extra); the person grants :data:`SCOPES` at
``www.instagram.com/oauth/authorize``; the code is exchanged at
``api.instagram.com/oauth/access_token`` for a short-lived token, which is at once exchanged
for a long-lived one (60 days, ``grant_type=ig_exchange_token``) and later refreshed with
``grant_type=ig_refresh_token`` (a token can be refreshed once it is a day old).

Publishing is the container dance Meta documents, and the reason this provider is
``slow_media``: Instagram fetches every file itself from a **public URL** (``Media.url``;
bytes cannot be uploaded), so

1. ``POST /<ig-user>/media`` creates a container per image (``image_url``, ``alt_text``;
   ``is_carousel_item`` for an album) or per video (``media_type=REELS``, ``video_url``), and
   for an album a parent (``media_type=CAROUSEL``, ``children``) with the caption;
2. ``GET /<container>?fields=status_code`` says ``IN_PROGRESS``, ``FINISHED``, ``ERROR``,
   ``EXPIRED`` (after 24 hours) or ``PUBLISHED``;
3. ``POST /<ig-user>/media_publish?creation_id=<container>`` publishes a finished one.

:meth:`InstagramProvider.publish` does 1, checks once, and either publishes (images are
usually ready at once) or returns a ``pending`` result holding the container;
:meth:`check_status` and :meth:`finalise` do 2 and 3 later. A container that ended in
``ERROR``/``EXPIRED`` raises :class:`InvalidPayload` with Instagram's status.

What maps to what: a **caption** up to 2,200 characters with at most 30 hashtags and 20
@mentions; JPEG images only (8 MB), up to 10 in an album; one video as a reel. A **reply**
answers a comment (``POST /<comment>/replies``). **Inbound** messages are the comments on
the account's 10 most recent posts, newer than the cursor (the newest comment time seen),
and the **direct messages** of the Conversations API
(``GET /<ig-user>/conversations?platform=instagram``) newer than the same cursor; both are
also pushed by the Meta webhook intake (:mod:`dialogo.providers.meta.webhook`). An answer to a
direct message is a Send API message (``POST /<ig-user>/messages``) inside Meta's messaging
window (``RESPONSE`` within 24 hours, the ``HUMAN_AGENT`` tag within 7 days, refused after;
see :mod:`dialogo.providers.meta.messaging`). **@mentions** in other people's captions and
comments come by the Meta webhook with ids only; :meth:`InstagramProvider.fetch_mention` reads
their content through the IG User's ``mentioned_media.media_id(<id>){…}`` and
``mentioned_comment.comment_id(<id>){…}`` fields (Meta's "Mentioned Media" and "IG User
Mentioned Comment" references), called by a job (:mod:`dialogo.inbox.instagram_mentions`).
An **answer to an @mention** (a message whose reference says ``mention``, with its
``media_id`` and, for a comment, ``comment_id``) is a comment made through
``POST /<ig-user>/mentions`` with ``media_id`` (+ ``comment_id``) and ``message`` (Meta's "IG
User Mentions" reference): on the caption's media, or as a sub-thread comment under the
mentioning comment.

**Which host serves the mentions** (checked against Meta's docs, December 2026): the Instagram
API with *Facebook* Login (``graph.facebook.com``) documents both the reads
(``mentioned_media``, ``mentioned_comment``) and the answer (``POST /<ig-user>/mentions``).
The Instagram API with *Instagram* Login (``graph.instagram.com``, this provider's default)
documents only ``GET /<IG_ID>/tags`` and ``POST /<IG_ID>/mentions`` in its "Mentions" guide:
answering is served, the reads are not documented there. So on a channel using
``graph.instagram.com`` :meth:`InstagramProvider.fetch_mention` still asks (an undocumented
field may be served), and when Meta refuses (an unknown field or a missing permission) raises
:class:`InvalidPayload` naming the host and the way out (the job quarantines the mention with
that reason and its ids: a person can open it on Instagram); a channel configured with
``graph_url = https://graph.facebook.com`` (an Instagram account reached through its Facebook
Page's token) reads them as documented. Partial: the connect form offers Instagram Login only.
**Metrics** come from ``/<media>/insights`` (views, reach, likes, comments, shares).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from dialogo.core.i18n import N_, Nn_, Plural
from dialogo.providers import oauth
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
    ValidationIssue,
    made_since,
)
from dialogo.providers.errors import (
    InsufficientScopes,
    InvalidPayload,
    ProviderError,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.fields import text as _str
from dialogo.providers.fields import timestamp as _time
from dialogo.providers.http import send_raw
from dialogo.providers.meta import messaging
from dialogo.providers.meta.graph import GraphClient, error_for, listed_posts
from dialogo.providers.meta.webhook import VERIFY_TOKEN_FIELD

NETWORK = "instagram"
GRAPH_URL = "https://graph.instagram.com"
AUTHORIZE_URL = "https://www.instagram.com/oauth/authorize"
TOKEN_URL = "https://api.instagram.com/oauth/access_token"  # noqa: S105 - an address
SCOPES = (
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
    "instagram_business_manage_messages",
)
#: "text … must be UTF-8 and less than 1000 bytes" (Instagram API, Send Messages).
MESSAGE_BYTES = 1000
CAPTION_LIMIT = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
MAX_ITEMS = 10
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_VIDEO_BYTES = 300 * 1024 * 1024
RECENT_MEDIA = 10
#: The most media one request of :meth:`InstagramProvider.recent_posts` asks for: the size this
#: provider always asked for (Meta documents no maximum for the edge and may answer fewer;
#: the pages are followed by their cursor, never taken as the whole listing).
MEDIA_PAGE = 100
INSIGHTS = "views,reach,likes,comments,shares"
#: IG Media fields of a caption that mentions the account ("Mentioned Media": caption,
#: media_type, timestamp, username, permalink…).
MENTIONED_MEDIA_FIELDS = "id,caption,media_type,media_url,permalink,timestamp,username"
#: IG Comment fields of a comment that mentions it ("IG User Mentioned Comment": id, text,
#: timestamp, like_count, media — expanded —; username as on every IG Comment).
MENTIONED_COMMENT_FIELDS = "id,text,timestamp,like_count,username,media{id,permalink,username}"
#: The host of the Instagram API with Instagram Login (no mentioned_media/_comment reads).
INSTAGRAM_LOGIN_HOST = "graph.instagram.com"
#: A mention's kinds in a message's reference (``raw["mention"]``).
MENTION_KINDS = frozenset({"caption", "comment"})
_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<![\w@])@[\w.]+")


class InstagramProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="Instagram",
        auth=AuthKind.oauth2,
        text_limit=CAPTION_LIMIT,
        max_hashtags=MAX_HASHTAGS,
        media=MediaRules(
            max_items=MAX_ITEMS,
            image_types=frozenset({"image/jpeg"}),
            video_types=frozenset({"video/mp4", "video/quicktime"}),
            max_image_bytes=MAX_IMAGE_BYTES,
            max_video_bytes=MAX_VIDEO_BYTES,
            alt_text_max=None,
        ),
        threads=False,
        replies=True,
        direct_messages=True,
        metrics=True,
        slow_media=True,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "client_id",
            "Instagram app id",
            kind=ConnectFieldKind.config,
            help="The Instagram app id of your Meta app (API setup with Instagram login).",
        ),
        ConnectField(
            "client_secret",
            "Instagram app secret",
            kind=ConnectFieldKind.extra,
            secret=True,
            help="The Instagram app secret shown next to it.",
        ),
        VERIFY_TOKEN_FIELD,
    )

    def __init__(
        self,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        super().__init__(credentials, http=http, config=config)
        self.graph = GraphClient(
            self.http,
            credentials.access_token,
            network=NETWORK,
            base_url=self.config.get("graph_url", GRAPH_URL),
            version=self.config.get("graph_version", ""),
            signals=self.app_signals,
        )
        self._own: frozenset[str] | None = None

    # -- auth ------------------------------------------------------------------------------------

    def authorization_url(self, *, redirect_uri: str, state: str) -> AuthorizationRequest:
        return oauth.authorization_request(
            self.config.get("authorize_url", AUTHORIZE_URL),
            client_id=self.config.get("client_id", ""),
            redirect_uri=redirect_uri,
            scopes=SCOPES,
            state=state,
            pkce=False,
            scope_separator=",",
        )

    def _token_get(self, path: str, params: Mapping[str, str], operation: str) -> Credentials:
        request = self.http.build_request(
            "GET", f"{self.graph.base_url}/{path}", params=dict(params)
        )
        response = send_raw(self.http, request, network=NETWORK)
        if response.status_code >= 400:
            raise error_for(response, network=NETWORK, operation=operation)
        return oauth.credentials_from_token(
            response.json(), now=dt.datetime.now(dt.UTC), network=NETWORK
        )

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> Credentials:
        secret = self.credentials.extra.get("client_secret", "")
        if not secret:
            raise ReauthRequired("the Instagram app secret is missing", network=NETWORK)
        request = self.http.build_request(
            "POST",
            self.config.get("token_url", TOKEN_URL),
            data={
                "client_id": self.config.get("client_id", ""),
                "client_secret": secret,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        response = send_raw(self.http, request, network=NETWORK)
        if response.status_code >= 400:
            error = error_for(response, network=NETWORK, operation="oauth/access_token")
            if isinstance(error, TransientError):
                raise error
            raise ReauthRequired(
                f"Instagram refused the authorisation code: {error.message}", network=NETWORK
            )
        body = response.json()
        # The answer is {"data": [{"access_token", "user_id", "permissions"}]} (older apps
        # get the object itself).
        entry = body["data"][0] if isinstance(body.get("data"), list) and body["data"] else body
        short = _str(entry.get("access_token")) if isinstance(entry, dict) else None
        if short is None:
            raise TransientError("Instagram answered without an access token", network=NETWORK)
        user_id = entry.get("user_id")
        long_lived = self._token_get(
            "access_token",
            {"grant_type": "ig_exchange_token", "client_secret": secret, "access_token": short},
            "access_token (long-lived)",
        )
        return Credentials(
            access_token=long_lived.access_token,
            expires_at=long_lived.expires_at,
            account_id=str(user_id) if user_id is not None else None,
        )

    def refresh(self) -> Credentials:
        token = self.credentials.access_token
        if not token:
            raise ReauthRequired("no Instagram token to refresh", network=NETWORK)
        renewed = self._token_get(
            "refresh_access_token",
            {"grant_type": "ig_refresh_token", "access_token": token},
            "refresh_access_token",
        )
        return Credentials(access_token=renewed.access_token, expires_at=renewed.expires_at)

    def verify(self) -> Account:
        me = self.graph.get(
            "me",
            operation="me",
            params={"fields": "user_id,username,name,followers_count"},
        )
        user_id = _str(str(me.get("user_id") or me.get("id") or ""))
        if user_id is None:
            raise ProviderError("Instagram answered /me without an id", code="instagram_unexpected")
        username = _str(me.get("username")) or user_id
        followers = me.get("followers_count")
        return Account(
            remote_id=user_id,
            handle=username,
            display_name=_str(me.get("name")) or username,
            url=f"https://www.instagram.com/{username}/",
            followers=followers if isinstance(followers, int) else None,
        )

    def _user(self) -> str:
        return self.credentials.account_id or self.verify().remote_id

    def _own_ids(self) -> frozenset[str]:
        """Every id (and the username) the account appears under in conversations: the
        Conversations API and the webhooks name it by its professional account id
        (``/me`` ``user_id``), which need not be the id the login answered
        (``account_id``). Read once per provider, and only when a direct message needs it."""
        if self._own is None:
            me = self.graph.get("me", operation="me", params={"fields": "user_id,username"})
            values = (
                self.credentials.account_id,
                _str(str(me.get("user_id") or "")),
                _str(str(me.get("id") or "")),
                _str(me.get("username")),
            )
            self._own = frozenset(v for v in values if v)
        return self._own

    # -- validation ------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        if draft.thread:
            issues.append(ValidationIssue("threads", N_("Instagram has no threads"), "thread"))
        if len(draft.text) > CAPTION_LIMIT:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character; an Instagram caption holds %(caption_limit)s",
                            "%(length)s characters; an Instagram caption holds %(caption_limit)s",
                        ),
                        count="length",
                    ),
                    params={"length": len(draft.text), "caption_limit": CAPTION_LIMIT},
                )
            )
        if len(_HASHTAG.findall(draft.text)) > MAX_HASHTAGS:
            issues.append(
                ValidationIssue(
                    "too_many_hashtags",
                    Plural(
                        Nn_(
                            "Instagram allows %(max_hashtags)s hashtag",
                            "Instagram allows %(max_hashtags)s hashtags",
                        ),
                        count="max_hashtags",
                    ),
                    params={"max_hashtags": MAX_HASHTAGS},
                )
            )
        if len(_MENTION.findall(draft.text)) > MAX_MENTIONS:
            issues.append(
                ValidationIssue(
                    "too_many_mentions",
                    Plural(
                        Nn_(
                            "Instagram allows %(max_mentions)s @mention",
                            "Instagram allows %(max_mentions)s @mentions",
                        ),
                        count="max_mentions",
                    ),
                    params={"max_mentions": MAX_MENTIONS},
                )
            )
        if draft.reply_to is not None and messaging.is_direct(draft.reply_to):
            return self._direct_issues(draft) + messaging.window_issues(
                draft.reply_to, dt.datetime.now(dt.UTC), network=NETWORK
            )
        if draft.reply_to is not None:  # a reply to a comment: text only
            if not draft.text.strip():
                issues.append(ValidationIssue("empty", N_("a reply needs text")))
            if draft.media:
                issues.append(
                    ValidationIssue("media", N_("a reply to a comment cannot carry media"), "media")
                )
            return issues
        if not draft.media:
            issues.append(
                ValidationIssue(
                    "needs_media", N_("an Instagram post needs an image or a video"), "media"
                )
            )
        if len(draft.media) > MAX_ITEMS:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_(
                            "%(count)s item; an album holds %(max_items)s",
                            "%(count)s items; an album holds %(max_items)s",
                        ),
                        count="count",
                    ),
                    "media",
                    params={"count": len(draft.media), "max_items": MAX_ITEMS},
                )
            )
        videos = [m for m in draft.media if m.mime_type.startswith("video/")]
        if videos and len(draft.media) > 1:
            issues.append(
                ValidationIssue(
                    "media_mix",
                    N_("a video is published alone, as a reel (albums are images)"),
                    "media",
                )
            )
        for index, media in enumerate(draft.media):
            issues += self._validate_media(media, f"media[{index}]")
        return issues

    @staticmethod
    def _direct_issues(draft: Draft) -> list[ValidationIssue]:
        issues = []
        if not draft.text.strip():
            issues.append(ValidationIssue("empty", N_("a message needs text")))
        size = len(draft.text.encode())
        if size >= MESSAGE_BYTES:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(size)s byte; an Instagram message holds less than %(message_bytes)s",
                            "%(size)s bytes; an Instagram message holds less than "
                            "%(message_bytes)s",
                        ),
                        count="size",
                    ),
                    params={"size": size, "message_bytes": MESSAGE_BYTES},
                )
            )
        if draft.media or draft.thread:
            issues.append(
                ValidationIssue(
                    "media", N_("an answer to a direct message is text only here"), "media"
                )
            )
        return issues

    def _validate_media(self, media: Media, field: str) -> list[ValidationIssue]:
        rules = self.capabilities.media
        issues = []
        if media.mime_type.startswith("video/"):
            if media.mime_type not in rules.video_types:
                issues.append(ValidationIssue("media_type", N_("videos must be MP4 or MOV"), field))
            elif len(media.content) > MAX_VIDEO_BYTES:
                issues.append(
                    ValidationIssue("media_too_large", N_("a reel is at most 300 MB"), field)
                )
        elif media.mime_type not in rules.image_types:
            issues.append(
                ValidationIssue(
                    "media_type",
                    N_("%(mime_type)s: Instagram takes JPEG only"),
                    field,
                    params={"mime_type": media.mime_type},
                )
            )
        elif len(media.content) > MAX_IMAGE_BYTES:
            issues.append(ValidationIssue("media_too_large", N_("an image is at most 8 MB"), field))
        if not (media.url or "").startswith("https://"):
            issues.append(
                ValidationIssue(
                    "media_url_required",
                    N_(
                        "Instagram fetches media from a public https address, and this one has none"
                    ),
                    f"{field}.url",
                )
            )
        return issues

    # -- publishing ------------------------------------------------------------------------------

    def _container(self, fields: Mapping[str, str]) -> str:
        body = self.graph.post(f"{self._user()}/media", operation="media", data=fields)
        container = _str(str(body.get("id") or ""))
        if container is None:
            raise ProviderError("Instagram created no container", code="instagram_unexpected")
        return container

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "Instagram would reject this post: " + "; ".join(i.message for i in issues),
                issues=[f"{i.field}: {i.code}" for i in issues],
                network=NETWORK,
            )
        if draft.reply_to is not None:
            return self.reply(draft.reply_to, draft)
        media = list(draft.media)
        if len(media) == 1 and media[0].mime_type.startswith("video/"):
            fields = {"media_type": "REELS", "video_url": media[0].url or "", "caption": draft.text}
            container = self._container(fields)
        elif len(media) == 1:
            container = self._container(self._image_fields(media[0]) | {"caption": draft.text})
        else:
            children = [
                self._container(self._image_fields(m) | {"is_carousel_item": "true"}) for m in media
            ]
            container = self._container(
                {"media_type": "CAROUSEL", "children": ",".join(children), "caption": draft.text}
            )
        pending = PublishResult(
            remote_id=None, pending=True, state={"container": container, "text": draft.text}
        )
        checked = self.check_status(pending)
        return checked if checked.pending else self.finalise(checked)

    @staticmethod
    def _image_fields(media: Media) -> dict[str, str]:
        fields = {"image_url": media.url or ""}
        if media.alt_text:
            fields["alt_text"] = media.alt_text
        return fields

    def check_status(self, pending: PublishResult) -> PublishResult:
        container = pending.state.get("container", "")
        body = self.graph.get(
            container, operation="container status", params={"fields": "status_code,status"}
        )
        code = _str(body.get("status_code")) or "IN_PROGRESS"
        if code in ("ERROR", "EXPIRED"):
            reason = body.get("status") or "no reason"
            raise InvalidPayload(
                f"Instagram could not prepare the media ({code}: {reason})"
                + ("; the container expired after 24 hours" if code == "EXPIRED" else ""),
                issues=[code.lower()],
                network=NETWORK,
                container=container,
            )
        if code == "IN_PROGRESS":
            return pending
        return PublishResult(
            remote_id=None, pending=False, state={**pending.state, "status_code": code}
        )

    def finalise(self, ready: PublishResult) -> PublishResult:
        container = ready.state.get("container", "")
        body = self.graph.post(
            f"{self._user()}/media_publish",
            operation="media_publish",
            data={"creation_id": container},
        )
        media_id = _str(str(body.get("id") or ""))
        if media_id is None:
            raise ProviderError("Instagram published no media id", code="instagram_unexpected")
        link = self.graph.get(media_id, operation="media", params={"fields": "permalink"})
        return PublishResult(
            remote_id=media_id, url=_str(link.get("permalink")), state={"container": container}
        )

    @property
    def instagram_login(self) -> bool:
        """Whether the channel talks to the Instagram Login host (see the module docstring)."""
        return httpx.URL(self.graph.base_url).host == INSTAGRAM_LOGIN_HOST

    def _reply_to_mention(self, target: RemoteRef, draft: Draft) -> PublishResult:
        """Answer a caption or comment that @mentioned the account, on another account's media
        (``POST /<ig-user>/mentions``; served by both hosts)."""
        kind = target.extra.get("mention")
        media_id = target.extra.get("media_id", "")
        comment_id = target.extra.get("comment_id", "") if kind == "comment" else ""
        where = f"comment {comment_id} on media {media_id}" if comment_id else f"media {media_id}"
        if not media_id.isdigit() or (kind == "comment" and not comment_id.isdigit()):
            raise InvalidPayload(
                "this @mention lost the Instagram ids an answer needs "
                f"(media {media_id or '?'}, comment {comment_id or '?'})",
                network=NETWORK,
            )
        if not draft.text.strip():
            raise InvalidPayload("an answer to an @mention needs text", network=NETWORK)
        data = {"media_id": media_id, "message": draft.text}
        if comment_id:
            data["comment_id"] = comment_id
        try:
            body = self.graph.post(
                f"{self._user()}/mentions", operation="mentions reply", data=data
            )
        except InvalidPayload as exc:
            # Meta's "does not exist, cannot be loaded due to missing permissions, or does not
            # support this operation" (code 100): deleted, made private, comments turned off.
            raise InvalidPayload(
                f"Instagram refused the answer to the @mention in {where}: the post or comment "
                "is no longer available to this account (deleted, made private, or comments "
                f"turned off). {exc.message}",
                issues=exc.issues,
                network=NETWORK,
            ) from exc
        except InsufficientScopes as exc:
            raise InsufficientScopes(
                f"Instagram refused the answer to the @mention in {where}: the account did not "
                "grant the comment permission (instagram_business_manage_comments, or "
                f"instagram_manage_comments through Facebook Login). {exc.message}",
                network=NETWORK,
            ) from exc
        reply_id = _str(str(body.get("id") or ""))
        if reply_id is None:
            raise ProviderError(
                "Instagram answered the @mention reply without an id", code="instagram_unexpected"
            )
        return PublishResult(remote_id=reply_id, state={"text": draft.text, "mention": where})

    def reply(self, target: RemoteRef, draft: Draft) -> PublishResult:
        if target.extra.get("mention") in MENTION_KINDS:
            return self._reply_to_mention(target, draft)
        if messaging.is_direct(target):
            return messaging.send_direct(
                self.graph,
                self._user(),
                target,
                draft.text,
                network=NETWORK,
                now=dt.datetime.now(dt.UTC),
                text_issues=self._direct_issues(draft),
            )
        body = self.graph.post(
            f"{target.remote_id}/replies", operation="comment reply", data={"message": draft.text}
        )
        reply_id = _str(str(body.get("id") or ""))
        if reply_id is None:
            raise ProviderError(
                "Instagram answered the reply without an id", code="instagram_unexpected"
            )
        return PublishResult(remote_id=reply_id, state={"text": draft.text})

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """The account's latest ``limit`` media (``GET /<ig-user>/media``, newest first),
        paged by the Graph API's ``paging.cursors.after`` until ``limit`` or the last page
        (no ``paging.next``): :func:`listed_posts`. The User Media reference: "Returns a
        maximum of 10K of the most recently created media" (stories and media in promoted
        posts are not listed)."""
        return listed_posts(
            self.graph,
            f"{self._user()}/media",
            operation="user media",
            text_field="caption",
            time_field="timestamp",
            url_field="permalink",
            limit=limit,
            page_size=MEDIA_PAGE,
            since=since,
        )

    def recent_replies(
        self, target: RemoteRef, *, limit: int = 20, since: dt.datetime | None = None
    ) -> list[PublishResult]:
        """The account's own latest messages in the Instagram conversation of a direct
        message, or its own answers under a comment (``GET /<ig-comment>/replies``).

        ``since`` is not sent (neither the replies edge nor the conversation's ``messages``
        field takes a time; one request either way): the answers made before it are left out
        here."""
        if messaging.is_direct(target):
            found = messaging.recent_direct(
                self.graph,
                self._user(),
                target,
                self._own_ids(),
                platform="instagram",
                limit=limit,
            )
            return made_since(found, since)
        if target.extra.get("mention") == "caption":
            # Partial: the comments on another account's media are not read here, so an answer
            # to a caption @mention whose outcome is unknown is left for a person to check.
            raise NotImplementedError(
                "Instagram cannot list this account's comments on another account's post"
            )
        # a comment @mention: the answer is a sub-thread comment under it (its replies)
        found = messaging.recent_comment_replies(
            self.graph,
            target,
            self._own_ids(),
            edge="replies",
            params={"fields": "id,text,timestamp,username,from", "limit": 50},
            text_field="text",
            time_field="timestamp",
            limit=limit,
        )
        return made_since(found, since)

    # -- inbound and metrics ---------------------------------------------------------------------

    def fetch_messages(self, since: str | None) -> MessagePage:
        after = _time(since)
        newest = after
        messages: list[InboundMessage] = []
        user = self._user()
        for post in self.recent_posts(limit=RECENT_MEDIA):
            assert post.remote_id is not None
            body = self.graph.get(
                f"{post.remote_id}/comments",
                operation="comments",
                params={"fields": "id,text,timestamp,username,from,parent_id", "limit": 50},
            )
            for item in body.get("data") or []:
                message = (
                    self._comment(item, post.remote_id, user) if isinstance(item, dict) else None
                )
                if message is None or (after is not None and message.created_at <= after):
                    continue
                messages.append(message)
                newest = max(newest, message.created_at) if newest else message.created_at
        for direct in messaging.fetch_direct(
            self.graph, user, self._own_ids, platform="instagram", network=NETWORK, after=after
        ):
            messages.append(direct)
            newest = max(newest, direct.created_at) if newest else direct.created_at
        messages.sort(key=lambda m: m.created_at)
        cursor = newest.isoformat() if newest is not None else since
        return MessagePage(messages=messages, cursor=cursor)

    def fetch_mention(
        self, media_id: str, comment_id: str | None = None, *, at: dt.datetime | None = None
    ) -> InboundMessage:
        """The caption (``comment_id`` absent) or comment that @mentioned the account, read
        with the ids of its webhook; ``at`` (the notification's time) stands in for a missing
        timestamp. :class:`InvalidPayload` when Instagram returns nothing for it (deleted,
        comments disabled, private): retrying cannot help."""
        for value in (media_id, comment_id):
            if value is not None and not value.isdigit():
                raise InvalidPayload(f"not an Instagram id: {value[:40]!r}", network=NETWORK)
        if comment_id:
            edge, fields = "mentioned_comment", MENTIONED_COMMENT_FIELDS
            spec = f"mentioned_comment.comment_id({comment_id}){{{fields}}}"
        else:
            edge, fields = "mentioned_media", MENTIONED_MEDIA_FIELDS
            spec = f"mentioned_media.media_id({media_id}){{{fields}}}"
        try:
            body = self.graph.get(
                self._user(), operation=edge.replace("_", " "), params={"fields": spec}
            )
        except (InvalidPayload, InsufficientScopes) as exc:
            if not self.instagram_login:
                raise
            # Meta documents these reads for Facebook Login only (see the module's docstring).
            raise InvalidPayload(
                f"Instagram refused to read {edge} through Instagram Login "
                "(graph.instagram.com), which does not document it; open the @mention on "
                "Instagram, or connect the account through Facebook Login (graph.facebook.com) "
                f"to read mentions. {exc.message}",
                network=NETWORK,
            ) from exc
        item = body.get(edge)
        if not isinstance(item, dict):
            raise InvalidPayload(
                f"Instagram returned no {edge.replace('_', ' ')} for this mention (deleted, or "
                "no longer visible to the account)",
                network=NETWORK,
            )
        expanded = item.get("media")
        media: Mapping[str, Any] = expanded if isinstance(expanded, dict) else {}
        text = _str(item.get("text") if comment_id else item.get("caption"))
        username = _str(item.get("username"))
        if text is None:
            raise InvalidPayload(
                f"Instagram's {edge.replace('_', ' ')} has no text", network=NETWORK
            )
        permalink = _str(item.get("permalink")) or _str(media.get("permalink"))
        created = _time(item.get("timestamp")) or at or dt.datetime.now(dt.UTC)
        author = username or "unknown"
        return InboundMessage(
            remote_id=comment_id or media_id,
            kind=MessageKind.mention,
            author=Author(remote_id=author, handle=author, display_name=username or ""),
            text=text,
            created_at=created,
            conversation_id=media_id,
            in_reply_to=media_id if comment_id else None,
            url=permalink,
            raw={
                "mention": "comment" if comment_id else "caption",
                "media_id": media_id,
                "comment_id": comment_id,
                **{k: v for k, v in item.items() if isinstance(v, str | int | float)},
            },
        )

    @staticmethod
    def _comment(item: Mapping[str, Any], media_id: str, me: str) -> InboundMessage | None:
        comment_id, created = _str(str(item.get("id") or "")), _time(item.get("timestamp"))
        raw_author = item.get("from")
        author: Mapping[str, Any] = raw_author if isinstance(raw_author, dict) else {}
        author_id = _str(str(author.get("id") or "")) or _str(item.get("username"))
        if comment_id is None or created is None or author_id is None or author_id == me:
            return None  # undocumented shape, or the account's own comment
        username = _str(author.get("username")) or _str(item.get("username")) or author_id
        parent = _str(str(item.get("parent_id") or ""))
        return InboundMessage(
            remote_id=comment_id,
            kind=MessageKind.reply if parent else MessageKind.comment,
            author=Author(remote_id=author_id, handle=username, display_name=username),
            text=_str(item.get("text")) or "",
            created_at=created,
            conversation_id=media_id,
            in_reply_to=parent or media_id,
            raw=dict(item),
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        now = dt.datetime.now(dt.UTC)
        out = []
        for media_id in dict.fromkeys(remote_ids):
            body = self.graph.get(
                f"{media_id}/insights", operation="insights", params={"metric": INSIGHTS}
            )
            values: dict[str, int] = {}
            for metric in body.get("data") or []:
                if not isinstance(metric, dict):
                    continue
                points = metric.get("values") or []
                first = points[0] if points and isinstance(points[0], dict) else {}
                value = first.get("value", metric.get("total_value", {}).get("value"))
                if isinstance(value, int) and isinstance(metric.get("name"), str):
                    values[metric["name"]] = value
            out.append(
                PostMetrics(
                    remote_id=media_id,
                    observed_at=now,
                    impressions=values.get("views"),
                    reach=values.get("reach"),
                    likes=values.get("likes"),
                    replies=values.get("comments"),
                    reposts=values.get("shares"),
                )
            )
        return out
