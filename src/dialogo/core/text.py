"""Text as databases store it."""

from __future__ import annotations

import re

_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    return not text.isascii() and _SURROGATE_RE.search(text) is not None


def storable(text: str) -> str:
    """``text`` as every database stores it, otherwise unchanged: lone surrogates (from a bad
    JSON decode upstream; no encoder accepts them) become U+FFFD and NUL characters (which
    PostgreSQL's text refuses) are dropped."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATE_RE.sub("\ufffd", text) if not text.isascii() else text
