"""Links: a UTM builder with naming conventions, short links served by Dialogo at ``/l/<code>``,
and click counting that filters bots and keeps nothing personal.

UTM naming conventions (applied by :func:`utm_value`): lower case, accents removed, anything
but letters, digits, ``-`` and ``_`` becomes ``-``; ``utm_source`` is the network (``bluesky``,
``sandbox``…), ``utm_medium`` is ``social`` (or ``paid-social`` for boosted posts),
``utm_campaign`` the campaign's name, ``utm_content`` ``post-<id>`` when the link belongs to a
post. A campaign's ``utm`` dict overrides the defaults; explicit values override both.

Clicks: a user agent that :mod:`crawlerdetect` recognises (or none at all) is a bot; a visitor
making :data:`FLOOD_LIMIT` or more clicks on one link within :data:`FLOOD_WINDOW` is a flood, and
*all* of that burst is uncounted. A visitor is ``sha256(daily salt | workspace | address | user
agent)``: the salt is random, lives one day (plus one for clicks around midnight) and is then
deleted, so unique visitors per day can be counted and nobody can later recover who they were.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import string
import unicodedata
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crawlerdetect import CrawlerDetect  # type: ignore[import-untyped]
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.analytics.models import LinkClick, ShortLink, VisitorSalt
from dialogo.analytics.schemas import LinkCreate
from dialogo.channels.models import Channel
from dialogo.core.errors import InvalidInput, NotFound
from dialogo.publishing.models import Campaign, Post

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 7
FLOOD_LIMIT = 5
FLOOD_WINDOW = dt.timedelta(minutes=10)

_detector = CrawlerDetect()


def utm_value(value: str) -> str:
    """A UTM value by the conventions: ``"Saldi d'Estate 2026"`` → ``saldi-d-estate-2026``."""
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    out = "".join(c if c.isalnum() or c in "-_" else "-" for c in plain.lower().strip())
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{url!r} is not an http(s) address", code="invalid_url", field="url")
    return url.strip()


def build_utm_url(url: str, tags: dict[str, str | None]) -> str:
    """``url`` with the UTM ``tags`` (normalised, empty ones dropped) replacing any it had;
    its other query parameters and fragment are kept."""
    parts = urlsplit(check_url(url))
    unknown = set(tags) - set(UTM_KEYS)
    if unknown:
        raise InvalidInput(f"unknown UTM tags: {', '.join(sorted(unknown))}", code="invalid_utm")
    clean = {k: utm_value(v) for k, v in tags.items() if v and utm_value(v)}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in clean]
    query += [(k, clean[k]) for k in UTM_KEYS if k in clean]
    return urlunsplit(parts._replace(query=urlencode(query)))


def default_utm(
    *, network: str | None, campaign: Campaign | None, post_id: int | None, paid: bool = False
) -> dict[str, str | None]:
    tags: dict[str, str | None] = {
        "utm_source": network,
        "utm_medium": "paid-social" if paid else "social",
        "utm_campaign": campaign.name if campaign is not None else None,
        "utm_content": f"post-{post_id}" if post_id else None,
    }
    if campaign is not None:
        tags.update({k: str(v) for k, v in (campaign.utm or {}).items() if k in UTM_KEYS})
    return tags


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _in_workspace(session: Session, model: Any, row_id: int | None, workspace_id: int) -> Any:
    if row_id is None:
        return None
    row = session.get(model, row_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound(f"{model.__tablename__[:-1]} {row_id} not found")
    return row


def create_link(
    session: Session, principal: Principal, workspace_id: int, data: LinkCreate
) -> ShortLink:
    authorize(session, principal, workspace_id, Permission.posts_write)
    campaign = _in_workspace(session, Campaign, data.campaign_id, workspace_id)
    channel = _in_workspace(session, Channel, data.channel_id, workspace_id)
    post = _in_workspace(session, Post, data.post_id, workspace_id)
    tags = default_utm(
        network=channel.network if channel is not None else None,
        campaign=campaign,
        post_id=post.id if post is not None else None,
        paid=data.paid,
    )
    tags.update({k: v for k, v in data.utm.items() if v is not None})
    destination = build_utm_url(data.url, tags)
    for _ in range(5):
        code = _new_code()
        if session.scalar(select(ShortLink.id).where(ShortLink.code == code)) is None:
            break
    link = ShortLink(
        workspace_id=workspace_id,
        code=code,
        destination=destination,
        utm={k: utm_value(v) for k, v in tags.items() if v and utm_value(v)},
        campaign_id=data.campaign_id,
        channel_id=data.channel_id,
        post_id=data.post_id,
        created_by=principal.user_id,
    )
    session.add(link)
    session.flush()
    return link


def list_links(
    session: Session, principal: Principal, workspace_id: int, *, campaign_id: int | None = None
) -> list[ShortLink]:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    query = select(ShortLink).where(ShortLink.workspace_id == workspace_id)
    if campaign_id is not None:
        query = query.where(ShortLink.campaign_id == campaign_id)
    return list(session.scalars(query.order_by(ShortLink.id.desc())))


def link_by_code(session: Session, code: str) -> ShortLink:
    link = session.scalar(select(ShortLink).where(ShortLink.code == code))
    if link is None:
        raise NotFound("this short link does not exist", code="link_not_found")
    return link


# -- visitors and clicks --------------------------------------------------------------------------


def daily_salt(session: Session, day: dt.date) -> str:
    salt = session.get(VisitorSalt, day)
    if salt is not None:
        return salt.salt
    try:
        with session.begin_nested():
            session.add(VisitorSalt(day=day, salt=secrets.token_hex(32)))
    except IntegrityError:  # another request made it first
        pass
    found = session.get(VisitorSalt, day)
    assert found is not None
    return found.salt


def forget_old_salts(session: Session, *, now: dt.datetime) -> int:
    """Delete the salts older than yesterday (after which visitors cannot be re-identified)."""
    cutoff = now.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    result = session.execute(delete(VisitorSalt).where(VisitorSalt.day < cutoff))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def visitor_id(
    session: Session, workspace_id: int, address: str | None, user_agent: str, now: dt.datetime
) -> str:
    salt = daily_salt(session, now.astimezone(dt.UTC).date())
    raw = f"{salt}|{workspace_id}|{address or '-'}|{user_agent}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def is_bot(user_agent: str) -> bool:
    return not user_agent.strip() or bool(_detector.isCrawler(user_agent))


def record_click(
    session: Session,
    code: str,
    *,
    address: str | None,
    user_agent: str,
    now: dt.datetime,
) -> ShortLink:
    """Record a request to the short link and return it (its ``destination`` is where to go)."""
    link = link_by_code(session, code)
    visitor = visitor_id(session, link.workspace_id, address, user_agent, now)
    click = LinkClick(workspace_id=link.workspace_id, link_id=link.id, at=now, visitor=visitor)
    if is_bot(user_agent):
        click.counted, click.rejected_reason = False, "bot"
    else:
        recent = session.scalar(
            select(func.count(LinkClick.id)).where(
                LinkClick.link_id == link.id,
                LinkClick.visitor == visitor,
                LinkClick.at > now - FLOOD_WINDOW,
            )
        )
        if (recent or 0) + 1 >= FLOOD_LIMIT:
            click.counted, click.rejected_reason = False, "flood"
            session.execute(
                update(LinkClick)
                .where(
                    LinkClick.link_id == link.id,
                    LinkClick.visitor == visitor,
                    LinkClick.at > now - FLOOD_WINDOW,
                )
                .values(counted=False, rejected_reason="flood")
            )
    session.add(click)
    session.flush()
    return link


def link_stats(session: Session, link_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per link: counted clicks, rejected requests, unique visitors (per day, summed)."""
    stats = {i: {"clicks": 0, "rejected": 0, "unique_visitors": 0} for i in link_ids}
    if not link_ids:
        return stats
    rows = session.execute(
        select(LinkClick.link_id, LinkClick.counted, func.count(LinkClick.id))
        .where(LinkClick.link_id.in_(link_ids))
        .group_by(LinkClick.link_id, LinkClick.counted)
    ).all()
    for link_id, counted, n in rows:
        stats[link_id]["clicks" if counted else "rejected"] += int(n)
    # A visitor hash is per day, so distinct hashes are daily unique visitors, summed.
    uniques = session.execute(
        select(LinkClick.link_id, func.count(func.distinct(LinkClick.visitor)))
        .where(LinkClick.link_id.in_(link_ids), LinkClick.counted.is_(True))
        .group_by(LinkClick.link_id)
    ).all()
    for link_id, n in uniques:
        stats[link_id]["unique_visitors"] = int(n)
    return stats
