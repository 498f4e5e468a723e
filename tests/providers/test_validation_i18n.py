"""The composer's validation messages are translatable: every bundled provider words what it
refuses by a template marked for the catalogue (``N_``, or a singular/plural pair marked with
``Nn_`` when it counts something) and its parameters, said in English by ``message`` and in the
reader's language by ``render``."""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.support import NullTranslations

import dialogo.providers
from dialogo.core.i18n import Formatter, Plural, english, translator
from dialogo.providers.base import Draft, Media, MediaRules, ValidationIssue
from dialogo.providers.contract import Answer, Check, always, validation_issues
from dialogo.providers.video import duration_issues, video_issues
from tests.providers.test_contract import NETWORKS, applicable, fixture_for


@functools.cache
def marked() -> frozenset[str | tuple[str, str]]:
    """The msgids marked with ``N_`` and the pairs marked with ``Nn_`` in the providers' sources
    (as ``pybabel extract`` finds them with the project's keywords)."""
    root = Path(dialogo.providers.__file__).parent
    found: set[str | tuple[str, str]] = set()
    for path in root.rglob("*.py"):
        for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords={"N_": None, "Nn_": (1, 2)}
        ):
            if isinstance(message, str):
                found.add(message)
            else:
                singular, plural = message
                found.add((singular, plural))
    return frozenset(found)


@pytest.mark.parametrize("network", NETWORKS)
def test_every_refusal_is_a_marked_template_with_its_parameters(network: str) -> None:
    fixture = fixture_for(network)
    applicable(fixture, Check.validation)
    with fixture.connect(always(Answer(500))) as provider:
        issues = [
            i for d in fixture.invalid_drafts.values() for i in validation_issues(provider, d)
        ]
    assert issues
    for issue in issues:
        key = issue.template.forms if isinstance(issue.template, Plural) else issue.template
        assert key in marked(), f"{network}: not marked with N_ or Nn_: {issue.template!r}"
        # every placeholder is filled: an Italian rendering that names them all succeeds
        assert issue.message == english(issue.template, issue.params)
        assert "%(" not in issue.message


def test_an_issue_is_said_in_the_readers_language() -> None:
    issue = ValidationIssue(
        "media_too_large",
        "%(size)s bytes; Bluesky allows %(limit)s per image",
        "media[1]",
        params={"size": 1_000_001, "limit": 1_000_000},
    )
    assert issue.message == "1,000,001 bytes; Bluesky allows 1,000,000 per image"
    italian = {issue.template: "%(size)s byte; Bluesky ne accetta %(limit)s per immagine"}
    said = issue.render(lambda m: italian.get(m, m), Formatter("it").number)
    assert said == "1.000.001 byte; Bluesky ne accetta 1.000.000 per immagine"
    # A translation that misspells a placeholder falls back to English, not to an error.
    broken = {issue.template: "%(dimensione)s byte"}
    assert (
        issue.render(lambda m: broken.get(m, m))
        == "1000001 bytes; Bluesky allows 1000000 per image"
    )


def test_video_limits_are_numbers_with_unit_symbols_in_the_catalogue() -> None:
    """A video's size and length limits reach the Italian sentence as numbers in the
    reader's format with a unit symbol, not as English fragments ("10 minutes", "74.999 KB")."""
    catalogue = translator("it")
    rules = MediaRules(
        video_types=frozenset({"video/mp4"}),
        max_video_bytes=500 * 1_048_576,
        min_video_bytes=75 * 1024,
        max_video_seconds=1800,
        min_video_seconds=3,
    )
    [small] = video_issues(
        [Media(content=b"\0" * 76_799, mime_type="video/mp4")], rules, network="LinkedIn"
    )
    assert small.message == "the video is 74.999 KB; LinkedIn needs at least 75 KB"
    assert small.render(catalogue.gettext, Formatter("it").number) == (
        "il video pesa 74,999 KB; LinkedIn richiede almeno 75 KB"
    )
    [long] = duration_issues(1800.5, rules, network="LinkedIn", field="media[0]")
    assert long.message == "the video lasts 1800.5 s; LinkedIn takes up to 30 min"
    assert long.render(catalogue.gettext, Formatter("it").number) == (
        "il video dura 1.800,5 s; LinkedIn accetta fino a 30 min"
    )


#: A number followed by what it counts: a sentence that says it needs a plural pair.
_COUNTED = re.compile(
    r"%\(\w+\)s (characters?|images?|photos?|items?|attachments?|videos?|bytes?|hashtags?"
    r"|@mentions?)\b"
)


def test_every_counting_refusal_is_a_plural_pair() -> None:
    """ "at most 1 images" cannot be said: a template that counts is an ``Nn_`` pair."""
    single = sorted(m for m in marked() if isinstance(m, str) and _COUNTED.search(m))
    assert single == []
    pairs = [m for m in marked() if isinstance(m, tuple)]
    assert len(pairs) >= 30  # every provider's counting messages (characters, images, bytes)
    for singular, plural in pairs:
        assert singular != plural
        assert re.findall(r"%\(\w+\)s", singular) == re.findall(r"%\(\w+\)s", plural)


class _Italian(NullTranslations):
    """A catalogue that knows one plural pair (the sandbox's), as ``pybabel`` would compile it;
    everything else stays English."""

    FORMS = ("al massimo %(max_images)s immagine", "al massimo %(max_images)s immagini")

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        if msgid2 == "at most %(max_images)s images":
            return self.FORMS[0] if n == 1 else self.FORMS[1]
        return super().ngettext(msgid1, msgid2, n)


def _too_many_images() -> ValidationIssue:
    """The sandbox's refusal of five images, from the provider itself."""
    fixture = fixture_for("sandbox")
    images = [Media(content=b"\x89PNG", mime_type="image/png") for _ in range(5)]
    with fixture.connect(always(Answer(500))) as provider:
        [issue] = [
            i for i in validation_issues(provider, Draft("hi", media=images)) if i.field == "media"
        ]
    return issue


def test_a_counting_issue_is_said_in_the_form_of_its_number() -> None:
    four = _too_many_images()
    assert isinstance(four.template, Plural) and four.params == {"max_images": 4}
    one = dataclasses.replace(four, params={"max_images": 1})
    assert (one.message, four.message) == ("at most 1 image", "at most 4 images")
    english_catalogue = translator("en")
    assert one.render(english_catalogue) == "at most 1 image"
    assert four.render(english_catalogue) == "at most 4 images"
    # A bare gettext has no plural forms: the English form of the number, never "1 images".
    assert one.render(str) == "at most 1 image"


def test_a_counting_issue_is_said_through_the_italian_catalogue() -> None:
    four = _too_many_images()
    one = dataclasses.replace(four, params={"max_images": 1})
    many = dataclasses.replace(four, params={"max_images": 1234})
    italian, number = _Italian(), Formatter("it").number
    assert one.render(italian, number) == "al massimo 1 immagine"
    assert four.render(italian, number) == "al massimo 4 immagini"
    assert many.render(italian, number) == "al massimo 1.234 immagini"
    # A translation that misspells a placeholder falls back to English, not to an error.
    broken = _Italian()
    broken.FORMS = ("al massimo %(massimo)s immagine", "al massimo %(massimo)s immagini")
    assert four.render(broken, number) == "at most 4 images"
    # The message stays English whatever the reader's language.
    assert four.message == "at most 4 images"
