"""LinkedIn organization (company) pages through LinkedIn's Community Management APIs.

Connecting: OAuth 2 authorization code ("3-legged OAuth",
https://learn.microsoft.com/linkedin/shared/authentication/authorization-code-flow) **without
PKCE**: LinkedIn enables PKCE only for native apps that answer on a loopback address, on
request ("Authorization Code Flow for Native Client"); a web server such as Dialogo is a
confidential client with a ``client_secret``. The person, an administrator of the page, grants
:data:`SCOPES` at ``www.linkedin.com/oauth/v2/authorization``; the code is exchanged at
``www.linkedin.com/oauth/v2/accessToken`` with the ``client_id``/``client_secret`` in the form
body, as LinkedIn documents it. Access tokens last 60 days; apps with refresh tokens get one
(365 days) and :meth:`LinkedInProvider.refresh` uses it. The page is ``config["organization_id"]``.

What maps to what (see :mod:`dialogo.providers.linkedin.client` for the headers and errors):

- a **post** is ``POST /rest/posts`` (the Posts API) with ``author`` the organization URN, the
  ``commentary`` (3,000 characters at most, written in LinkedIn's "little text" format, where
  the reserved characters ``| { } @ [ ] ( ) < > # \\ * _ ~`` are escaped with a backslash so
  they show as typed), ``visibility: PUBLIC`` and the main-feed distribution; LinkedIn answers
  201 with the post's URN in the ``x-restli-id`` header;
- **images** (JPEG, PNG, GIF) go through the Images API first: ``POST
  /rest/images?action=initializeUpload`` gives an upload URL and an image URN, the bytes are
  ``PUT`` there; one image is ``content.media``, 2 to 20 are ``content.multiImage``;
- a **video** (one per post, never with images; MP4, 75 KB to 500 MB, 3 seconds to 30
  minutes: "Videos API", https://learn.microsoft.com/linkedin/marketing/community-management/shares/videos-api)
  goes through the Videos API: ``POST /rest/videos?action=initializeUpload`` (the owner, the
  size, no captions nor thumbnail) answers the video URN, an ``uploadToken`` and
  ``uploadInstructions`` (a URL per byte range, 4 MB parts); each part is ``PUT`` to its URL
  and its ``ETag`` kept; ``POST /rest/videos?action=finalizeUpload`` sends the ETags in order.
  LinkedIn then processes the video, which makes the provider ``slow_media``: :meth:`publish`
  returns a ``pending`` result holding the URN, :meth:`check_status` reads
  ``GET /rest/videos/{urn}`` once (``WAITING_UPLOAD`` and ``PROCESSING`` are still pending,
  ``PROCESSING_FAILED`` is :class:`InvalidPayload` with LinkedIn's
  ``processingFailureReason``, ``AVAILABLE`` is ready) and :meth:`finalise` creates the post
  with ``content.media.id`` the video. The post is only ever made by ``finalise`` (a short
  claim of the dispatcher of its own). An upload longer than the request deadline is
  **resumable** (:mod:`dialogo.providers.uploads`): the parts that fit are sent and an
  ``uploading`` checkpoint (the URN, upload token, parts' URLs and ranges, the ETags so far,
  ``uploadUrlsExpireAt``) comes back; :meth:`LinkedInProvider.resume_upload` goes on from it
  (a part sent but not recorded is ``PUT`` again to its URL, which replaces it). A session
  whose URLs are about to expire, or that LinkedIn refuses on resume (a signed URL answering
  401/403 is read as expired, never as the channel's token), is begun again once from
  ``initializeUpload``; the unfinished video is left to LinkedIn (nothing refers to it). A
  5xx or 429 mid-upload keeps the checkpoint. Documents are not supported;
- **inbound** messages are the comments on the page's 10 latest posts
  (``GET /rest/socialActions/<post urn>/comments``), newer than the cursor (the newest
  ``created.time`` seen, ms); a comment with a ``parentComment`` is a ``reply``; the page's
  own comments are skipped. A **reply** is a comment whose ``parentComment`` is the comment
  answered, posted as the organization;
- **metrics** come from ``GET /rest/organizationalEntityShareStatistics`` for the posts
  (impressions, unique impressions as reach, clicks, likes, comments, shares);
- **reconciliation**: :meth:`recent_posts` is the Posts API's ``q=author`` finder, newest
  created first, paged by ``start``/``count`` until the limit or LinkedIn's last page.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from dialogo.core.i18n import N_, Nn_, Plural
from dialogo.providers import uploads
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
    collect_pages,
)
from dialogo.providers.errors import InvalidPayload, ProviderError, ReauthRequired, TransientError
from dialogo.providers.fields import integer as _int
from dialogo.providers.fields import mapping as _map
from dialogo.providers.fields import text as _str
from dialogo.providers.http import send_raw
from dialogo.providers.linkedin.client import NETWORK, LinkedInClient, error_for
from dialogo.providers.oauth import authorization_request, credentials_from_token
from dialogo.providers.video import video_issues

AUTHORIZE_URL = "https://www.linkedin.com/oauth/v2/authorization"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"  # noqa: S105 - an address
SCOPES = ("r_organization_social", "w_organization_social", "rw_organization_admin")
TEXT_LIMIT = 3000
MAX_IMAGES = 20
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
#: LinkedIn documents a pixel cap (36,152,320 pixels) rather than a byte cap for the Images
#: API; this byte cap is Dialogo's own guard against absurd uploads, and pixels are not
#: checked here.
MAX_IMAGE_BYTES = 100 * 1024 * 1024
#: Videos, from the Videos API's "Video specifications": MP4, 75 KB to 500 MB, 3 seconds to
#: 30 minutes; one per post.
VIDEO_TYPES = frozenset({"video/mp4"})
MIN_VIDEO_BYTES = 75 * 1024
MAX_VIDEO_BYTES = 500 * 1024 * 1024
MIN_VIDEO_SECONDS = 3.0
MAX_VIDEO_SECONDS = 30 * 60.0
#: ``GET /rest/videos/{urn}`` statuses while LinkedIn is not done with a video.
VIDEO_WAITING = frozenset({"PROCESSING", "WAITING_UPLOAD"})
ALT_TEXT_MAX = 4086
RECENT_POSTS = 10
#: The most posts one request of the Posts API's ``q=author`` finder lists (``count``: "max
#: 100, default 10").
POSTS_PAGE = 100
_RESERVED = set("|{}@[]()<>#\\*_~")


def little_text(text: str) -> str:
    """Escape LinkedIn's "little text" reserved characters so the text shows as typed."""
    return "".join("\\" + ch if ch in _RESERVED else ch for ch in text)


def _enc(urn: str) -> str:
    return urllib.parse.quote(urn, safe="")


def _ms(value: Any) -> dt.datetime | None:
    millis = _int(value)
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC) if millis is not None else None


def _next_start(body: Mapping[str, Any], *, start: int, count: int, listed: int) -> str | None:
    """The ``start`` of the page after one read at ``start`` for ``count`` posts (``listed``
    elements came), ``None`` when LinkedIn says there is none.

    LinkedIn's "Pagination" guide (learn.microsoft.com/linkedin/shared/api-guide/concepts/
    pagination): the next page starts at ``start + count``, and "you have reached the end of
    the dataset when your response contains fewer elements … than your count". The versioned
    finders also link the next page (``paging.links`` with ``rel: next``, its ``start`` in the
    ``href``); a link is followed even after a short page (posts LinkedIn filters out of a
    page are not the end of the listing), and a full page is followed even without one."""
    for link in _map(body.get("paging")).get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "next" and _str(link.get("href")):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(str(link["href"])).query)
            raw = query.get("start", [""])[0]
            linked = int(raw) if raw.isdigit() else -1
            return str(linked if linked > start else start + count)
    return str(start + listed) if listed >= count else None


class LinkedInProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="LinkedIn",
        auth=AuthKind.oauth2,
        text_limit=TEXT_LIMIT,
        media=MediaRules(
            max_items=MAX_IMAGES,
            image_types=IMAGE_TYPES,
            video_types=VIDEO_TYPES,
            max_image_bytes=MAX_IMAGE_BYTES,
            max_video_bytes=MAX_VIDEO_BYTES,
            alt_text_max=ALT_TEXT_MAX,
            max_videos=1,
            min_video_bytes=MIN_VIDEO_BYTES,
            min_video_seconds=MIN_VIDEO_SECONDS,
            max_video_seconds=MAX_VIDEO_SECONDS,
        ),
        threads=False,
        replies=True,
        metrics=True,
        slow_media=True,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "client_id",
            "LinkedIn app client id",
            kind=ConnectFieldKind.config,
            help="The Client ID of your app in the LinkedIn developer portal "
            "(with the Community Management API product).",
        ),
        ConnectField(
            "client_secret",
            "LinkedIn app client secret",
            kind=ConnectFieldKind.extra,
            secret=True,
            help="The Primary Client Secret shown next to it.",
        ),
        ConnectField(
            "organization_id",
            "Organization id",
            kind=ConnectFieldKind.config,
            help="The number in your page's admin address: linkedin.com/company/<id>/admin.",
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
        self.client = LinkedInClient(
            self.http,
            credentials.access_token,
            base_url=self.config.get("base_url", ""),
            version=self.config.get("linkedin_version", ""),
        )

    @property
    def organization(self) -> str:
        org = self.config.get("organization_id", "").strip()
        if not org:
            raise InvalidPayload(
                "say which LinkedIn page to use (its organization id)",
                issues=["organization_id_required"],
                network=NETWORK,
            )
        return org if org.startswith("urn:li:organization:") else f"urn:li:organization:{org}"

    # -- auth ------------------------------------------------------------------------------------

    def authorization_url(self, *, redirect_uri: str, state: str) -> AuthorizationRequest:
        return authorization_request(
            self.config.get("authorize_url", AUTHORIZE_URL),
            client_id=self.config.get("client_id", ""),
            redirect_uri=redirect_uri,
            scopes=SCOPES,
            state=state,
            pkce=False,
        )

    def _token(self, form: Mapping[str, str], operation: str) -> Credentials:
        secret = self.credentials.extra.get("client_secret", "")
        if not secret:
            raise ReauthRequired("the LinkedIn client secret is missing", network=NETWORK)
        data = {**form, "client_id": self.config.get("client_id", ""), "client_secret": secret}
        request = self.http.build_request(
            "POST",
            self.config.get("token_url", TOKEN_URL),
            data=data,
            headers={"Accept": "application/json"},
        )
        response = send_raw(self.http, request, network=NETWORK)
        if response.status_code >= 400:
            error = error_for(response, operation=operation)
            if error.transient:
                raise error
            raise ReauthRequired(
                f"LinkedIn refused the authorisation ({error.message}): connect the page again",
                network=NETWORK,
            )
        try:
            body = response.json()
        except ValueError:
            raise TransientError(
                "LinkedIn's token endpoint answered with something that is not JSON",
                network=NETWORK,
            ) from None
        return credentials_from_token(body, now=dt.datetime.now(dt.UTC), network=NETWORK)

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> Credentials:
        return self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            "oauth/v2/accessToken",
        )

    def refresh(self) -> Credentials:
        if not self.credentials.refresh_token:
            raise ReauthRequired(
                "this LinkedIn app has no refresh token: the page must be connected again "
                "before the 60-day token expires",
                network=NETWORK,
            )
        return self._token(
            {"grant_type": "refresh_token", "refresh_token": self.credentials.refresh_token},
            "oauth/v2/accessToken (refresh)",
        )

    def verify(self) -> Account:
        org = self.organization
        body, _ = self.client.request(
            "GET", f"organizations/{org.rsplit(':', 1)[-1]}", operation="organization"
        )
        org_id = str(body.get("id") or org.rsplit(":", 1)[-1])
        name = _str(body.get("localizedName")) or org_id
        vanity = _str(body.get("vanityName"))
        return Account(
            remote_id=f"urn:li:organization:{org_id}",
            handle=vanity or org_id,
            display_name=name,
            url=f"https://www.linkedin.com/company/{vanity or org_id}/",
        )

    # -- validation ------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        if draft.thread:
            issues.append(ValidationIssue("threads", N_("LinkedIn has no threads"), "thread"))
        if len(draft.text) > TEXT_LIMIT:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character; a LinkedIn post holds %(text_limit)s",
                            "%(length)s characters; a LinkedIn post holds %(text_limit)s",
                        ),
                        count="length",
                    ),
                    params={"length": len(draft.text), "text_limit": TEXT_LIMIT},
                )
            )
        if not draft.text.strip() and not draft.media:
            issues.append(ValidationIssue("empty", N_("a post needs text or an image")))
        if draft.reply_to is not None:
            if not draft.text.strip():
                issues.append(ValidationIssue("empty", N_("a reply needs text")))
            if draft.media:
                issues.append(ValidationIssue("media", N_("a reply is text only here"), "media"))
            return issues
        if len(draft.media) > MAX_IMAGES:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_(
                            "%(count)s image; a LinkedIn post holds %(max_images)s",
                            "%(count)s images; a LinkedIn post holds %(max_images)s",
                        ),
                        count="count",
                    ),
                    "media",
                    params={"count": len(draft.media), "max_images": MAX_IMAGES},
                )
            )
        issues += video_issues(draft.media, self.capabilities.media, network="LinkedIn")
        for index, media in enumerate(draft.media):
            if not media.mime_type.startswith("video/"):
                issues += self._validate_media(media, f"media[{index}]")
        return issues

    @staticmethod
    def _validate_media(media: Media, field: str) -> list[ValidationIssue]:
        if media.mime_type not in IMAGE_TYPES:
            return [
                ValidationIssue(
                    "media_type",
                    N_(
                        "%(mime_type)s: LinkedIn images are JPEG, PNG or GIF (this type is not "
                        "supported here)"
                    ),
                    field,
                    params={"mime_type": media.mime_type},
                )
            ]
        issues = []
        if len(media.content) > MAX_IMAGE_BYTES:
            issues.append(
                ValidationIssue("media_too_large", N_("an image is at most 100 MB"), field)
            )
        if len(media.alt_text) > ALT_TEXT_MAX:
            issues.append(
                ValidationIssue(
                    "alt_text_too_long",
                    Plural(
                        Nn_(
                            "alt text holds %(alt_text_max)s character",
                            "alt text holds %(alt_text_max)s characters",
                        ),
                        count="alt_text_max",
                    ),
                    field,
                    params={"alt_text_max": ALT_TEXT_MAX},
                )
            )
        return issues

    # -- publishing ------------------------------------------------------------------------------

    def _upload_image(self, media: Media) -> str:
        body, _ = self.client.request(
            "POST",
            "images",
            query="action=initializeUpload",
            operation="images initializeUpload",
            json={"initializeUploadRequest": {"owner": self.organization}},
        )
        raw = body.get("value")
        value: dict[str, Any] = raw if isinstance(raw, dict) else {}
        upload_url, image = _str(value.get("uploadUrl")), _str(value.get("image"))
        if upload_url is None or image is None:
            raise ProviderError(
                "LinkedIn answered initializeUpload without an upload URL",
                code="linkedin_unexpected",
            )
        self.client.upload(upload_url, media.content, media.mime_type)
        return image

    @staticmethod
    def _post_url(urn: str) -> str:
        return f"https://www.linkedin.com/feed/update/{urn}/"

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "LinkedIn would reject this post: " + "; ".join(i.message for i in issues),
                issues=[f"{i.field}: {i.code}" for i in issues],
                network=NETWORK,
            )
        if draft.reply_to is not None:
            return self.reply(draft.reply_to, draft)
        video = next((m for m in draft.media if m.mime_type.startswith("video/")), None)
        if video is not None:
            return self._video_result(draft, *self._upload_video(video, None))
        images = [(self._upload_image(m), m.alt_text) for m in draft.media]
        content: dict[str, Any] | None = None
        if len(images) == 1:
            content = {"media": {"id": images[0][0], "altText": images[0][1]}}
        elif images:
            content = {
                "multiImage": {"images": [{"id": urn, "altText": alt} for urn, alt in images]}
            }
        return self._create_post(draft.text, content)

    def _video_session(self, media: Media) -> dict[str, str]:
        """``initializeUpload``: a new upload session, as its checkpoint (the video's URN, the
        upload token, the parts' URLs and byte ranges, the ETags collected so far, the file's
        size and when the upload URLs expire)."""
        body, _ = self.client.request(
            "POST",
            "videos",
            query="action=initializeUpload",
            operation="videos initializeUpload",
            json={
                "initializeUploadRequest": {
                    "owner": self.organization,
                    "fileSizeBytes": len(media.content),
                    "uploadCaptions": False,
                    "uploadThumbnail": False,
                }
            },
        )
        value = body.get("value")
        value = value if isinstance(value, dict) else {}
        urn = _str(value.get("video"))
        instructions = [i for i in value.get("uploadInstructions") or [] if isinstance(i, dict)]
        if urn is None or not instructions:
            raise ProviderError(
                "LinkedIn answered initializeUpload without a video or upload instructions",
                code="linkedin_unexpected",
            )
        parts = []
        for index, part in enumerate(instructions):
            url, first, last = (
                _str(part.get("uploadUrl")),
                _int(part.get("firstByte")),
                _int(part.get("lastByte")),
            )
            if url is None or first is None or last is None:
                raise ProviderError(
                    f"LinkedIn's upload instruction {index} has no URL or byte range",
                    code="linkedin_unexpected",
                )
            parts.append([url, first, last])
        expires = _ms(value.get("uploadUrlsExpireAt"))
        return {
            "video": urn,
            "upload_token": _str(value.get("uploadToken")) or "",
            "parts": json.dumps(parts),
            "etags": "[]",
            "total_bytes": str(len(media.content)),
            "expires_at": expires.isoformat() if expires else "",
        }

    def _upload_video(
        self, media: Media, checkpoint: Mapping[str, str] | None
    ) -> tuple[dict[str, str], bool]:
        """Send the video's parts from ``checkpoint`` (a new session when there is none, or it
        is for other bytes, or its URLs are about to expire) while they fit in the request
        deadline, then ``finalizeUpload`` with the ETags in order. The session, and whether
        the upload is finished (if not, the session is the checkpoint to resume from).

        A resumed session LinkedIn refuses (4xx) is begun again once, from
        ``initializeUpload``: the unfinished video is left to LinkedIn, nothing refers to it."""
        return uploads.resume(
            checkpoint,
            network=NETWORK,
            key="video",
            size=len(media.content),
            begin=lambda: self._video_session(media),
            send=lambda session, budget: self._send_parts(media, session, budget),
        )

    def _send_parts(
        self, media: Media, session: dict[str, str], budget: uploads.PartBudget
    ) -> bool:
        parts: list[list[Any]] = json.loads(session["parts"])
        etags: list[str] = json.loads(session["etags"])
        for index in range(len(etags), len(parts)):
            if not budget.fits():
                budget.pause(NETWORK, session)
                return False
            url, first, last = parts[index]
            with budget.part():
                headers = self.client.upload(
                    str(url),
                    media.content[int(first) : int(last) + 1],
                    "application/octet-stream",
                    operation=f"video part {index + 1} of {len(parts)}",
                    signed=True,
                )
            etag = headers.get("etag")
            if not etag:
                raise TransientError(
                    f"LinkedIn accepted video part {index + 1} without an ETag",
                    network=NETWORK,
                )
            etags.append(etag)
            session["etags"] = json.dumps(etags)
        if not budget.fits(final=True):
            budget.pause(NETWORK, session)
            return False
        self.client.request(
            "POST",
            "videos",
            query="action=finalizeUpload",
            operation="videos finalizeUpload",
            json={
                "finalizeUploadRequest": {
                    "video": session["video"],
                    "uploadToken": session["upload_token"],
                    "uploadedPartIds": etags,
                }
            },
        )
        return True

    def resume_upload(self, checkpoint: PublishResult, draft: Draft) -> PublishResult:
        """Go on with a video upload from its checkpoint (see :mod:`dialogo.providers.uploads`)."""
        video = next((m for m in draft.media if m.mime_type.startswith("video/")), None)
        if video is None:
            return self.publish(draft)
        return self._video_result(draft, *self._upload_video(video, checkpoint.state))

    @staticmethod
    def _video_result(draft: Draft, session: Mapping[str, str], done: bool) -> PublishResult:
        if not done:  # the deadline came first: the checkpoint, nothing posted
            return PublishResult(remote_id=None, pending=True, uploading=True, state=dict(session))
        # Always pending: the post is made by ``finalise`` (see the module docstring).
        return PublishResult(
            remote_id=None, pending=True, state={"video": session["video"], "text": draft.text}
        )

    def check_status(self, pending: PublishResult) -> PublishResult:
        """One ``GET /rest/videos/{urn}`` (never a wait)."""
        urn = pending.state.get("video", "")
        body, _ = self.client.request("GET", f"videos/{_enc(urn)}", operation="video status")
        status = _str(body.get("status")) or "PROCESSING"
        if status == "PROCESSING_FAILED":
            reason = _str(body.get("processingFailureReason")) or "no reason given"
            raise InvalidPayload(
                f"LinkedIn could not process the video ({reason})",
                issues=["video_processing_failed"],
                network=NETWORK,
                video=urn,
            )
        return PublishResult(
            remote_id=None,
            pending=status in VIDEO_WAITING,
            state={**pending.state, "status": status},
        )

    def finalise(self, ready: PublishResult) -> PublishResult:
        """The post, with the processed video as its ``content.media``."""
        media = {"id": ready.state.get("video", "")}
        return self._create_post(ready.state.get("text", ""), {"media": media})

    def _create_post(self, text: str, content: dict[str, Any] | None) -> PublishResult:
        post: dict[str, Any] = {
            "author": self.organization,
            "commentary": little_text(text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if content is not None:
            post["content"] = content
        _, headers = self.client.request("POST", "posts", operation="posts", json=post)
        urn = headers.get("x-restli-id") or headers.get("x-linkedin-id")
        if not urn:
            raise ProviderError(
                "LinkedIn created the post but answered without its id (x-restli-id)",
                code="linkedin_unexpected",
            )
        return PublishResult(remote_id=urn, url=self._post_url(urn), state={"text": text})

    def reply(self, target: RemoteRef, draft: Draft) -> PublishResult:
        """Answer a comment (``target.remote_id`` a comment URN, ``conversation_id`` its
        post) or comment on a post (``target.remote_id`` a post URN)."""
        is_comment = target.remote_id.startswith("urn:li:comment:")
        post = target.conversation_id if is_comment else target.remote_id
        if not post:
            raise InvalidPayload(
                "a LinkedIn reply needs the post the comment belongs to",
                issues=["conversation_id"],
                network=NETWORK,
            )
        comment: dict[str, Any] = {
            "actor": self.organization,
            "object": post,
            "message": {"text": draft.text},
        }
        if is_comment:
            comment["parentComment"] = target.remote_id
        body, headers = self.client.request(
            "POST",
            f"socialActions/{_enc(target.remote_id)}/comments",
            operation="comment",
            json=comment,
        )
        reply_id = _str(body.get("commentUrn")) or headers.get("x-restli-id")
        if not reply_id:
            raise ProviderError(
                "LinkedIn answered the comment without its id", code="linkedin_unexpected"
            )
        return PublishResult(remote_id=reply_id, state={"text": draft.text})

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """The organization's latest ``limit`` posts by the Posts API's ``q=author`` finder,
        ``sortBy=CREATED`` (newest created first: ``LAST_MODIFIED``, the default, would put
        an old post edited after the attempt ahead of the new one and make the listing look
        as if it reached back past the attempt), paged by ``start``/``count``:
        :func:`_next_start` says where each page ends."""
        author = _enc(self.organization)

        def page(cursor: str | None, count: int) -> tuple[list[PublishResult], str | None]:
            start = int(cursor or 0)
            body, _ = self.client.request(
                "GET",
                "posts",
                query=f"author={author}&q=author&count={count}&start={start}&sortBy=CREATED",
                operation="posts by author",
                headers={"X-RestLi-Method": "FINDER"},
            )
            elements = [item for item in body.get("elements") or [] if isinstance(item, dict)]
            posts = [self._listed(item) for item in elements if _str(item.get("id"))]
            return posts, _next_start(body, start=start, count=count, listed=len(elements))

        return collect_pages(page, limit=limit, page_size=POSTS_PAGE, since=since)

    def _listed(self, item: Mapping[str, Any]) -> PublishResult:
        urn = str(item["id"])
        created = _ms(item.get("createdAt")) or _ms(item.get("publishedAt"))
        return PublishResult(
            remote_id=urn,
            url=self._post_url(urn),
            state={
                "text": _str(item.get("commentary")) or "",
                "created_at": created.isoformat() if created else "",
            },
        )

    # -- inbound and metrics ---------------------------------------------------------------------

    def fetch_messages(self, since: str | None) -> MessagePage:
        after = dt.datetime.fromisoformat(since) if since else None
        newest = after
        messages: list[InboundMessage] = []
        me = self.organization
        for post in self.recent_posts(limit=RECENT_POSTS):
            assert post.remote_id is not None
            body, _ = self.client.request(
                "GET",
                f"socialActions/{_enc(post.remote_id)}/comments",
                query="count=50",
                operation="comments",
            )
            for item in body.get("elements") or []:
                message = (
                    self._comment(item, post.remote_id, me) if isinstance(item, dict) else None
                )
                if message is None or (after is not None and message.created_at <= after):
                    continue
                messages.append(message)
                newest = max(newest, message.created_at) if newest else message.created_at
        messages.sort(key=lambda m: m.created_at)
        return MessagePage(
            messages=messages, cursor=newest.isoformat() if newest is not None else since
        )

    @staticmethod
    def _comment(item: Mapping[str, Any], post: str, me: str) -> InboundMessage | None:
        urn = _str(item.get("commentUrn"))
        created_raw = item.get("created")
        created = _ms(created_raw.get("time")) if isinstance(created_raw, dict) else None
        actor = _str(item.get("actor"))
        if urn is None or created is None or actor is None or actor == me:
            return None
        message = item.get("message")
        text = _str(message.get("text")) if isinstance(message, dict) else None
        parent = _str(item.get("parentComment"))
        return InboundMessage(
            remote_id=urn,
            kind=MessageKind.reply if parent else MessageKind.comment,
            author=Author(remote_id=actor, handle=actor),
            text=text or "",
            created_at=created,
            conversation_id=post,
            in_reply_to=parent or post,
            raw=dict(item),
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        ids = list(dict.fromkeys(remote_ids))
        if not ids:
            return []
        shares = [i for i in ids if i.startswith("urn:li:share:")]
        ugc = [i for i in ids if not i.startswith("urn:li:share:")]
        query = f"q=organizationalEntity&organizationalEntity={_enc(self.organization)}"
        if shares:
            query += "&shares=List(" + ",".join(_enc(i) for i in shares) + ")"
        if ugc:
            query += "&ugcPosts=List(" + ",".join(_enc(i) for i in ugc) + ")"
        body, _ = self.client.request(
            "GET", "organizationalEntityShareStatistics", query=query, operation="share statistics"
        )
        now = dt.datetime.now(dt.UTC)
        found: dict[str, PostMetrics] = {}
        for item in body.get("elements") or []:
            if not isinstance(item, dict):
                continue
            urn = _str(item.get("share")) or _str(item.get("ugcPost"))
            stats = item.get("totalShareStatistics")
            if urn is None or not isinstance(stats, dict):
                continue
            found[urn] = PostMetrics(
                remote_id=urn,
                observed_at=now,
                impressions=_int(stats.get("impressionCount")),
                reach=_int(stats.get("uniqueImpressionsCount")),
                clicks=_int(stats.get("clickCount")),
                likes=_int(stats.get("likeCount")),
                replies=_int(stats.get("commentCount")),
                reposts=_int(stats.get("shareCount")),
            )
        return [found[i] for i in ids if i in found]
