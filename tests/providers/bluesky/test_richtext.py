"""Bluesky's text rules: graphemes, UTF-8 byte offsets of facets, image sizes."""

from __future__ import annotations

import struct
import zlib

import pytest

from dialogo.providers.bluesky import richtext
from dialogo.providers.bluesky.richtext import Facet, FacetKind


@pytest.mark.parametrize(
    ("text", "graphemes"),
    [
        ("", 0),
        ("ciao", 4),
        ("perché è già così", 17),  # precomposed accents: one character each
        ("perche\u0301", 6),  # e + combining acute accent: one grapheme, two code points
        ("👍", 1),
        ("👍🏽", 1),  # emoji + skin-tone modifier
        ("👩🏽‍💻", 1),  # a ZWJ sequence of four code points
        ("👨‍👩‍👧‍👦", 1),  # family: seven code points
        ("🇮🇹🇪🇺", 2),  # two flags (regional-indicator pairs)
        ("🏴󠁧󠁢󠁳󠁣󠁴󠁿", 1),  # Scotland: a tag sequence
        ("\r\n", 1),
        ("각", 1),  # Hangul syllable
        ("\u1100\u1161\u11a8", 1),  # the same, as conjoining jamo
        ("नमस्ते", 3),  # Devanagari with virama and vowel signs
    ],
)
def test_graphemes_are_user_perceived_characters(text: str, graphemes: int) -> None:
    assert richtext.grapheme_length(text) == graphemes


def test_limit_counts_graphemes_not_code_points_or_bytes() -> None:
    family = "👨‍👩‍👧‍👦"
    text = family * 300
    assert len(text) == 2100  # code points
    assert richtext.grapheme_length(text) == 300  # what Bluesky counts: exactly at the limit
    assert richtext.utf8_length(text) == 7500  # but over the 3,000-byte limit


def _facet_texts(text: str, facets: list[Facet]) -> list[tuple[FacetKind, str, str]]:
    return [(f.kind, richtext.slice_bytes(text, f), f.value) for f in facets]


def test_facet_offsets_are_utf8_bytes_after_accents_and_emoji() -> None:
    text = "Perché è già così? 🇮🇹👩🏽‍💻 Leggi https://dialogo.example/caffè?x=1. #Caffè @bob.test"
    dids = {"bob.test": "did:plc:bob"}
    found = richtext.facets(text, dids.get)
    assert _facet_texts(text, found) == [
        (FacetKind.link, "https://dialogo.example/caffè?x=1", "https://dialogo.example/caffè?x=1"),
        (FacetKind.tag, "#Caffè", "Caffè"),
        (FacetKind.mention, "@bob.test", "did:plc:bob"),
    ]
    link = found[0]
    prefix = "Perché è già così? 🇮🇹👩🏽‍💻 Leggi "
    assert link.byte_start == len(prefix.encode("utf-8")) == 53  # not len(prefix) == 33
    assert link.byte_start != len(prefix)
    assert link.byte_end == link.byte_start + len(link.value.encode("utf-8"))  # è is 2 bytes
    assert link.as_record() == {
        "$type": "app.bsky.richtext.facet",
        "index": {"byteStart": 53, "byteEnd": 87},
        "features": [
            {"$type": "app.bsky.richtext.facet#link", "uri": "https://dialogo.example/caffè?x=1"}
        ],
    }


def test_mentions_that_do_not_resolve_stay_plain_text_and_resolve_once() -> None:
    asked: list[str] = []

    def resolve(handle: str) -> str | None:
        asked.append(handle)
        return {"anna.test": "did:plc:anna"}.get(handle)

    text = "@anna.test @Anna.test @ghost.test"
    found = richtext.facets(text, resolve)
    assert [(f.value, richtext.slice_bytes(text, f)) for f in found] == [
        ("did:plc:anna", "@anna.test"),
        ("did:plc:anna", "@Anna.test"),
    ]
    assert asked == ["anna.test", "ghost.test"]


def test_bare_domains_become_https_links_and_trailing_punctuation_is_left_out() -> None:
    text = "Vedi dialogo.it, o (www.example.com)."
    found = richtext.facets(text, lambda handle: None)
    assert _facet_texts(text, found) == [
        (FacetKind.link, "dialogo.it", "https://dialogo.it"),
        (FacetKind.link, "www.example.com", "https://www.example.com"),
    ]


def test_hashtags_need_a_non_digit_and_at_most_64_graphemes() -> None:
    text = "#123 #ok #" + "a" * 65 + " #àccento"
    found = richtext.facets(text, lambda handle: None)
    assert [f.value for f in found] == ["ok", "àccento"]


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_image_sizes_from_headers() -> None:
    assert richtext.image_size(_png(640, 480)) == (640, 480)
    assert richtext.image_size(b"GIF89a" + struct.pack("<HH", 3, 2) + b"\x00" * 8) == (3, 2)
    sof = b"\xff\xc0" + struct.pack(">HBHH", 17, 8, 200, 300) + b"\x00" * 12
    jpeg = b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 4) + b"\x00\x00" + sof
    assert richtext.image_size(jpeg) == (300, 200)
    vp8x = b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x00" * 8 + (99).to_bytes(3, "little")
    assert richtext.image_size(vp8x + (49).to_bytes(3, "little")) == (100, 50)
    assert richtext.image_size(b"not an image") is None
    assert richtext.image_size(b"\x89PNG\r\n\x1a\n") is None
