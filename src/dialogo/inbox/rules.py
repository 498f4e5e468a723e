"""Inbox rules: conditions → actions, evaluated in a documented order.

Order: enabled rules by ``position``, then by id. Every rule whose conditions *all* hold is
applied, in that order; a matching rule with ``stop`` ends the evaluation. Later rules win
where actions conflict (the last ``assign_to`` is kept); tags add up; ``priority`` adds to the
conversation's priority with the reason ``rule``. Rules run at ingest, on conversations that
got new inbound messages, over those new messages (a rule matches when one of them matches).

Conditions (all optional; none means "every message"): ``channel_id``, ``kind``,
``language``, ``words`` (any of them, case-insensitive, whole words), ``sentiment_below``,
``followers_at_least``, ``question``, ``complaint``. Actions: ``tag``, ``assign_to`` (a
user id; ignored if that person may not reply in the inbox), ``priority`` (points),
``close`` (e.g. spam: closed, and tagged ``spam`` unless a tag is given), ``acknowledge``
(a saved reply's id: the automated acknowledgement; the last one wins).

Nothing is sent by a rule, except an ``acknowledge`` action in a workspace whose admin turned
automated acknowledgements on (:mod:`dialogo.inbox.acknowledge`): then the saved reply goes
out once per conversation, labelled as automated, unless the rules closed the conversation or
a person already answered it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

CONDITIONS = frozenset(
    {
        "channel_id",
        "kind",
        "language",
        "words",
        "sentiment_below",
        "followers_at_least",
        "question",
        "complaint",
    }
)
ACTIONS = frozenset({"tag", "assign_to", "priority", "close", "acknowledge"})


class RuleError(ValueError):
    """Why a rule is refused. ``reason`` names the refusals a person can make with the web
    form (the page words them in the reader's language); the shape errors only an API client
    can make have none and are shown as written."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


def validate(conditions: Mapping[str, Any], actions: Mapping[str, Any]) -> None:
    unknown = sorted(set(conditions) - CONDITIONS)
    if unknown:
        raise RuleError(f"unknown conditions: {', '.join(unknown)}")
    unknown = sorted(set(actions) - ACTIONS)
    if unknown:
        raise RuleError(f"unknown actions: {', '.join(unknown)}")
    if not actions:
        raise RuleError("a rule needs at least one action", reason="no_action")
    words = conditions.get("words")
    if words is not None and (
        not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words)
    ):
        raise RuleError("words is a list of non-empty texts")
    for key in ("kind", "language"):
        if key in conditions and not (isinstance(conditions[key], str) and conditions[key]):
            raise RuleError(f"{key} is a non-empty text")
    for key in ("question", "complaint"):
        if key in conditions and not isinstance(conditions[key], bool):
            raise RuleError(f"{key} is true or false")
    if "close" in actions and not isinstance(actions["close"], bool):
        raise RuleError("close is true or false")
    if "tag" in actions and not (isinstance(actions["tag"], str) and actions["tag"].strip()):
        raise RuleError("tag is a non-empty text")
    for key in ("sentiment_below",):
        if key in conditions and not isinstance(conditions[key], int | float):
            raise RuleError(f"{key} is a number")
    for key in ("channel_id", "followers_at_least", "assign_to", "priority", "acknowledge"):
        value = {**conditions, **actions}.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise RuleError(f"{key} is a whole number")


@dataclasses.dataclass(frozen=True)
class Facts:
    """What a rule can look at in one message."""

    channel_id: int
    kind: str
    language: str | None
    text: str
    sentiment: float | None
    followers: int | None
    is_question: bool
    is_complaint: bool


@dataclasses.dataclass(frozen=True)
class Rule:
    id: int
    position: int
    conditions: Mapping[str, Any]
    actions: Mapping[str, Any]
    stop: bool = False


def matches(conditions: Mapping[str, Any], facts: Facts) -> bool:
    c = conditions
    if "channel_id" in c and c["channel_id"] != facts.channel_id:
        return False
    if "kind" in c and c["kind"] != facts.kind:
        return False
    if "language" in c and c["language"] != facts.language:
        return False
    if "words" in c:
        pattern = r"\b(" + "|".join(re.escape(w.strip()) for w in c["words"]) + r")\b"
        if not re.search(pattern, facts.text, re.IGNORECASE):
            return False
    if "sentiment_below" in c and (
        facts.sentiment is None or facts.sentiment >= c["sentiment_below"]
    ):
        return False
    if "followers_at_least" in c and (facts.followers or 0) < c["followers_at_least"]:
        return False
    if "question" in c and bool(c["question"]) != facts.is_question:
        return False
    return not ("complaint" in c and bool(c["complaint"]) != facts.is_complaint)


@dataclasses.dataclass
class Outcome:
    tags: list[str] = dataclasses.field(default_factory=list)
    assign_to: int | None = None
    priority: int = 0
    close: bool = False
    acknowledge: int | None = None  # a saved reply's id
    matched: list[int] = dataclasses.field(default_factory=list)


def evaluate(rules: Sequence[Rule], messages: Sequence[Facts]) -> Outcome:
    out = Outcome()
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if not any(matches(rule.conditions, f) for f in messages):
            continue
        out.matched.append(rule.id)
        a = rule.actions
        if a.get("tag") and a["tag"] not in out.tags:
            out.tags.append(str(a["tag"]))
        if a.get("assign_to") is not None:
            out.assign_to = int(a["assign_to"])
        out.priority += int(a.get("priority") or 0)
        if a.get("acknowledge") is not None:
            out.acknowledge = int(a["acknowledge"])
        if a.get("close"):
            out.close = True
            if not a.get("tag") and "spam" not in out.tags:
                out.tags.append("spam")
        if rule.stop:
            break
    return out
