"""Threads through the Threads API (``graph.threads.net/v1.0``; Meta's docs:
https://developers.facebook.com/docs/threads).

Connecting: OAuth 2 without PKCE: the Threads app id (``config["client_id"]``) and its
secret (encrypted extra); the person grants :data:`SCOPES` at ``threads.net/oauth/authorize``;
the code is exchanged at ``POST graph.threads.net/oauth/access_token`` for a short-lived
token (one hour), at once exchanged for a long-lived one (60 days,
``GET /access_token?grant_type=th_exchange_token``) and later refreshed with
``GET /refresh_access_token?grant_type=th_refresh_token`` (once it is a day old).

Publishing is the container flow, as on Instagram, which makes this provider ``slow_media``:

1. ``POST /<user>/threads`` creates a container: ``media_type`` ``TEXT`` (``text``),
   ``IMAGE`` (``image_url``, ``alt_text``) or ``VIDEO`` (``video_url``); for a carousel one
   container per item (``is_carousel_item=true``) and then a ``CAROUSEL`` parent with
   ``children`` and the text; a **reply** adds ``reply_to_id``;
2. ``GET /<container>?fields=status,error_message`` says ``IN_PROGRESS``, ``FINISHED``,
   ``ERROR``, ``EXPIRED`` or ``PUBLISHED``;
3. ``POST /<user>/threads_publish?creation_id=<container>`` publishes a finished one.

A **thread** (``Draft.thread``) is a reply chain: each following post is published as a
reply to the one before. The chain is a small state machine carried in the
``PublishResult.state`` (the container in flight, the texts still to publish, the ids already
published), so a container still processing anywhere in the chain returns ``pending`` and
:meth:`check_status`/:meth:`finalise` resume where it stopped. The posts after the first are
text only (a limitation of this provider, enforced by ``validate``).

Text: at most **500 characters**, where (Meta's words) "emojis are counted as the number of
UTF-8 bytes": :func:`threads_length` counts a grapheme as 1, an emoji grapheme as its UTF-8
length. Media come from a public https address (``Media.url``): JPEG or PNG images up to 8 MB,
MP4/MOV videos up to 1 GB; a carousel holds 2 to 20 items.

Inbound: the replies in the conversations of the account's 10 most recent posts
(``GET /<post>/conversation``, replies by the account itself skipped) and the mentions
(``GET /<user>/mentions``), newer than the cursor (the newest timestamp seen). The Threads API
exposes usernames, not user ids, for other people: the author's id is their username.
Replies and mentions are also pushed by Threads webhooks (:mod:`dialogo.providers.threads.webhook`,
through the Meta intake ``/webhooks/meta/<channel id>``, with the ``verify_token`` of the
channel and signed with the Threads app secret); one named only by id is fetched with
:meth:`ThreadsProvider.fetch_post`.
Metrics: ``GET /<post>/insights`` (views, likes, replies, reposts, quotes).
Reconciliation: :meth:`ThreadsProvider.recent_posts` pages ``GET /<user>/threads`` by its
``after`` cursor.
Errors are Meta's Graph errors (:mod:`dialogo.providers.meta.graph`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx
import regex  # type: ignore[import-untyped]  # (types-regex is not a dependency)

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
    ValidationIssue,
)
from dialogo.providers.errors import InvalidPayload, ProviderError, ReauthRequired, TransientError
from dialogo.providers.fields import identifier as _id
from dialogo.providers.fields import text as _str
from dialogo.providers.fields import timestamp as _time
from dialogo.providers.http import send_raw
from dialogo.providers.meta.graph import GraphClient, error_for, listed_posts
from dialogo.providers.meta.webhook import VERIFY_TOKEN_FIELD

NETWORK = "threads"
GRAPH_URL = "https://graph.threads.net"
GRAPH_VERSION = "v1.0"
AUTHORIZE_URL = "https://threads.net/oauth/authorize"
SCOPES = (
    "threads_basic",
    "threads_content_publish",
    "threads_read_replies",
    "threads_manage_replies",
    "threads_manage_insights",
    "threads_manage_mentions",
)
TEXT_LIMIT = 500
MAX_CAROUSEL = 20
MIN_CAROUSEL = 2
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_VIDEO_BYTES = 1024 * 1024 * 1024
RECENT_POSTS = 10
#: The most posts one request of ``GET /<threads-user>/threads`` lists: "default is 25 and
#: maximum is 100" (Threads API reference, User, ``limit``).
THREADS_PAGE = 100
INSIGHTS = "views,likes,replies,reposts,quotes"
REPLY_FIELDS = "id,text,username,timestamp,permalink,replied_to,root_post,is_reply_owned_by_me"
MENTION_FIELDS = "id,text,username,timestamp,permalink,root_post,replied_to"
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")


def threads_length(text: str) -> int:
    """The length Threads counts: a grapheme is 1, an emoji grapheme its UTF-8 bytes."""
    return sum(
        len(g.encode("utf-8")) if _EMOJI.search(g) else 1 for g in regex.findall(r"\X", text)
    )


class ThreadsProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="Threads",
        auth=AuthKind.oauth2,
        text_limit=TEXT_LIMIT,
        media=MediaRules(
            max_items=MAX_CAROUSEL,
            image_types=IMAGE_TYPES,
            video_types=VIDEO_TYPES,
            max_image_bytes=MAX_IMAGE_BYTES,
            max_video_bytes=MAX_VIDEO_BYTES,
            alt_text_max=None,
            mix_images_and_video=True,
        ),
        threads=True,
        replies=True,
        metrics=True,
        slow_media=True,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "client_id",
            "Threads app id",
            kind=ConnectFieldKind.config,
            help="The Threads app id of your Meta app (the Threads use case).",
        ),
        ConnectField(
            "client_secret",
            "Threads app secret",
            kind=ConnectFieldKind.extra,
            secret=True,
            help="The Threads app secret shown next to it.",
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
            version=self.config.get("graph_version", GRAPH_VERSION),
            signals=self.app_signals,
        )

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

    def _token(self, method: str, path: str, params: Mapping[str, str], operation: str) -> Any:
        url = f"{self.graph.base_url}/{path}"
        if method == "GET":
            request = self.http.build_request("GET", url, params=dict(params))
        else:
            request = self.http.build_request("POST", url, data=dict(params))
        response = send_raw(self.http, request, network=NETWORK)
        if response.status_code >= 400:
            error = error_for(response, network=NETWORK, operation=operation)
            if isinstance(error, TransientError):
                raise error
            raise ReauthRequired(
                f"Threads refused the authorisation ({error.message}): connect the account again",
                network=NETWORK,
            )
        try:
            return response.json()
        except ValueError:
            raise TransientError(
                f"Threads answered {operation} with something that is not JSON", network=NETWORK
            ) from None

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> Credentials:
        secret = self.credentials.extra.get("client_secret", "")
        if not secret:
            raise ReauthRequired("the Threads app secret is missing", network=NETWORK)
        body = self._token(
            "POST",
            "oauth/access_token",
            {
                "client_id": self.config.get("client_id", ""),
                "client_secret": secret,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code,
            },
            "oauth/access_token",
        )
        short = _str(body.get("access_token")) if isinstance(body, dict) else None
        if short is None:
            raise TransientError("Threads answered without an access token", network=NETWORK)
        user_id = _id(body.get("user_id"))
        long_lived = oauth.credentials_from_token(
            self._token(
                "GET",
                "access_token",
                {"grant_type": "th_exchange_token", "client_secret": secret, "access_token": short},
                "access_token (long-lived)",
            ),
            now=dt.datetime.now(dt.UTC),
            network=NETWORK,
        )
        return Credentials(
            access_token=long_lived.access_token,
            expires_at=long_lived.expires_at,
            account_id=user_id,
        )

    def refresh(self) -> Credentials:
        token = self.credentials.access_token
        if not token:
            raise ReauthRequired("no Threads token to refresh", network=NETWORK)
        renewed = oauth.credentials_from_token(
            self._token(
                "GET",
                "refresh_access_token",
                {"grant_type": "th_refresh_token", "access_token": token},
                "refresh_access_token",
            ),
            now=dt.datetime.now(dt.UTC),
            network=NETWORK,
        )
        return Credentials(access_token=renewed.access_token, expires_at=renewed.expires_at)

    def verify(self) -> Account:
        me = self.graph.get("me", operation="me", params={"fields": "id,username,name"})
        user_id = _id(me.get("id"))
        if user_id is None:
            raise ProviderError("Threads answered /me without an id", code="threads_unexpected")
        username = _str(me.get("username")) or user_id
        return Account(
            remote_id=user_id,
            handle=username,
            display_name=_str(me.get("name")) or username,
            url=f"https://www.threads.net/@{username}",
        )

    def _user(self) -> str:
        return self.credentials.account_id or self.verify().remote_id

    # -- validation ------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues = self._validate_post(draft, "")
        for index, follow in enumerate(draft.thread):
            where = f"thread[{index}]"
            issues += [
                dataclasses.replace(i, field=f"{where}.{i.field}")
                for i in self._validate_post(follow, where)
            ]
            if follow.media:
                issues.append(
                    ValidationIssue(
                        "thread_media",
                        N_("the posts after the first in a thread are text only here"),
                        f"{where}.media",
                    )
                )
            if follow.thread:
                issues.append(ValidationIssue("nested_thread", N_("a thread is one chain"), where))
        return issues

    def _validate_post(self, draft: Draft, where: str) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        length = threads_length(draft.text)
        if length > TEXT_LIMIT:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character as Threads counts them (emoji by their UTF-8 "
                            "bytes); a post holds %(text_limit)s",
                            "%(length)s characters as Threads counts them (emoji by their UTF-8 "
                            "bytes); a post holds %(text_limit)s",
                        ),
                        count="length",
                    ),
                    params={"length": length, "text_limit": TEXT_LIMIT},
                )
            )
        if not draft.media and not draft.text.strip():
            issues.append(ValidationIssue("empty", N_("a text post needs text")))
        if len(draft.media) > MAX_CAROUSEL:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_(
                            "%(count)s item; a carousel holds %(max_carousel)s",
                            "%(count)s items; a carousel holds %(max_carousel)s",
                        ),
                        count="count",
                    ),
                    "media",
                    params={"count": len(draft.media), "max_carousel": MAX_CAROUSEL},
                )
            )
        for index, media in enumerate(draft.media):
            issues += self._validate_media(media, f"media[{index}]")
        return issues

    @staticmethod
    def _validate_media(media: Media, field: str) -> list[ValidationIssue]:
        issues = []
        if media.mime_type in VIDEO_TYPES:
            if len(media.content) > MAX_VIDEO_BYTES:
                issues.append(
                    ValidationIssue("media_too_large", N_("a video is at most 1 GB"), field)
                )
        elif media.mime_type in IMAGE_TYPES:
            if len(media.content) > MAX_IMAGE_BYTES:
                issues.append(
                    ValidationIssue("media_too_large", N_("an image is at most 8 MB"), field)
                )
        else:
            issues.append(
                ValidationIssue(
                    "media_type",
                    N_("%(mime_type)s: Threads takes JPEG or PNG images, MP4 or MOV videos"),
                    field,
                    params={"mime_type": media.mime_type},
                )
            )
        if not (media.url or "").startswith("https://"):
            issues.append(
                ValidationIssue(
                    "media_url_required",
                    N_("Threads fetches media from a public https address, and this one has none"),
                    f"{field}.url",
                )
            )
        return issues

    # -- publishing ------------------------------------------------------------------------------

    def _create(self, fields: Mapping[str, str]) -> str:
        body = self.graph.post(f"{self._user()}/threads", operation="threads", data=fields)
        container = _id(body.get("id"))
        if container is None:
            raise ProviderError("Threads created no container", code="threads_unexpected")
        return container

    @staticmethod
    def _item_fields(media: Media) -> dict[str, str]:
        if media.mime_type in VIDEO_TYPES:
            fields = {"media_type": "VIDEO", "video_url": media.url or ""}
        else:
            fields = {"media_type": "IMAGE", "image_url": media.url or ""}
        if media.alt_text:
            fields["alt_text"] = media.alt_text
        return fields

    def _container_for(self, text: str, media: Sequence[Media], reply_to: str | None) -> str:
        extra = {"reply_to_id": reply_to} if reply_to else {}
        if not media:
            return self._create({"media_type": "TEXT", "text": text, **extra})
        if len(media) == 1:
            return self._create(self._item_fields(media[0]) | {"text": text, **extra})
        children = [
            self._create(self._item_fields(m) | {"is_carousel_item": "true"}) for m in media
        ]
        fields = {"media_type": "CAROUSEL", "children": ",".join(children), "text": text}
        return self._create(fields | extra)

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "Threads would reject this post: " + "; ".join(i.message for i in issues),
                issues=[f"{i.field}: {i.code}" for i in issues],
                network=NETWORK,
            )
        reply_to = draft.reply_to.remote_id if draft.reply_to else None
        container = self._container_for(draft.text, draft.media, reply_to)
        state = {
            "container": container,
            "text": draft.text,
            "remaining": json.dumps([follow.text for follow in draft.thread]),
            "published": "[]",
        }
        return self._advance(PublishResult(remote_id=None, pending=True, state=state))

    def _advance(self, pending: PublishResult) -> PublishResult:
        checked = self.check_status(pending)
        return checked if checked.pending else self.finalise(checked)

    def check_status(self, pending: PublishResult) -> PublishResult:
        container = pending.state.get("container", "")
        body = self.graph.get(
            container, operation="container status", params={"fields": "status,error_message"}
        )
        status = _str(body.get("status")) or "IN_PROGRESS"
        if status in ("ERROR", "EXPIRED"):
            reason = body.get("error_message") or "no reason"
            raise InvalidPayload(
                f"Threads could not prepare the post ({status}: {reason})",
                issues=[status.lower()],
                network=NETWORK,
                container=container,
            )
        if status == "IN_PROGRESS":
            return PublishResult(remote_id=None, pending=True, state=dict(pending.state))
        return PublishResult(remote_id=None, state={**pending.state, "status": status})

    def finalise(self, ready: PublishResult) -> PublishResult:
        """Publish the finished container, then continue the reply chain: the next post's
        container answers the one just published; a container still processing returns
        ``pending`` with the chain's state."""
        state = dict(ready.state)
        published: list[str] = json.loads(state.get("published") or "[]")
        remaining: list[str] = json.loads(state.get("remaining") or "[]")
        body = self.graph.post(
            f"{self._user()}/threads_publish",
            operation="threads_publish",
            data={"creation_id": state.get("container", "")},
        )
        post_id = _id(body.get("id"))
        if post_id is None:
            raise ProviderError("Threads published no post id", code="threads_unexpected")
        published.append(post_id)
        state["published"] = json.dumps(published)
        if remaining:
            text, rest = remaining[0], remaining[1:]
            container = self._container_for(text, (), post_id)
            return self._advance(
                PublishResult(
                    remote_id=None,
                    pending=True,
                    state={
                        **state,
                        "container": container,
                        "remaining": json.dumps(rest),
                        "status": "",
                    },
                )
            )
        root = published[0]
        link = self.graph.get(root, operation="post", params={"fields": "permalink"})
        return PublishResult(
            remote_id=root,
            url=_str(link.get("permalink")),
            state={"text": state.get("text", "")},
            thread_ids=published[1:],
        )

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """The account's latest ``limit`` posts (``GET /<threads-user>/threads``, "a
        paginated list of all threads created by a user", newest first), paged by the
        ``after`` cursor at most :data:`THREADS_PAGE` a request: :func:`listed_posts`.

        The Threads reference documents the ``before``/``after`` cursors and no ``next``
        link, so a non-empty page with an ``after`` cursor is always followed, and the
        listing is exhausted only at an empty page or one without a cursor. The API's own
        ``since``/``until`` filters are not sent: the ``since`` asked for stops the paging
        after the first page reaching back before it
        (:func:`~dialogo.providers.base.collect_pages`), so an empty filtered answer is never
        mistaken for the end of the account."""
        return listed_posts(
            self.graph,
            f"{self._user()}/threads",
            operation="user threads",
            text_field="text",
            time_field="timestamp",
            url_field="permalink",
            limit=limit,
            page_size=THREADS_PAGE,
            since=since,
            follow_after=True,
        )

    # -- inbound and metrics ---------------------------------------------------------------------

    def fetch_messages(self, since: str | None) -> MessagePage:
        after = _time(since)
        found: dict[str, InboundMessage] = {}
        for post in self.recent_posts(limit=RECENT_POSTS):
            assert post.remote_id is not None
            body = self.graph.get(
                f"{post.remote_id}/conversation",
                operation="conversation",
                params={"fields": REPLY_FIELDS, "reverse": "false"},
            )
            for item in body.get("data") or []:
                message = self._message(item, MessageKind.reply, post.remote_id)
                if message is not None:
                    found.setdefault(message.remote_id, message)
        mentions = self.graph.get(
            f"{self._user()}/mentions",
            operation="mentions",
            params={"fields": MENTION_FIELDS},
        )
        for item in mentions.get("data") or []:
            message = self._message(item, MessageKind.mention, None)
            if message is not None:
                found.setdefault(message.remote_id, message)
        messages = sorted(
            (m for m in found.values() if after is None or m.created_at > after),
            key=lambda m: m.created_at,
        )
        newest = max((m.created_at for m in messages), default=after)
        return MessagePage(
            messages=messages, cursor=newest.isoformat() if newest is not None else since
        )

    def fetch_post(self, media_id: str, kind: MessageKind) -> InboundMessage | None:
        """One reply or mention by id (a webhook that named only its id), read as polling
        reads it; ``None`` for a reply of the account itself. :class:`InvalidPayload` when
        Threads answers without the author or the time."""
        fields = REPLY_FIELDS if kind is MessageKind.reply else MENTION_FIELDS
        body = self.graph.get(media_id, operation="post", params={"fields": fields})
        if body.get("is_reply_owned_by_me") is True:
            return None
        message = self._message(body, kind, None)
        if message is None:
            raise InvalidPayload(
                f"Threads answered post {media_id} without its id, author or time",
                network=NETWORK,
            )
        return message

    @staticmethod
    def _message(item: Any, kind: MessageKind, root: str | None) -> InboundMessage | None:
        if not isinstance(item, dict) or item.get("is_reply_owned_by_me") is True:
            return None
        post_id, created = _id(item.get("id")), _time(item.get("timestamp"))
        username = _str(item.get("username"))
        if post_id is None or created is None or username is None:
            return None
        replied = item.get("replied_to")
        parent = _id(replied.get("id")) if isinstance(replied, dict) else None
        root_post = item.get("root_post")
        conversation = (_id(root_post.get("id")) if isinstance(root_post, dict) else None) or root
        return InboundMessage(
            remote_id=post_id,
            kind=kind,
            author=Author(remote_id=username, handle=username, display_name=username),
            text=_str(item.get("text")) or "",
            created_at=created,
            conversation_id=conversation or post_id,
            in_reply_to=parent,
            url=_str(item.get("permalink")),
            raw=dict(item),
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        now = dt.datetime.now(dt.UTC)
        out = []
        for post_id in dict.fromkeys(remote_ids):
            body = self.graph.get(
                f"{post_id}/insights", operation="insights", params={"metric": INSIGHTS}
            )
            values: dict[str, int] = {}
            for metric in body.get("data") or []:
                if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
                    continue
                points = metric.get("values") or []
                first = points[0] if points and isinstance(points[0], dict) else {}
                total = metric.get("total_value")
                value = first.get("value", total.get("value") if isinstance(total, dict) else None)
                if isinstance(value, int) and not isinstance(value, bool):
                    values[metric["name"]] = value
            out.append(
                PostMetrics(
                    remote_id=post_id,
                    observed_at=now,
                    impressions=values.get("views"),
                    likes=values.get("likes"),
                    replies=values.get("replies"),
                    reposts=values.get("reposts"),
                    quotes=values.get("quotes"),
                )
            )
        return out
