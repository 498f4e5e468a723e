"""What happens in the simulated world, as immutable event records.

Field names follow :mod:`dialogo.providers.base` where there is a counterpart (``Message.kind``
takes the values of ``MessageKind``; ``remote_id``, ``conversation_id``, ``in_reply_to`` mean
the same), so the sandbox provider maps them one to one. People are person ids (ints): the
world turns them into handles and profiles (:meth:`World.author`). Every message also carries
its *true* labels: sentiment, topic, language, intent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, ClassVar, Literal

MessageKindName = Literal["post", "mention", "comment", "direct", "reply"]
SentimentName = Literal["neg", "neu", "pos"]
IntentName = Literal["question", "complaint", "praise", "other"]
ActionName = Literal["like", "repost", "click"]
ViaName = Literal["follower", "algorithmic", "paid", "cascade", "advocate"]


@dataclasses.dataclass(frozen=True, slots=True)
class BrandPost:
    """A post published by a brand's account."""

    type: ClassVar[str] = "brand_post"
    id: str
    at: dt.datetime
    brand: str  # handle
    text: str
    topic: str
    language: str
    media: bool
    link: str | None
    paid_budget_eur: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """Something a person writes: a public post, a mention of a brand, a comment under a
    brand's post, a private message to a brand, or a reply in a conversation."""

    type: ClassVar[str] = "message"
    id: str
    at: dt.datetime
    author: int
    kind: MessageKindName
    text: str
    language: str
    sentiment: SentimentName
    topic: str
    intent: IntentName
    brand: str | None  # handle of the brand it is about or addressed to
    conversation_id: str
    in_reply_to: str | None = None
    aspect: str | None = None  # product, price, delivery, service, store, app
    expects_answer: bool = False
    followup: str | None = None  # for replies in a conversation: thanks, late, waiting, …


@dataclasses.dataclass(frozen=True, slots=True)
class BrandReply:
    """A brand's team answering a message (only while the brand is on autopilot)."""

    type: ClassVar[str] = "brand_reply"
    id: str
    at: dt.datetime
    brand: str
    text: str
    language: str
    in_reply_to: str
    conversation_id: str
    delay_hours: float
    private: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Engagement:
    """A like, repost or link click on a brand's post."""

    type: ClassVar[str] = "engagement"
    id: str
    at: dt.datetime
    person: int
    post_id: str
    brand: str
    action: ActionName
    via: ViaName
    source: int | None = None  # whose repost the person saw (cascades)


@dataclasses.dataclass(frozen=True, slots=True)
class Purchase:
    """An order placed after clicking a brand post's link."""

    type: ClassVar[str] = "purchase"
    id: str
    at: dt.datetime
    person: int
    brand: str
    post_id: str
    click_id: str
    value_eur: float


@dataclasses.dataclass(frozen=True, slots=True)
class Follow:
    type: ClassVar[str] = "follow"
    id: str
    at: dt.datetime
    person: int
    brand: str


Event = BrandPost | Message | BrandReply | Engagement | Purchase | Follow


def sort_key(event: Event) -> tuple[dt.datetime, str]:
    return event.at, event.id


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (BrandPost, Message, BrandReply, Engagement, Purchase, Follow)
}


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-serialisable dict with a ``type`` field (datetimes in ISO 8601)."""
    result: dict[str, Any] = {"type": event.type}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        result[field.name] = value.isoformat() if isinstance(value, dt.datetime) else value
    return result


def event_from_dict(data: dict[str, Any]) -> Event:
    """The inverse of :func:`event_to_dict` (for providers that store events as JSON)."""
    values = dict(data)
    cls = EVENT_TYPES[values.pop("type")]
    values["at"] = dt.datetime.fromisoformat(values["at"])
    return cls(**values)
