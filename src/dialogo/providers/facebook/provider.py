"""Facebook Pages through the Graph API (``graph.facebook.com``; Meta's Pages API docs:
https://developers.facebook.com/docs/pages-api).

Connecting: Facebook Login, OAuth 2 **without PKCE** (a confidential web app): the app's
``client_id`` (config) and ``client_secret`` (encrypted extra); the person grants
:data:`SCOPES` at ``www.facebook.com/<version>/dialog/oauth``; the code is exchanged at
``GET /<version>/oauth/access_token`` for a short-lived **user** token, at once exchanged for a
long-lived one (``grant_type=fb_exchange_token``, about 60 days). A Page is never acted on
with the user token: :meth:`FacebookProvider.verify` reads ``GET /me/accounts`` with it,
picks the page of ``config["page_id"]`` (or the only page the person manages), and **swaps
the credentials to that Page's access token** (a Page token obtained from a long-lived user
token has no expiry date). The user token stays in ``Credentials.extra["user_token"]`` so
:meth:`refresh` can read the Page token again.

What maps to what:

- a **post** is ``POST /<page>/feed`` with ``message`` and, when the text holds an address,
  ``link`` (its first URL, for the preview); one **photo** is ``POST /<page>/photos`` with
  its public ``url`` and the ``message``; several photos are each uploaded unpublished
  (``published=false``) and then attached to one feed post (``attached_media[i]`` =
  ``{"media_fbid": id}``). Facebook fetches the photos from their public https address
  (``Media.url``); uploading bytes (``source``) and videos are not supported yet, and
  ``validate`` says so;
- the **remote id** is the post id ``<page>_<post>``; its URL ``facebook.com/<post id>``
  is built without another request (a lost answer to a second call must not hide a post
  that exists);
- **inbound** messages are the comments on the Page's 10 most recent posts
  (``GET /<post>/comments?filter=stream``, so answers to comments come too, with their
  ``parent``), newer than the cursor (the newest ``created_time`` seen); a comment with a
  parent is a ``reply``. The Page's own comments are skipped;
- **direct messages** (Messenger) are read from the Conversations API
  (``GET /<page>/conversations?platform=messenger``) newer than the same cursor, as ``direct``
  messages threaded by person, and pushed by the Meta webhook intake
  (:mod:`dialogo.providers.meta.webhook`); see :mod:`dialogo.providers.meta.messaging`;
- a **reply** is a comment on the comment (``POST /<comment>/comments``), or for a direct
  message a Send API message (``POST /<page>/messages``) inside Meta's messaging window:
  ``RESPONSE`` within 24 hours, the ``HUMAN_AGENT`` tag within 7 days, refused after;
- **metrics** are ``GET /<post>/insights`` (``post_impressions``,
  ``post_impressions_unique``, ``post_clicks``) plus the post's reactions, comments and
  shares summary (``GET /<post>?fields=reactions.summary(...),comments.summary(...),shares``);
- **reconciliation**: :meth:`recent_posts` reads ``GET /<page>/published_posts``, page after
  page by the Graph API's cursor, and says the listing is exhausted only when Meta sends no
  ``paging.next``.

Errors are Meta's (see :mod:`dialogo.providers.meta.graph`); nothing here sleeps or retries.
"""

from __future__ import annotations

import datetime as dt
import json
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
    InvalidPayload,
    ProviderError,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.fields import identifier as _id
from dialogo.providers.fields import text as _str
from dialogo.providers.fields import timestamp as _time
from dialogo.providers.http import send_raw
from dialogo.providers.meta import messaging
from dialogo.providers.meta.graph import DEFAULT_VERSION, GraphClient, error_for, listed_posts
from dialogo.providers.meta.webhook import VERIFY_TOKEN_FIELD

NETWORK = "facebook"
AUTHORIZE_URL = "https://www.facebook.com/{version}/dialog/oauth"
SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_read_user_engagement",
    "pages_manage_posts",
    "pages_manage_engagement",
    "read_insights",
    "pages_messaging",
    "pages_manage_metadata",
)
#: The Send API's limit for a text message (Messenger Platform "Send API" reference).
MESSAGE_LIMIT = 2000
#: Facebook's documented maximum length of a post's text.
TEXT_LIMIT = 63_206
#: Photos: "JPEG, BMP, PNG, GIF and TIFF … less than 4 MB" (Page Photos reference).
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff"})
MAX_IMAGE_BYTES = 4 * 1024 * 1024
#: Meta documents no hard cap for ``attached_media``; ten keeps us inside what the Pages
#: composer itself allows for a multi-photo post (a conservative choice, not a documented one).
MAX_PHOTOS = 10
RECENT_POSTS = 10
#: The most posts one request of :meth:`FacebookProvider.recent_posts` asks for: the size this
#: provider always asked for. Meta documents no fixed maximum for this edge ("some edges may
#: also have a maximum on the limit value", Paginated Results) and may answer fewer: pages are
#: followed by their cursor, never taken as the whole listing.
POSTS_PAGE = 100
INSIGHTS = ("post_impressions", "post_impressions_unique", "post_clicks")
SUMMARY_FIELDS = (
    "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),shares"
)
COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id},permalink_url"
_URL = re.compile(r"https?://[^\s<>\"']+")


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def first_link(text: str) -> str | None:
    match = _URL.search(text)
    return match.group(0).rstrip(".,;:!?)") if match else None


class FacebookProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="Facebook",
        auth=AuthKind.oauth2,
        text_limit=TEXT_LIMIT,
        media=MediaRules(
            max_items=MAX_PHOTOS,
            image_types=IMAGE_TYPES,
            video_types=frozenset(),
            max_image_bytes=MAX_IMAGE_BYTES,
            max_video_bytes=0,
            alt_text_max=None,
        ),
        threads=False,
        replies=True,
        direct_messages=True,
        metrics=True,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "client_id",
            "Meta app id",
            kind=ConnectFieldKind.config,
            help="The App ID of your Meta app with Facebook Login.",
        ),
        ConnectField(
            "client_secret",
            "Meta app secret",
            kind=ConnectFieldKind.extra,
            secret=True,
            help="The App Secret shown in the app's basic settings.",
        ),
        ConnectField(
            "page_id",
            "Page id",
            kind=ConnectFieldKind.config,
            required=False,
            help="The id of the Page to manage; leave empty if you manage only one Page.",
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
        self.graph = self._graph(credentials.access_token)

    def _graph(self, token: str | None) -> GraphClient:
        return GraphClient(
            self.http,
            token,
            network=NETWORK,
            base_url=self.config.get("graph_url", ""),
            version=self.config.get("graph_version", ""),
            signals=self.app_signals,
        )

    @property
    def _is_page_token(self) -> bool:
        return self.credentials.extra.get("token_kind") == "page"

    # -- auth ------------------------------------------------------------------------------------

    def authorization_url(self, *, redirect_uri: str, state: str) -> AuthorizationRequest:
        version = self.config.get("graph_version") or DEFAULT_VERSION
        return oauth.authorization_request(
            self.config.get("authorize_url", AUTHORIZE_URL.format(version=version)),
            client_id=self.config.get("client_id", ""),
            redirect_uri=redirect_uri,
            scopes=SCOPES,
            state=state,
            pkce=False,
            scope_separator=",",
        )

    def _token_get(self, params: Mapping[str, str], operation: str) -> Credentials:
        """``GET /oauth/access_token`` (the code exchange and the long-lived exchange). The
        app secret travels as a query parameter because that is the only way Meta takes it
        here; the request URL is never logged or put in an error."""
        request = self.http.build_request(
            "GET", self.graph.url("oauth/access_token"), params=dict(params)
        )
        response = send_raw(self.http, request, network=NETWORK)
        if response.status_code >= 400:
            error = error_for(response, network=NETWORK, operation=operation)
            if isinstance(error, TransientError):
                raise error
            raise ReauthRequired(
                f"Facebook refused the authorisation ({error.message}): connect the Page again",
                network=NETWORK,
            )
        try:
            body = response.json()
        except ValueError:
            raise TransientError(
                "Facebook's token endpoint answered with something that is not JSON",
                network=NETWORK,
            ) from None
        return oauth.credentials_from_token(body, now=dt.datetime.now(dt.UTC), network=NETWORK)

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> Credentials:
        client_id = self.config.get("client_id", "")
        secret = self.credentials.extra.get("client_secret", "")
        if not secret:
            raise ReauthRequired("the Meta app secret is missing", network=NETWORK)
        short = self._token_get(
            {
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uri": redirect_uri,
                "code": code,
            },
            "oauth/access_token",
        )
        long_lived = self._token_get(
            {
                "grant_type": "fb_exchange_token",
                "client_id": client_id,
                "client_secret": secret,
                "fb_exchange_token": short.access_token or "",
            },
            "oauth/access_token (long-lived)",
        )
        token = long_lived.access_token or ""
        # The user token both as the working token (verify swaps it) and kept aside.
        return Credentials(
            access_token=token,
            expires_at=long_lived.expires_at,
            extra={"user_token": token, "token_kind": "user"},
        )

    def _page_from_accounts(self, user_token: str) -> dict[str, Any]:
        """The managed page of ``config["page_id"]`` from ``GET /me/accounts``."""
        wanted = self.config.get("page_id", "").strip()
        body = self._graph(user_token).get(
            "me/accounts",
            operation="me/accounts",
            params={"fields": "id,name,access_token,tasks", "limit": 100},
        )
        pages = [p for p in body.get("data") or [] if isinstance(p, dict) and _id(p.get("id"))]
        if wanted:
            match = [p for p in pages if _id(p.get("id")) == wanted]
            if not match:
                names = ", ".join(f"{p.get('name')} ({p.get('id')})" for p in pages) or "none"
                raise InvalidPayload(
                    f"this Facebook account does not manage the Page {wanted} "
                    f"(the Pages it manages: {names})",
                    issues=["page_not_managed"],
                    network=NETWORK,
                )
            return match[0]
        if len(pages) != 1:
            names = ", ".join(f"{p.get('name')} ({p.get('id')})" for p in pages) or "none"
            raise InvalidPayload(
                "say which Facebook Page to connect (the page id): this account manages "
                f"{len(pages)} Pages: {names}",
                issues=["page_id_required"],
                network=NETWORK,
            )
        return pages[0]

    def _swap_to_page_token(self) -> None:
        user_token = self.credentials.extra.get("user_token") or self.credentials.access_token
        if not user_token:
            raise ReauthRequired("no Facebook token: connect the Page again", network=NETWORK)
        page = self._page_from_accounts(user_token)
        page_token = _str(page.get("access_token"))
        if page_token is None:
            raise ReauthRequired(
                "Facebook gave no Page access token: the person must be able to manage the "
                "Page and grant pages_show_list and pages_manage_posts",
                network=NETWORK,
            )
        self.credentials = Credentials(
            access_token=page_token,
            refresh_token=None,
            expires_at=None,  # Page tokens from a long-lived user token do not expire
            account_id=_id(page.get("id")),
            extra={
                **self.credentials.extra,
                "user_token": user_token,
                "token_kind": "page",
            },
        )
        self.graph = self._graph(page_token)

    def refresh(self) -> Credentials:
        """Read the Page token again with the stored user token (Facebook has no refresh
        token; a user token that expired needs the person to log in again)."""
        self._swap_to_page_token()
        return self.credentials

    def verify(self) -> Account:
        if not self._is_page_token:
            self._swap_to_page_token()
        page_id = self._page_id()
        page = self.graph.get(
            page_id, operation="page", params={"fields": "id,name,username,link,followers_count"}
        )
        remote_id = _id(page.get("id")) or page_id
        name = _str(page.get("name")) or remote_id
        return Account(
            remote_id=remote_id,
            handle=_str(page.get("username")) or remote_id,
            display_name=name,
            url=_str(page.get("link")) or f"https://www.facebook.com/{remote_id}",
            followers=_count(page.get("followers_count")),
        )

    def _page_id(self) -> str:
        page_id = self.credentials.account_id or self.config.get("page_id", "")
        if not page_id:
            raise ReauthRequired(
                "the Facebook Page is not known: connect it again", network=NETWORK
            )
        return page_id

    # -- validation ------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        if draft.thread:
            issues.append(
                ValidationIssue("threads", N_("Facebook Pages have no threads"), "thread")
            )
        if len(draft.text) > TEXT_LIMIT:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character; a Facebook post holds %(text_limit)s",
                            "%(length)s characters; a Facebook post holds %(text_limit)s",
                        ),
                        count="length",
                    ),
                    params={"length": len(draft.text), "text_limit": TEXT_LIMIT},
                )
            )
        if not draft.text.strip() and not draft.media:
            issues.append(ValidationIssue("empty", N_("a post needs text or a photo")))
        if draft.reply_to is not None and messaging.is_direct(draft.reply_to):
            return self._direct_issues(draft) + messaging.window_issues(
                draft.reply_to, dt.datetime.now(dt.UTC), network=NETWORK
            )
        if draft.reply_to is not None:
            if draft.media:
                issues.append(
                    ValidationIssue("media", N_("a reply to a comment is text only here"), "media")
                )
            return issues
        if len(draft.media) > MAX_PHOTOS:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_(
                            "%(count)s photo; Dialogo attaches at most %(max_photos)s",
                            "%(count)s photos; Dialogo attaches at most %(max_photos)s",
                        ),
                        count="count",
                    ),
                    "media",
                    params={"count": len(draft.media), "max_photos": MAX_PHOTOS},
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
        if len(draft.text) > MESSAGE_LIMIT:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character; a Messenger message holds %(message_limit)s",
                            "%(length)s characters; a Messenger message holds %(message_limit)s",
                        ),
                        count="length",
                    ),
                    params={"length": len(draft.text), "message_limit": MESSAGE_LIMIT},
                )
            )
        if draft.media or draft.thread:
            issues.append(
                ValidationIssue(
                    "media", N_("an answer to a direct message is text only here"), "media"
                )
            )
        return issues

    @staticmethod
    def _validate_media(media: Media, field: str) -> list[ValidationIssue]:
        if media.mime_type.startswith("video/"):
            return [
                ValidationIssue(
                    "media_type", N_("videos on Facebook Pages are not supported yet"), field
                )
            ]
        issues = []
        if media.mime_type not in IMAGE_TYPES:
            issues.append(
                ValidationIssue(
                    "media_type",
                    N_("%(mime_type)s: Facebook takes JPEG, PNG, GIF, BMP or TIFF photos"),
                    field,
                    params={"mime_type": media.mime_type},
                )
            )
        elif len(media.content) > MAX_IMAGE_BYTES:
            issues.append(ValidationIssue("media_too_large", N_("a photo is at most 4 MB"), field))
        if not (media.url or "").startswith("https://"):
            issues.append(
                ValidationIssue(
                    "media_url_required",
                    N_(
                        "Facebook fetches the photo from a public https address, and this one "
                        "has none"
                    ),
                    f"{field}.url",
                )
            )
        return issues

    # -- publishing ------------------------------------------------------------------------------

    @staticmethod
    def _post_url(post_id: str) -> str:
        return f"https://www.facebook.com/{post_id}"

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "Facebook would reject this post: " + "; ".join(i.message for i in issues),
                issues=[f"{i.field}: {i.code}" for i in issues],
                network=NETWORK,
            )
        if draft.reply_to is not None:
            return self.reply(draft.reply_to, draft)
        page = self._page_id()
        media = list(draft.media)
        if len(media) == 1:
            fields = {"url": media[0].url or ""}
            if draft.text:
                fields["message"] = draft.text
            body = self.graph.post(f"{page}/photos", operation="page photos", data=fields)
            post_id = _id(body.get("post_id")) or _id(body.get("id"))
        else:
            data: dict[str, str] = {"message": draft.text} if draft.text else {}
            for index, item in enumerate(media):
                photo = self.graph.post(
                    f"{page}/photos",
                    operation="page photos (unpublished)",
                    data={"url": item.url or "", "published": "false"},
                )
                photo_id = _id(photo.get("id"))
                if photo_id is None:
                    raise ProviderError(
                        "Facebook answered a photo upload without an id", code="facebook_unexpected"
                    )
                data[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
            link = first_link(draft.text) if not media else None
            if link:
                data["link"] = link
            body = self.graph.post(f"{page}/feed", operation="page feed", data=data)
            post_id = _id(body.get("id"))
        if post_id is None:
            raise ProviderError("Facebook answered without a post id", code="facebook_unexpected")
        return PublishResult(
            remote_id=post_id, url=self._post_url(post_id), state={"text": draft.text}
        )

    def reply(self, target: RemoteRef, draft: Draft) -> PublishResult:
        if messaging.is_direct(target):
            return messaging.send_direct(
                self.graph,
                self._page_id(),
                target,
                draft.text,
                network=NETWORK,
                now=dt.datetime.now(dt.UTC),
                text_issues=self._direct_issues(draft),
            )
        body = self.graph.post(
            f"{target.remote_id}/comments", operation="comment reply", data={"message": draft.text}
        )
        reply_id = _id(body.get("id"))
        if reply_id is None:
            raise ProviderError(
                "Facebook answered the reply without an id", code="facebook_unexpected"
            )
        return PublishResult(remote_id=reply_id, state={"text": draft.text})

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """The Page's latest ``limit`` posts (``GET /<page>/published_posts``, the Page's own
        published posts, newest first), paged by the Graph API's ``paging.cursors.after``
        until ``limit`` or the last page (no ``paging.next``): :func:`listed_posts`.

        Meta's Page Published Posts reference says the edge returns "approximately 600
        ranked published posts per year": past that Meta ends the listing as if there were
        nothing older, which could wrongly say ``exhausted`` only to a check reaching back
        over more than those 600 posts (reconciliation looks back minutes, not a year)."""
        return listed_posts(
            self.graph,
            f"{self._page_id()}/published_posts",
            operation="published posts",
            text_field="message",
            time_field="created_time",
            url_field="permalink_url",
            limit=limit,
            page_size=POSTS_PAGE,
            since=since,
            url_for=self._post_url,
        )

    def recent_replies(
        self, target: RemoteRef, *, limit: int = 20, since: dt.datetime | None = None
    ) -> list[PublishResult]:
        """The Page's own latest messages in the Messenger conversation of a direct message,
        or its own answers under a comment (``GET /<comment>/comments``, newest first).

        ``since`` is not sent: the comments edge pages by cursor (``before``/``after``; the
        Graph API's ``since``/``until`` belong to time-paginated edges) and the conversation's
        ``messages`` field takes a ``limit`` only; one request either way, and the answers made
        before ``since`` are left out here."""
        page = self._page_id()
        if messaging.is_direct(target):
            found = messaging.recent_direct(
                self.graph, page, target, frozenset({page}), platform="messenger", limit=limit
            )
            return made_since(found, since)
        found = messaging.recent_comment_replies(
            self.graph,
            target,
            frozenset({page}),
            edge="comments",
            params={
                "fields": "id,message,created_time,from",
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": 100,
            },
            text_field="message",
            time_field="created_time",
            limit=limit,
        )
        return made_since(found, since)

    # -- inbound and metrics ---------------------------------------------------------------------

    def fetch_messages(self, since: str | None) -> MessagePage:
        after = _time(since)
        newest = after
        messages: list[InboundMessage] = []
        page = self._page_id()
        for post in self.recent_posts(limit=RECENT_POSTS):
            assert post.remote_id is not None
            body = self.graph.get(
                f"{post.remote_id}/comments",
                operation="comments",
                params={
                    "fields": COMMENT_FIELDS,
                    "filter": "stream",
                    "order": "reverse_chronological",
                    "limit": 50,
                },
            )
            for item in body.get("data") or []:
                message = (
                    self._comment(item, post.remote_id, page) if isinstance(item, dict) else None
                )
                if message is None or (after is not None and message.created_at <= after):
                    continue
                messages.append(message)
                newest = max(newest, message.created_at) if newest else message.created_at
        for direct in messaging.fetch_direct(
            self.graph,
            page,
            lambda: frozenset({page}),
            platform="messenger",
            network=NETWORK,
            after=after,
        ):
            messages.append(direct)
            newest = max(newest, direct.created_at) if newest else direct.created_at
        messages.sort(key=lambda m: m.created_at)
        return MessagePage(
            messages=messages, cursor=newest.isoformat() if newest is not None else since
        )

    @staticmethod
    def _comment(item: Mapping[str, Any], post_id: str, page: str) -> InboundMessage | None:
        comment_id, created = _id(item.get("id")), _time(item.get("created_time"))
        raw_author = item.get("from")
        author: Mapping[str, Any] = raw_author if isinstance(raw_author, dict) else {}
        author_id = _id(author.get("id"))
        if comment_id is None or created is None or author_id == page:
            return None  # undocumented shape, or the Page's own comment
        raw_parent = item.get("parent")
        parent = _id(raw_parent.get("id")) if isinstance(raw_parent, dict) else None
        name = _str(author.get("name")) or ""
        # Without the Page Public Content Access feature, Graph omits ``from`` for people
        # who have not granted the app anything: the comment still counts, anonymously.
        return InboundMessage(
            remote_id=comment_id,
            kind=MessageKind.reply if parent else MessageKind.comment,
            author=Author(
                remote_id=author_id or f"anonymous:{comment_id}",
                handle=author_id or "anonymous",
                display_name=name,
            ),
            text=_str(item.get("message")) or "",
            created_at=created,
            conversation_id=post_id,
            in_reply_to=parent or post_id,
            url=_str(item.get("permalink_url")),
            raw=dict(item),
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        now = dt.datetime.now(dt.UTC)
        out = []
        for post_id in dict.fromkeys(remote_ids):
            insights = self.graph.get(
                f"{post_id}/insights", operation="insights", params={"metric": ",".join(INSIGHTS)}
            )
            values: dict[str, int] = {}
            for metric in insights.get("data") or []:
                if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
                    continue
                points = metric.get("values") or []
                first = points[0] if points and isinstance(points[0], dict) else {}
                value = _count(first.get("value"))
                if value is not None:
                    values[metric["name"]] = value
            summary = self.graph.get(
                post_id, operation="post summary", params={"fields": SUMMARY_FIELDS}
            )
            out.append(
                PostMetrics(
                    remote_id=post_id,
                    observed_at=now,
                    impressions=values.get("post_impressions"),
                    reach=values.get("post_impressions_unique"),
                    clicks=values.get("post_clicks"),
                    likes=_summary_total(summary.get("reactions")),
                    replies=_summary_total(summary.get("comments")),
                    reposts=_count((summary.get("shares") or {}).get("count"))
                    if isinstance(summary.get("shares"), dict)
                    else 0,  # Graph omits ``shares`` on a post nobody shared
                )
            )
        return out


def _summary_total(edge: Any) -> int | None:
    if not isinstance(edge, dict) or not isinstance(edge.get("summary"), dict):
        return None
    return _count(edge["summary"].get("total_count"))
