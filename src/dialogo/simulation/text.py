"""Italian and English text written by the simulator itself, from the grammars in
:mod:`dialogo.simulation.lexicon`, each message with its true labels.

Every function takes a ``random.Random`` (seeded from the world's streams) and returns plain
strings; the labels (language, sentiment, topic, intent) are chosen by the caller *before* the
text is written, so they are true by construction.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple

from dialogo.simulation.config import BrandSpec
from dialogo.simulation.lexicon import FUNCTION_WORDS, GRAMMARS, TOPIC_KEYWORDS, Grammar
from dialogo.simulation.taxonomy import TOPICS

_REF = re.compile(r"\{([a-z_.0-9]+)\}")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?:])")
_SENTENCE = re.compile(r"((?<!\.)[.!?]\s+)(?!https?://)([a-zàèéìòù])")

Part = tuple[bool, str]  # (is a reference, text or symbol name)


@lru_cache(maxsize=8)
def _compiled(language: str) -> dict[str, tuple[tuple[Part, ...], ...]]:
    grammar: Grammar = GRAMMARS[language]
    compiled: dict[str, tuple[tuple[Part, ...], ...]] = {}
    for symbol, alternatives in grammar.items():
        options: list[tuple[Part, ...]] = []
        for alternative in alternatives:
            parts: list[Part] = []
            position = 0
            for match in _REF.finditer(alternative):
                if match.start() > position:
                    parts.append((False, alternative[position : match.start()]))
                parts.append((True, match.group(1)))
                position = match.end()
            if position < len(alternative):
                parts.append((False, alternative[position:]))
            options.append(tuple(parts))
        compiled[symbol] = tuple(options)
    return compiled


def _capitalise(text: str) -> str:
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1 :]
        if char in "@#":
            return text
    return text


def _tidy(text: str) -> str:
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()
    return _SENTENCE.sub(lambda m: m.group(1) + m.group(2).upper(), text)


class Written(NamedTuple):
    text: str
    topical: bool  # whether the text speaks of the topic it was asked about


_CompiledGrammar = dict[str, tuple[tuple[Part, ...], ...]]


class _Slots:
    """Slot values for one message, computed only when a template asks for them (so the text
    also tells which slots it used, e.g. whether it names its topic)."""

    def __init__(
        self,
        writer: TextWriter,
        rnd: random.Random,
        grammar: _CompiledGrammar,
        language: str,
        brand: int | None,
        topic: str,
        aspect: str,
        values: dict[str, str],
    ) -> None:
        self.writer = writer
        self.rnd = rnd
        self.grammar = grammar
        self.language = language
        self.brand = brand
        self.topic = topic
        self.aspect = aspect
        self.values = values
        self.used: set[str] = set()

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            value = self._compute(name)
            if value is None:
                return None
            self.values[name] = value
        self.used.add(name)
        return value

    def _compute(self, name: str) -> str | None:
        rnd, grammar = self.rnd, self.grammar
        if name in ("topic_phrase", "topic_phrase_cap"):
            phrase = self.writer.expand(rnd, grammar, f"topic.{self.topic}", self)
            self.values["topic_phrase"] = phrase
            self.values["topic_phrase_cap"] = _capitalise(phrase)
            return self.values[name]
        if name == "topic_tag":
            return self.writer.expand(rnd, grammar, f"tag.{self.topic}", self)
        if name == "n_days":
            return str(rnd.randint(4, 15))
        if self.brand is None:
            return None
        spec = self.writer.brands[self.brand]
        if name in ("product", "product2"):
            products = spec.products
            first = rnd.randrange(len(products))
            second = (first + 1 + rnd.randrange(max(len(products) - 1, 1))) % len(products)
            self.values["product"] = products[first]
            self.values["product2"] = products[second]
            return self.values[name]
        if name == "competitor":
            others = [b.name for i, b in enumerate(self.writer.brands) if i != self.brand]
            fallback = "la concorrenza" if self.language == "it" else "the competition"
            return rnd.choice(others) if others else fallback
        if name in ("issue", "ask"):
            symbol = f"{name}.{self.aspect}"
            special = f"{symbol}.{spec.category}"
            if special in grammar and rnd.random() < 0.5:
                symbol = special
            return self.writer.expand(rnd, grammar, symbol, self)
        if name == "ask_neg":
            return self.writer.expand(rnd, grammar, "ask_neg.any", self)
        return None


class TextWriter:
    """Renders grammar symbols for one world's brands."""

    def __init__(self, brands: Sequence[BrandSpec]) -> None:
        self.brands = tuple(brands)

    # -- the engine ----------------------------------------------------------------------------

    def expand(
        self,
        rnd: random.Random,
        grammar: _CompiledGrammar,
        symbol: str,
        slots: _Slots | None,
        depth: int = 0,
    ) -> str:
        if depth > 8:
            raise RecursionError(f"grammar too deep at {symbol!r}")
        options = grammar[symbol]
        parts = options[rnd.randrange(len(options))] if len(options) > 1 else options[0]
        out: list[str] = []
        for is_ref, value in parts:
            if not is_ref:
                out.append(value)
                continue
            filled = slots.get(value) if slots is not None else None
            if filled is None:
                filled = self.expand(rnd, grammar, value, slots, depth + 1)
            out.append(filled)
        return "".join(out)

    def render(
        self,
        rnd: random.Random,
        language: str,
        symbol: str,
        slots: Mapping[str, str] | None = None,
    ) -> str:
        """Expand ``symbol`` with fixed ``slots`` (and no brand)."""
        grammar = _compiled(language)
        context = _Slots(self, rnd, grammar, language, None, "coffee", "product", dict(slots or {}))
        return self.expand(rnd, grammar, symbol, context)

    def _slots(
        self,
        rnd: random.Random,
        language: str,
        brand: int | None,
        topic: str,
        *,
        aspect: str = "product",
        city: str = "Milano",
        at: str | None = None,
        name: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> _Slots:
        values: dict[str, str] = {"city": city, "name": name}
        if brand is not None:
            spec = self.brands[brand]
            values.update(
                brand=spec.name,
                at=f"@{spec.handle}" if at is None else at,
                domain=spec.domain,
                brand_tag=f"#{spec.hashtag or spec.handle}",
            )
        if extra:
            values.update(extra)
        return _Slots(self, rnd, _compiled(language), language, brand, topic, aspect, values)

    def _decorate(
        self,
        rnd: random.Random,
        text: str,
        sentiment: str,
        slots: _Slots,
        *,
        emoji: float = 0.4,
        hashtags: float = 0.25,
    ) -> str:
        text = _capitalise(_tidy(text))
        if sentiment == "neg" and rnd.random() < 0.15:
            text = text.rstrip(".!") + "!!!"
        if rnd.random() < emoji:
            text = f"{text} {self.expand(rnd, slots.grammar, f'emoji.{sentiment}', None)}"
        if rnd.random() < hashtags:
            text = f"{text} {slots.get('topic_tag')}"
            brand_tag = slots.values.get("brand_tag")
            if brand_tag and brand_tag not in text and rnd.random() < 0.3:
                text = f"{text} {brand_tag}"
        if rnd.random() < 0.12:
            text = text.lower()
        return text

    # -- what people write ---------------------------------------------------------------------

    def brand_message(
        self,
        rnd: random.Random,
        *,
        language: str,
        brand: int,
        intent: str,
        sentiment: str,
        topic: str,
        aspect: str,
        kind: str,
        city: str,
    ) -> Written:
        """A post, mention or direct message about ``brand``."""
        spec = self.brands[brand]
        if kind == "direct":
            at = ""  # a private message needs no addressee
        elif kind == "post":
            at = f"#{spec.hashtag or spec.handle}"  # a public post tags the brand
        else:
            at = f"@{spec.handle}"
        slots = self._slots(rnd, language, brand, topic, aspect=aspect, city=city, at=at)
        symbol = f"{intent}.{sentiment}"
        if symbol not in slots.grammar:
            symbol = f"other.{sentiment}"
        text = self.expand(rnd, slots.grammar, symbol, slots)
        if kind == "mention" and at not in text:
            text = f"{at} {text}"
        topical = bool(slots.used & {"topic_phrase", "topic_phrase_cap"})
        hashtags = 0.0 if kind == "direct" else 0.25
        if not topical:
            slots.topic = spec.category  # hashtags follow what the text is about
        return Written(self._decorate(rnd, text, sentiment, slots, hashtags=hashtags), topical)

    def comment(
        self,
        rnd: random.Random,
        *,
        language: str,
        brand: int,
        intent: str,
        sentiment: str,
        topic: str,
        city: str,
    ) -> Written:
        """A comment under one of ``brand``'s posts."""
        slots = self._slots(rnd, language, brand, topic, city=city, at=self.brands[brand].name)
        symbol = f"comment.{intent}.{sentiment}"
        if symbol not in slots.grammar:
            symbol = f"comment.other.{sentiment}"
        text = self.expand(rnd, slots.grammar, symbol, slots)
        topical = bool(slots.used & {"topic_phrase", "topic_phrase_cap"})
        return Written(self._decorate(rnd, text, sentiment, slots, hashtags=0.0), topical)

    def chatter(self, rnd: random.Random, *, language: str, sentiment: str, topic: str) -> str:
        """A post about one of the author's interests that names no brand."""
        slots = self._slots(rnd, language, None, topic)
        text = self.expand(rnd, slots.grammar, f"chatter.{sentiment}", slots)
        return self._decorate(rnd, text, sentiment, slots, emoji=0.5, hashtags=0.4)

    def follow_up(
        self,
        rnd: random.Random,
        *,
        language: str,
        brand: int,
        behaviour: str,
        aspect: str,
        city: str,
        delay_hours: float | None = None,
        kind: str = "reply",
    ) -> str:
        """Writing again in a conversation: ``thanks``, ``late``, ``waiting``, ``escalation``
        or ``churn``."""
        delay = ""
        if delay_hours is not None:
            if delay_hours >= 36:
                days = max(2, round(delay_hours / 24))
                delay = f"{days} giorni" if language == "it" else f"{days} days"
            else:
                hours = max(2, round(delay_hours))
                delay = f"{hours} ore" if language == "it" else f"{hours} hours"
        slots = self._slots(
            rnd,
            language,
            brand,
            self.brands[brand].category,
            aspect=aspect,
            city=city,
            at="" if kind == "direct" else None,
            extra={"delay": delay},
        )
        text = self.expand(rnd, slots.grammar, f"followup.{behaviour}", slots)
        handle = f"@{self.brands[brand].handle}"
        if kind == "mention" and handle not in text:
            text = f"{handle} {text}"
        sentiment = "pos" if behaviour == "thanks" else "neg"
        return self._decorate(rnd, text, sentiment, slots, emoji=0.25, hashtags=0.0)

    # -- what brands write ---------------------------------------------------------------------

    def brand_reply(
        self, rnd: random.Random, *, language: str, brand: int, intent: str, name: str
    ) -> str:
        """The brand's team answering someone called ``name``."""
        slots = self._slots(rnd, language, brand, self.brands[brand].category, name=name)
        symbol = f"reply.{intent}" if f"reply.{intent}" in slots.grammar else "reply.other"
        return _tidy(self.expand(rnd, slots.grammar, symbol, slots))

    def brand_post(
        self,
        rnd: random.Random,
        *,
        language: str,
        brand: int,
        topic: str,
        city: str,
        link: str | None,
    ) -> str:
        """One of the brand's own posts about ``topic`` (with a link when given one)."""
        slots = self._slots(rnd, language, brand, topic, city=city)
        text = self.expand(rnd, slots.grammar, f"post.{topic}", slots)
        tags = [slots.get("topic_tag") or "", slots.values["brand_tag"]]
        if link:
            cta = self.expand(rnd, slots.grammar, "post.cta", slots)
            text = f"{text} {cta} {link}"
        return _tidy(f"{text} {' '.join(tags)}")


# -- reading text back ---------------------------------------------------------------------------

_WORD = re.compile(r"[\w']+", re.UNICODE)


@lru_cache(maxsize=1)
def _topic_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    patterns = []
    for topic in TOPICS:
        alternatives = []
        for keyword in TOPIC_KEYWORDS.get(topic, ()):
            if keyword.endswith("*"):
                alternatives.append(re.escape(keyword[:-1]) + r"\w*")
            else:
                alternatives.append(re.escape(keyword) + r"\b")
        if alternatives:
            patterns.append((topic, re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + ")")))
    return tuple(patterns)


def detect_topic(text: str, default: str | None = None) -> str | None:
    """The taxonomy topic whose keywords occur most in ``text`` (ties: taxonomy order), or
    ``default``. Meant for the sandbox provider to label posts people publish."""
    lowered = text.lower()
    best, best_hits = default, 0
    for topic, pattern in _topic_patterns():
        hits = len(pattern.findall(lowered))
        if hits > best_hits:
            best, best_hits = topic, hits
    return best


def function_word_counts(text: str) -> dict[str, int]:
    """How many Italian and English function words ``text`` contains."""
    words = [w.lower() for w in _WORD.findall(text)]
    return {lang: sum(1 for w in words if w in vocab) for lang, vocab in FUNCTION_WORDS.items()}


def guess_language(text: str, default: str = "it") -> str:
    counts = function_word_counts(text)
    if counts["en"] > counts["it"]:
        return "en"
    if counts["it"] > counts["en"]:
        return "it"
    return default
