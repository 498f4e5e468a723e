"""The composer's validation messages are translatable: every bundled provider words what it
refuses by a template marked for the catalogue (``N_``) and its parameters, said in English by
``message`` and in the reader's language by ``render``."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

import dialogo.providers
from dialogo.core.i18n import Formatter, english, translator
from dialogo.providers.base import Media, MediaRules, ValidationIssue
from dialogo.providers.contract import Answer, Check, always, validation_issues
from dialogo.providers.video import duration_issues, video_issues
from tests.providers.test_contract import NETWORKS, applicable, fixture_for


@functools.cache
def marked() -> frozenset[str]:
    """The msgids marked with ``N_`` in the providers' sources (as ``pybabel extract`` finds
    them with the project's keywords)."""
    root = Path(dialogo.providers.__file__).parent
    found: set[str] = set()
    for path in root.rglob("*.py"):
        for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords={"N_": None}
        ):
            found.add(message if isinstance(message, str) else message[0])
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
        assert issue.template in marked(), f"{network}: not marked with N_: {issue.template!r}"
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
