"""Brands and products named in a text: a gazetteer of the names a workspace cares about,
matched case-insensitively on word boundaries, with simple variants.

Variants of a name: any case; the words joined or separated by a space, a hyphen, a dot or
nothing ("Acme Corp", "acme-corp", "AcmeCorp"); as a #hashtag or an @mention; a possessive or a
plural ("Acme's", "Acmes"); accents optional ("Caffè" / "Caffe"). Pure and fast: one compiled
regular expression for the whole gazetteer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dialogo.nlp.text import clean


def fold(text: str) -> str:
    """Lower case without accents ("Caffè" → "caffe")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _pattern(name: str) -> str | None:
    words = re.findall(r"\w+", fold(name))
    if not words:
        return None
    return r"[\s\-._]?".join(re.escape(w) for w in words)


@dataclass(frozen=True)
class Gazetteer:
    """``names`` maps each name to its canonical form (e.g. a query's name) and its kind."""

    names: Mapping[str, tuple[str, str]]  # surface name → (canonical, kind)
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _lookup: dict[str, tuple[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup: dict[str, tuple[str, str]] = {}
        patterns: list[tuple[str, str]] = []
        for surface, canon in self.names.items():
            pattern = _pattern(surface)
            if pattern is None:
                continue
            key = re.sub(r"\W+", "", fold(surface))
            if len(key) < 2 or key in lookup:
                continue
            lookup[key] = canon
            patterns.append((key, pattern))
        # Longest names first, so "Acme Bank" wins over "Acme" where both apply.
        patterns.sort(key=lambda kp: -len(kp[0]))
        body = "|".join(f"(?:{p})" for _, p in patterns)
        regex = (
            re.compile(rf"(?<!\w)[#@]?({body})(?:'s|’s|s)?(?!\w)", re.IGNORECASE)
            if patterns
            else None
        )
        object.__setattr__(self, "_regex", regex)
        object.__setattr__(self, "_lookup", lookup)

    @classmethod
    def of(cls, entries: Iterable[tuple[str, str, str]]) -> Gazetteer:
        """From ``(surface, canonical, kind)`` triples; the first of a surface wins."""
        names: dict[str, tuple[str, str]] = {}
        for surface, canon, kind in entries:
            names.setdefault(surface, (canon, kind))
        return cls(names)

    def __bool__(self) -> bool:
        return self._regex is not None

    def find(self, text: object) -> tuple[tuple[str, str], ...]:
        """The (canonical name, kind) pairs named in ``text``, in order of first appearance."""
        if self._regex is None:
            return ()
        body = fold(clean(text))
        found: dict[tuple[str, str], None] = {}
        for m in self._regex.finditer(body):
            key = re.sub(r"\W+", "", m.group(1))
            hit = self._lookup.get(key)
            if hit is not None:
                found.setdefault(hit, None)
        return tuple(found)
