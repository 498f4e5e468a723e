"""User-generated content (UGC): customers' public posts about the brand with a positive
sentiment (and, where the network says so, media), as candidates to reuse; and the rights
requests a person of the team makes from the inbox, with their status (requested, granted,
refused) and the rights granted.

Candidates come from the inbox (inbound public messages — mentions, comments, replies,
posts — enriched once at ingest) and from listening (mentions matched by a *brand* query).
Media: a message counts as having media when its text links an image or video file, or the
provider's stored reference names an attachment (:func:`has_media`).

Partial: most providers keep only string fields of the raw item in ``inbox_messages.ref``,
so attachments that a network reports as nested objects are not seen, and the sandbox's
people never post media; the "media only" filter then finds nothing there. Asking is
recorded here; the question itself is written and sent by the person from the inbox.

Who may do what: ``audience.read`` to list, ``audience.manage`` to record requests and
answers. Services flush; the caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.core.clock import utcnow
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.inbox.models import Message
from dialogo.influence.models import RightsStatus, UgcRightsRequest
from dialogo.listening.models import ListeningQuery, Mention, MentionMatch

PUBLIC_KINDS = ("mention", "comment", "reply", "post")
MEDIA_URL = re.compile(
    r"https?://\S+\.(?:jpe?g|png|gif|webp|heic|mp4|mov|webm)(?:\?\S*)?(?:\s|$)", re.IGNORECASE
)
MEDIA_KEYS = re.compile(r"(media|image|photo|video|attachment|thumbnail|embed)", re.IGNORECASE)
MAX_LIMIT = 200


def has_media(text: str, ref: Mapping[str, Any] | None = None) -> bool:
    """Whether a post carries an image or a video, from what Dialogo stored of it."""
    if MEDIA_URL.search(text or ""):
        return True
    return any(
        MEDIA_KEYS.search(str(key)) and value not in (None, "", [], {}, False)
        for key, value in (ref or {}).items()
    )


@dataclasses.dataclass(frozen=True)
class Candidate:
    item_key: str  # "message:<id>" or "mention:<id>"
    source: str  # inbox | listening
    author_handle: str
    author_name: str
    contact_id: int | None
    conversation_id: int | None
    text: str
    url: str | None
    posted_at: dt.datetime
    sentiment: float
    media: bool
    request_id: int | None
    status: str | None


def candidates(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    media_only: bool = False,
    include_requested: bool = False,
    min_sentiment: float = 0.3,
    limit: int = 50,
) -> list[Candidate]:
    """Positive public posts about the brand, most positive (with media first) and newest
    first; those already asked about are left out unless ``include_requested``."""
    authorize(session, principal, workspace_id, Permission.audience_read)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must lie in 1 … {MAX_LIMIT}", field="limit")
    if not -1.0 <= min_sentiment <= 1.0:
        raise InvalidInput("min_sentiment must lie in -1 … 1", field="min_sentiment")
    requests = {
        r.item_key: r
        for r in session.scalars(
            select(UgcRightsRequest).where(UgcRightsRequest.workspace_id == workspace_id)
        )
    }
    scan = limit * 5 + len(requests)
    found: list[Candidate] = []
    messages = session.scalars(
        select(Message)
        .where(
            Message.workspace_id == workspace_id,
            Message.direction == "inbound",
            Message.kind.in_(PUBLIC_KINDS),
            Message.sentiment_label == "positive",
            Message.sentiment >= min_sentiment,
        )
        .order_by(Message.sentiment.desc(), Message.created_at.desc(), Message.id)
        .limit(scan)
    )
    for m in messages:
        key = f"message:{m.id}"
        request = requests.get(key)
        found.append(
            Candidate(
                item_key=key,
                source="inbox",
                author_handle=m.author_handle,
                author_name=m.author_name,
                contact_id=m.contact_id,
                conversation_id=m.conversation_id,
                text=m.text,
                url=m.url,
                posted_at=m.created_at,
                sentiment=float(m.sentiment or 0.0),
                media=has_media(m.text, m.ref),
                request_id=request.id if request else None,
                status=request.status if request else None,
            )
        )
    brand_match = exists(
        select(MentionMatch.mention_id)
        .join(ListeningQuery, ListeningQuery.id == MentionMatch.query_id)
        .where(MentionMatch.mention_id == Mention.id, ListeningQuery.kind == "brand")
    )
    mentions = session.scalars(
        select(Mention)
        .where(
            Mention.workspace_id == workspace_id,
            brand_match,
            or_(
                Mention.corrected_label == "positive",
                and_(Mention.corrected_label.is_(None), Mention.label == "positive"),
            ),
            Mention.sentiment >= min_sentiment,
        )
        .order_by(Mention.sentiment.desc(), Mention.posted_at.desc(), Mention.id)
        .limit(scan)
    )
    for mention in mentions:
        key = f"mention:{mention.id}"
        request = requests.get(key)
        found.append(
            Candidate(
                item_key=key,
                source="listening",
                author_handle=mention.author_handle,
                author_name=mention.author_name,
                contact_id=None,
                conversation_id=None,
                text=mention.text,
                url=mention.url,
                posted_at=mention.posted_at,
                sentiment=float(mention.sentiment),
                media=has_media(mention.text),
                request_id=request.id if request else None,
                status=request.status if request else None,
            )
        )
    if media_only:
        found = [c for c in found if c.media]
    if not include_requested:
        found = [c for c in found if c.request_id is None]
    found.sort(key=lambda c: (not c.media, -round(c.sentiment, 2), -c.posted_at.timestamp()))
    return found[:limit]


def _item(session: Session, workspace_id: int, item_key: str) -> dict[str, Any]:
    kind, _, raw_id = item_key.partition(":")
    if kind not in ("message", "mention") or not raw_id.isdigit():
        raise InvalidInput(f"{item_key!r} is not message:<id> or mention:<id>", field="item_key")
    if kind == "message":
        message = session.get(Message, int(raw_id))
        if message is None or message.workspace_id != workspace_id:
            raise NotFound("no such message")
        if message.direction != "inbound" or message.kind not in PUBLIC_KINDS:
            raise InvalidInput("only a customer's public post can be reused", field="item_key")
        return {
            "message_id": message.id,
            "contact_id": message.contact_id,
            "author_handle": message.author_handle,
            "url": message.url,
            "text": message.text,
        }
    mention = session.get(Mention, int(raw_id))
    if mention is None or mention.workspace_id != workspace_id:
        raise NotFound("no such mention")
    return {
        "mention_id": mention.id,
        "author_handle": mention.author_handle,
        "url": mention.url,
        "text": mention.text,
    }


def request_rights(
    session: Session,
    principal: Principal,
    workspace_id: int,
    item_key: str,
    request_text: str,
) -> UgcRightsRequest:
    """Record that a person asked the author of ``item_key`` for the right to reuse it (what
    they asked, as they wrote it in the inbox). Audited."""
    authorize(session, principal, workspace_id, Permission.audience_manage)
    request_text = request_text.strip()
    if not request_text:
        raise InvalidInput("write what you asked the author", field="request_text")
    if len(request_text) > 4000:
        raise InvalidInput("the request is longer than 4000 characters", field="request_text")
    item = _item(session, workspace_id, item_key)
    if session.scalar(
        select(UgcRightsRequest.id).where(
            UgcRightsRequest.workspace_id == workspace_id, UgcRightsRequest.item_key == item_key
        )
    ):
        raise Conflict("the author of this post was already asked")
    now = utcnow()
    request = UgcRightsRequest(
        workspace_id=workspace_id,
        item_key=item_key,
        request_text=request_text,
        status=RightsStatus.requested.value,
        rights="",
        requested_by=principal.user_id,
        requested_at=now,
        updated_at=now,
        **item,
    )
    session.add(request)
    session.flush()
    return request


def record_answer(
    session: Session,
    principal: Principal,
    workspace_id: int,
    request_id: int,
    status: str,
    rights: str = "",
) -> UgcRightsRequest:
    """The author's answer: ``granted`` with the rights given (uses, period: required) or
    ``refused``. A grant can later be withdrawn (``refused``). Audited."""
    authorize(session, principal, workspace_id, Permission.audience_manage)
    request = get_request(session, principal, workspace_id, request_id)
    if status not in (RightsStatus.granted.value, RightsStatus.refused.value):
        raise InvalidInput("the answer is granted or refused", field="status")
    rights = rights.strip()
    if status == RightsStatus.granted.value and not rights:
        raise InvalidInput("say which rights were granted (uses, channels, period)", field="rights")
    if len(rights) > 4000:
        raise InvalidInput("the rights are longer than 4000 characters", field="rights")
    if request.status == status and request.rights == rights:
        return request
    now = utcnow()
    request.status = status
    request.rights = rights if status == RightsStatus.granted.value else ""
    request.decided_at = now
    request.updated_at = now
    session.flush()
    return request


def get_request(
    session: Session, principal: Principal, workspace_id: int, request_id: int
) -> UgcRightsRequest:
    authorize(session, principal, workspace_id, Permission.audience_read)
    request = session.get(UgcRightsRequest, request_id)
    if request is None or request.workspace_id != workspace_id:
        raise NotFound("no such rights request")
    return request


def list_requests(
    session: Session, principal: Principal, workspace_id: int, *, status: str | None = None
) -> list[UgcRightsRequest]:
    authorize(session, principal, workspace_id, Permission.audience_read)
    query = select(UgcRightsRequest).where(UgcRightsRequest.workspace_id == workspace_id)
    if status:
        if status not in {s.value for s in RightsStatus}:
            raise InvalidInput("status is requested, granted or refused", field="status")
        query = query.where(UgcRightsRequest.status == status)
    return list(
        session.scalars(
            query.order_by(UgcRightsRequest.requested_at.desc(), UgcRightsRequest.id.desc())
        )
    )
