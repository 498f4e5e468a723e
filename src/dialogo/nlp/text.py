"""Text normalisation and tokenisation shared by the NLP functions.

Everything here is total: any ``str`` (or bytes, or anything with a ``str()``) gives a result.
Lone surrogates and other unencodable code points are replaced, control characters dropped, and
only the first :data:`MAX_CHARS` characters are analysed so a 1 MB paste costs the same as a
long post.
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 5_000

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_URL_RE = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)

# Words (with inner apostrophes: "don't", "l'azienda"), hashtags, mentions, western emoticons,
# "<3", and one emoji per token.
TOKEN_RE = re.compile(
    r"[#@]?\w+(?:['’]\w+)*"
    r"|[:;=8xX][-o*'^]?[)\](\[dDpP/\\|@3}{*]"
    r"|<3"
    r"|[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u2764]"
)
HASHTAG_RE = re.compile(r"#(\w+)")
_WORD_CHAR_RE = re.compile(r"\w")
_APOSTROPHE_RE = re.compile("['’]")


def clean(text: object) -> str:
    """Return ``text`` as a safe, bounded ``str`` (never raises)."""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("utf-8", "replace")
    elif not isinstance(text, str):
        text = "" if text is None else str(text)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
    if not text.isascii():
        # Lone surrogates (e.g. from a bad JSON decode) cannot be encoded; replace them.
        text = _SURROGATE_RE.sub("\ufffd", text)
        text = unicodedata.normalize("NFC", text)
    return _CONTROL_RE.sub(" ", text)


def strip_urls(text: str) -> str:
    return _URL_RE.sub(" ", text) if ("http" in text or "www." in text) else text


def tokens(text: str) -> list[str]:
    """Lower-cased tokens of an already :func:`clean` text."""
    return TOKEN_RE.findall(text.lower())


def hashtags(text: str) -> list[str]:
    return [h.lower() for h in HASHTAG_RE.findall(text)]


def word_runs(toks: list[str]) -> list[str] | None:
    """The runs of word characters (``re.findall(r"\\w+", text)``, in order) of the text whose
    :data:`TOKEN_RE` tokens are ``toks``, without scanning the text again; None when the tokens
    cannot tell (an emoticon holding a letter or digit, ``":d"``, ``"<3"``, may split a run).

    Every word character is in a token, and a word token (``[#@]?\\w+(?:['’]\\w+)*``) starts
    and ends at a run's ends, so its runs are the token less its ``#``/``@``, split at the
    apostrophes; emoji and emoticon tokens start with a non-word character."""
    out: list[str] = []
    append = out.append
    for t in toks:
        if t.isalnum():  # most tokens: one run (``_`` and apostrophes take the path below)
            append(t)
            continue
        c = t[0]
        if c == "#" or c == "@":
            t = t[1:]
        elif not (c.isalnum() or c == "_"):
            if _WORD_CHAR_RE.search(t) is not None:
                return None
            continue
        if "'" in t or "’" in t:
            out += _APOSTROPHE_RE.split(t)
        else:
            append(t)
    return out
