"""Teammate mentions in internal notes: pure functions, no session.

A mention is ``@`` followed by a member's *handle*: the local part of their e-mail address
(``@giulia`` for giulia@example.org) or their name without spaces (``@GiuliaRossi``), matched
case-insensitively. The ``@`` must start a word (``a@b`` in an e-mail address is not a
mention), and trailing dots or dashes are punctuation (``@giulia.`` mentions giulia).

A handle that is no member's, or that more than one member shares, is not a mention: it stays
plain text and is not an error. What was resolved is stored with the note as
``[{"user_id": 7, "text": "giulia"}]`` and drives the highlighting (:func:`segments`), so a
note keeps showing whom it mentioned even if a name changes later.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MENTION_RE = re.compile(r"(?<![\w@.+-])@([\w][\w.+-]*)", re.UNICODE)
#: At most this many teammates are notified from one note.
MAX_MENTIONS = 20


def _clean(token: str) -> str:
    return token.rstrip(".-+").lower()


def handles_of(email: str, name: str) -> set[str]:
    """The handles a member can be mentioned by (lower case)."""
    found = {email.split("@", 1)[0].lower()}
    squashed = "".join(name.split()).lower()
    if squashed and MENTION_RE.fullmatch("@" + squashed):
        found.add(squashed)
    return {h for h in found if h}


def directory(members: Iterable[tuple[int, str, str]]) -> dict[str, int]:
    """handle → user id from (user id, e-mail, name); handles shared by several members are
    left out (ambiguous, so not a mention)."""
    seen: dict[str, set[int]] = {}
    for user_id, email, name in members:
        for handle in handles_of(email, name):
            seen.setdefault(handle, set()).add(user_id)
    return {h: next(iter(ids)) for h, ids in seen.items() if len(ids) == 1}


def find(text: str, handles: Mapping[str, int]) -> list[dict[str, Any]]:
    """The members mentioned in ``text``, once each, in order of first mention."""
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for match in MENTION_RE.finditer(text):
        handle = _clean(match.group(1))
        user_id = handles.get(handle)
        if user_id is None or user_id in seen:
            continue
        seen.add(user_id)
        out.append({"user_id": user_id, "text": handle})
        if len(out) >= MAX_MENTIONS:
            break
    return out


@dataclasses.dataclass(frozen=True)
class Segment:
    text: str
    user_id: int | None = None  # set: a mention of this member, to highlight


def segments(text: str, mentions: Sequence[Mapping[str, Any]]) -> list[Segment]:
    """The note's text cut into plain parts and the stored mentions (``@handle`` included)."""
    known = {
        str(m.get("text", "")).lower(): int(m["user_id"])
        for m in mentions
        if isinstance(m, Mapping) and isinstance(m.get("user_id"), int)
    }
    out: list[Segment] = []
    last = 0
    for match in MENTION_RE.finditer(text):
        handle = _clean(match.group(1))
        user_id = known.get(handle)
        if user_id is None:
            continue
        end = match.start(1) + len(handle)
        if match.start() > last:
            out.append(Segment(text[last : match.start()]))
        out.append(Segment(text[match.start() : end], user_id))
        last = end
    if last < len(text):
        out.append(Segment(text[last:]))
    return out
