"""Building and reading Matrix event content: pure functions, no network.

- **Mentions** (spec v1.7+ "intentional mentions"): every Matrix user ID written in the text
  (``@name:server``) is listed in ``m.mentions.user_ids`` and shown as a pill — a link to
  ``https://matrix.to/#/@name:server`` — in the HTML ``formatted_body``; ``@room`` sets
  ``m.mentions.room``. Every event we send carries ``m.mentions`` (empty when nobody is
  mentioned), so clients never fall back to pinging people by matching the body.
- **Rich replies**: ``m.relates_to.m.in_reply_to.event_id``; the replied-to sender is added to
  ``m.mentions``. No quoted fallback in the body (removed from the spec in v1.13).
- **Threads**: ``m.relates_to`` with ``rel_type: m.thread`` on the thread root; a plain thread
  message keeps ``is_falling_back: true`` with ``m.in_reply_to`` on the latest thread event,
  so clients without threads still show a sensible reply chain.
- **Images**: ``m.image`` pointing at the uploaded ``mxc://`` URI, with the alt text in
  ``body``. ``filename`` is left out on purpose: since spec v1.10 a ``body`` that differs from
  ``filename`` is a *caption*, and alt text is not a caption.
- **Size**: the homeserver rejects any event whose JSON (the whole PDU: content plus room id,
  sender, hashes, signatures, auth and prev events) exceeds 65,536 bytes. We measure the
  content's canonical JSON in UTF-8 bytes and reserve :data:`ENVELOPE_RESERVE` for the rest.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MAX_EVENT_BYTES = 65_536
#: Bytes of a PDU outside ``content``: event, room and user ids, origin_server_ts, depth,
#: hashes, signatures and up to ~10 auth/prev event ids. A generous allowance: what a typical
#: Synapse message PDU spends is well under 1,500 bytes.
ENVELOPE_RESERVE = 2_048
MAX_CONTENT_BYTES = MAX_EVENT_BYTES - ENVELOPE_RESERVE

MATRIX_TO = "https://matrix.to/#/"
MESSAGE = "m.room.message"

_SERVER = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?::\d{1,5})?"
USER_ID = re.compile(rf"(?<![\w@/.:])@[A-Za-z0-9._=\-/+]+:{_SERVER}")
ROOM_MENTION = re.compile(r"(?<![\w@/.:])@room(?![\w:-])")


# -- mentions and formatting ----------------------------------------------------------------------


def find_mentions(text: str) -> tuple[list[str], bool]:
    """User IDs written in the text, in order and without repeats, and whether ``@room`` is."""
    users = list(dict.fromkeys(m.group(0) for m in USER_ID.finditer(text)))
    return users, bool(ROOM_MENTION.search(text))


def user_link(user_id: str) -> str:
    return MATRIX_TO + user_id


def event_link(room_id: str, event_id: str) -> str:
    return f"{MATRIX_TO}{room_id}/{event_id}"


def to_html(text: str) -> str:
    """The ``formatted_body``: escaped text, line breaks, and user IDs as pills."""
    escaped = html.escape(text, quote=False)

    def pill(match: re.Match[str]) -> str:
        user = match.group(0)
        return f'<a href="{html.escape(user_link(user))}">{user}</a>'

    return USER_ID.sub(pill, escaped).replace("\n", "<br>")


def mentions_block(user_ids: Iterable[str], room: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {}
    users = list(dict.fromkeys(user_ids))
    if users:
        block["user_ids"] = users
    if room:
        block["room"] = True
    return block


# -- relations ------------------------------------------------------------------------------------


def relates_to(
    *, reply_to: str | None = None, thread_root: str | None = None, latest: str | None = None
) -> dict[str, Any] | None:
    """``m.relates_to`` for a rich reply, a thread message, or a reply inside a thread."""
    if thread_root:
        if reply_to:
            return {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": False,
                "m.in_reply_to": {"event_id": reply_to},
            }
        return {
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": latest or thread_root},
        }
    if reply_to:
        return {"m.in_reply_to": {"event_id": reply_to}}
    return None


def text_content(
    text: str,
    *,
    relation: Mapping[str, Any] | None = None,
    also_mention: Sequence[str] = (),
) -> dict[str, Any]:
    users, room = find_mentions(text)
    content: dict[str, Any] = {"msgtype": "m.text", "body": text}
    if users:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = to_html(text)
    content["m.mentions"] = mentions_block([*users, *also_mention], room)
    if relation:
        content["m.relates_to"] = dict(relation)
    return content


def image_content(
    uri: str,
    *,
    mime_type: str,
    size: int,
    alt_text: str,
    filename: str | None = None,
    dimensions: tuple[int, int] | None = None,
    relation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    info: dict[str, Any] = {"mimetype": mime_type, "size": size}
    if dimensions:
        info["w"], info["h"] = dimensions
    body = alt_text.strip() or filename or "image"
    content: dict[str, Any] = {"msgtype": "m.image", "body": body, "url": uri, "info": info}
    content["m.mentions"] = {}
    if relation:
        content["m.relates_to"] = dict(relation)
    return content


def content_bytes(content: Mapping[str, Any], event_type: str = MESSAGE) -> int:
    """Size in bytes of the canonical JSON of ``type`` + ``content`` (as the PDU encodes it)."""
    encoded = json.dumps(
        {"type": event_type, "content": content},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return len(encoded.encode("utf-8"))


# -- reading events -------------------------------------------------------------------------------


def relation_of(content: Mapping[str, Any]) -> tuple[str | None, str | None, bool]:
    """``(reply_to, thread_root, is_falling_back)`` of an event's content."""
    rel = content.get("m.relates_to")
    if not isinstance(rel, dict):
        return None, None, False
    reply = rel.get("m.in_reply_to")
    reply_to = reply.get("event_id") if isinstance(reply, dict) else None
    thread_root = rel.get("event_id") if rel.get("rel_type") == "m.thread" else None
    falling_back = bool(rel.get("is_falling_back")) if thread_root else False
    return (
        reply_to if isinstance(reply_to, str) else None,
        thread_root if isinstance(thread_root, str) else None,
        falling_back,
    )


def is_edit(content: Mapping[str, Any]) -> bool:
    rel = content.get("m.relates_to")
    return isinstance(rel, dict) and rel.get("rel_type") == "m.replace"


def mentions_user(content: Mapping[str, Any], user_id: str) -> bool:
    """Whether the event mentions ``user_id``: by ``m.mentions`` when present (then nothing
    else counts, per the spec), else by the legacy rule of the ID in the body or a pill."""
    mentions = content.get("m.mentions")
    if isinstance(mentions, dict):
        users = mentions.get("user_ids")
        return isinstance(users, list) and user_id in users
    body = content.get("body")
    formatted = content.get("formatted_body")
    return (isinstance(body, str) and user_id in body) or (
        isinstance(formatted, str) and user_link(user_id) in formatted
    )


def timestamp(event: Mapping[str, Any]) -> dt.datetime:
    millis = event.get("origin_server_ts")
    if not isinstance(millis, int):
        return dt.datetime.now(dt.UTC)
    return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)


def conversation_id(room_id: str, thread_root: str | None) -> str:
    """A room, or a thread in a room: ``!room:server`` or ``!room:server/$root``."""
    return f"{room_id}/{thread_root}" if thread_root else room_id


def split_conversation(value: str) -> tuple[str, str | None]:
    room, sep, root = value.partition("/$")
    return (room, "$" + root) if sep else (value, None)


# -- image dimensions (optional ``info.w``/``info.h``; no imaging library needed) ------------------


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP from its header, or ``None``."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", data[6:10])
            return int(w), int(h)
        if data[:2] == b"\xff\xd8":
            return _jpeg_dimensions(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_dimensions(data)
    except (struct.error, IndexError):
        return None
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return int(w & 0x3FFF), int(h & 0x3FFF)
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    return None
