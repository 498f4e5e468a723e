"""Bluesky's text rules, as pure functions: grapheme counting, facets with UTF-8 byte offsets,
and the image size header reader used for ``aspectRatio``.

Bluesky measures a post's text in **graphemes** (user-perceived characters, Unicode UAX #29
extended grapheme clusters; the lexicon's ``maxGraphemes: 300``) and also in **UTF-8 bytes**
(``maxLength: 3000``). Links and mentions count as written: nothing is shortened.

Facets (mentions, links, hashtags) point into the text by **UTF-8 byte offsets**, not by
characters: ``"è"`` is one character and two bytes, ``"👩🏽‍💻"`` one grapheme and fifteen bytes.
Detection follows the official TypeScript SDK's rules through the Python SDK's port of them
(``atproto_client.utils.facet_detection``); mentions are resolved to DIDs by the caller.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Callable
from typing import Any

import regex  # type: ignore[import-untyped]  # (types-regex is not a dependency)
from atproto_client.utils import facet_detection  # type: ignore[import-untyped]

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_TAG_GRAPHEMES = 64

_GRAPHEME = regex.compile(r"\X")


def grapheme_length(text: str) -> int:
    """User-perceived characters (extended grapheme clusters), as Bluesky counts them."""
    return sum(1 for _ in _GRAPHEME.finditer(text))


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of the character at ``index`` (a Python string index)."""
    return utf8_length(text[:index])


class FacetKind(enum.StrEnum):
    mention = "mention"
    link = "link"
    tag = "tag"


@dataclasses.dataclass(frozen=True)
class Facet:
    """A span of the text (``byte_start``..``byte_end`` in UTF-8 bytes) with what it means:
    a DID for a mention, a URI for a link, a tag (without ``#``) for a hashtag."""

    kind: FacetKind
    byte_start: int
    byte_end: int
    value: str

    def as_record(self) -> dict[str, Any]:
        """The ``app.bsky.richtext.facet`` JSON."""
        feature: dict[str, str]
        if self.kind is FacetKind.mention:
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": self.value}
        elif self.kind is FacetKind.link:
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": self.value}
        else:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": self.value}
        return {
            "$type": "app.bsky.richtext.facet",
            "index": {"byteStart": self.byte_start, "byteEnd": self.byte_end},
            "features": [feature],
        }


@dataclasses.dataclass(frozen=True)
class MentionSpan:
    handle: str
    byte_start: int
    byte_end: int


def mentions(text: str) -> list[MentionSpan]:
    """``@handle`` spans (handles not resolved yet)."""
    return [
        MentionSpan(handle=str(m.handle), byte_start=int(m.byte_start), byte_end=int(m.byte_end))
        for m in facet_detection.detect_mentions(text)
    ]


def link_and_tag_facets(text: str) -> list[Facet]:
    """Links (``https://…``, and bare domains with a known top-level domain, which become
    ``https://`` links) and hashtags (``#tag``, also cashtags such as ``$AAPL``)."""
    found: list[Facet] = []
    for facet in facet_detection.detect_facets(text):
        feature = facet.features[0]
        start, end = int(facet.index.byte_start), int(facet.index.byte_end)
        uri = getattr(feature, "uri", None)
        tag = getattr(feature, "tag", None)
        if isinstance(uri, str):
            found.append(Facet(FacetKind.link, start, end, uri))
        elif isinstance(tag, str):
            found.append(Facet(FacetKind.tag, start, end, tag))
    return found


def facets(text: str, resolve: Callable[[str], str | None]) -> list[Facet]:
    """Every facet of ``text``, sorted by position. ``resolve`` maps a handle to its DID (or
    ``None`` when it does not resolve: that mention stays plain text, as in Bluesky's app)."""
    dids: dict[str, str | None] = {}
    found = link_and_tag_facets(text)
    for span in mentions(text):
        handle = span.handle.lower()
        if handle not in dids:
            dids[handle] = resolve(handle)
        did = dids[handle]
        if did:
            found.append(Facet(FacetKind.mention, span.byte_start, span.byte_end, did))
    found.sort(key=lambda f: (f.byte_start, f.byte_end))
    # Overlapping facets are invalid; keep the first of any overlap (a mention inside a URL).
    kept: list[Facet] = []
    for facet in found:
        if kept and facet.byte_start < kept[-1].byte_end:
            continue
        kept.append(facet)
    return kept


def slice_bytes(text: str, facet: Facet) -> str:
    """The text a facet covers (for tests and debugging)."""
    return text.encode("utf-8")[facet.byte_start : facet.byte_end].decode("utf-8")


# -- image dimensions -------------------------------------------------------------------------


def image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG, GIF, JPEG or WebP header, or ``None`` if unreadable.
    (Bluesky's ``aspectRatio`` lets apps lay the image out before it loads.)"""
    try:
        if content.startswith(b"\x89PNG\r\n\x1a\n") and content[12:16] == b"IHDR":
            width, height = struct.unpack(">II", content[16:24])
            return _positive(width, height)
        if content[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", content[6:10])
            return _positive(width, height)
        if content.startswith(b"\xff\xd8"):
            return _jpeg_size(content)
        if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
            return _webp_size(content)
    except (struct.error, IndexError):
        return None
    return None


def _positive(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE})


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(content):
        if content[position] != 0xFF:
            return None
        marker = content[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        (length,) = struct.unpack(">H", content[position + 2 : position + 4])
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", content[position + 5 : position + 9])
            return _positive(width, height)
        position += 2 + length
    return None


def _webp_size(content: bytes) -> tuple[int, int] | None:
    chunk = content[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(content[24:27], "little") + 1
        height = int.from_bytes(content[27:30], "little") + 1
        return _positive(width, height)
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", content[26:30])
        return _positive(width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":
        bits = int.from_bytes(content[21:25], "little")
        return _positive((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    return None
