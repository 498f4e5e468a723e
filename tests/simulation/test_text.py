"""The simulator writes Italian and English, and its labels are true by construction."""

from __future__ import annotations

import collections
import random

import pytest

from dialogo.simulation import Event, Message, World, detect_topic, guess_language
from dialogo.simulation.config import DEFAULT_BRANDS
from dialogo.simulation.taxonomy import ASPECTS, INTENTS, SENTIMENTS, TOPICS
from dialogo.simulation.text import TextWriter, function_word_counts

POSITIVE = {"😍", "🙌", "👏", "❤️", "😋", "🔥", "✨", "👍", "🥰"}
NEGATIVE = {"😡", "😤", "👎", "🙄", "😠", "💔", "😒"}


def _messages(events: list[Event]) -> list[Message]:
    return [e for e in events if isinstance(e, Message)]


def test_history_has_both_languages_and_all_labels(week: list[Event]) -> None:
    messages = _messages(week)
    assert len(messages) > 500
    languages = collections.Counter(m.language for m in messages)
    assert languages["it"] > languages["en"] > 0.03 * len(messages)
    assert {m.sentiment for m in messages} == set(SENTIMENTS)
    assert {m.intent for m in messages} == set(INTENTS)
    assert {m.kind for m in messages} == {"post", "mention", "comment", "direct", "reply"}
    assert len({m.topic for m in messages}) >= 10
    assert len({m.text for m in messages}) > 0.6 * len(messages)  # varied, not repeated


def test_language_labels_match_function_words(week: list[Event]) -> None:
    for message in _messages(week):
        counts = function_word_counts(message.text)
        own = counts[message.language]
        other = counts["en" if message.language == "it" else "it"]
        assert own > other, (message.language, message.text)
        assert guess_language(message.text) == message.language


def test_sentiment_labels_match_cues(week: list[Event]) -> None:
    for message in _messages(week):
        if message.sentiment == "pos":
            assert not NEGATIVE & set(message.text), message.text
        if message.sentiment == "neg":
            assert not POSITIVE & set(message.text), message.text


def test_topic_labels_can_be_read_back(week: list[Event]) -> None:
    chatter = [m for m in _messages(week) if m.brand is None]
    assert len(chatter) > 100
    hits = sum(detect_topic(m.text) == m.topic for m in chatter)
    assert hits / len(chatter) > 0.85


def test_mentions_name_the_brand_and_direct_messages_do_not_tag(week: list[Event]) -> None:
    for message in _messages(week):
        if message.kind == "mention" and message.brand is not None:
            assert f"@{message.brand}" in message.text.lower()
        if message.kind == "direct":
            assert "#" not in message.text


@pytest.mark.parametrize("language", ["it", "en"])
def test_writer_covers_every_combination(language: str) -> None:
    writer = TextWriter(DEFAULT_BRANDS)
    rnd = random.Random(7)
    for intent in INTENTS:
        for sentiment in SENTIMENTS:
            for aspect in ASPECTS:
                for kind in ("mention", "direct", "post"):
                    written = writer.brand_message(
                        rnd,
                        language=language,
                        brand=rnd.randrange(len(DEFAULT_BRANDS)),
                        intent=intent,
                        sentiment=sentiment,
                        topic=rnd.choice(TOPICS),
                        aspect=aspect,
                        kind=kind,
                        city="Bari",
                    )
                    assert "{" not in written.text
                    assert guess_language(written.text, default="?") == language
    for topic in TOPICS:
        post = writer.brand_post(
            rnd, language=language, brand=0, topic=topic, city="Roma", link="https://x.example"
        )
        assert "https://x.example" in post and "#CaffeAurora" in post
        assert guess_language(post, default="?") == language


def test_detect_topic_on_plain_sentences() -> None:
    assert detect_topic("Dopo la corsa di stamattina un espresso") in {"running", "coffee"}
    assert detect_topic("Le nostre capsule sono compostabili, meno plastica") == "sustainability"
    assert detect_topic("Serata al cinema con un bel film") == "cinema"
    assert detect_topic("nothing to see here", default="coffee") == "coffee"


def test_world_texts_use_world_brands(world: World) -> None:
    assert world.writer.brands[0].handle == "caffeaurora"
