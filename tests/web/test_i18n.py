"""The catalogues are complete and current; languages are negotiated; values are formatted
for the locale and the workspace's time zone."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from dialogo.core import i18n
from dialogo.web import templating

WEB = Path(templating.__file__).parent
PO = WEB / "translations" / "it" / "LC_MESSAGES" / "messages.po"
POT = WEB / "translations" / "messages.pot"


def extracted_msgids() -> set[str]:
    with (WEB / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    # The whole package: the domains mark their own texts too (notification kinds, e-mails).
    for _file, _line, message, _comments, _context in extract_from_dir(
        WEB.parent, method_map, options_map
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def catalog_ids(path: Path, locale: str | None = None) -> dict[str, object]:
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    return {(m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog if m.id}


def test_every_visible_string_has_an_italian_translation() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="it")
    untranslated = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings) or message.fuzzy:
            untranslated.append(message.id)
    assert untranslated == []
    errors = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
    assert errors == []  # placeholders match (python-format)
    missing = extracted_msgids() - set(catalog_ids(PO, "it"))
    assert missing == set(), "run the pybabel commands at the top of dialogo/core/i18n.py"


def test_the_template_catalogue_is_current() -> None:
    assert set(catalog_ids(POT)) == extracted_msgids()


def test_no_compiled_catalogues_in_the_tree() -> None:
    assert list((WEB / "translations").rglob("*.mo")) == []


def test_catalogue_is_compiled_once_per_process() -> None:
    italian = templating.tr("it")
    assert italian is templating.tr("it")
    assert italian.gettext("Publishing") == "Pubblicazione"
    assert italian.gettext("Sign out") == "Esci"
    assert italian.ngettext("%(num)d minute", "%(num)d minutes", 2)  # unknown ids pass through
    assert templating.tr("en").gettext("Publishing") == "Publishing"
    assert templating.tr("de").gettext("Publishing") == "Publishing"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("it", "it"),
        ("it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7", "it"),
        ("de-DE,de;q=0.9,it;q=0.5", "it"),
        ("en-GB,it;q=0.9", "en"),
        ("fr, it;q=0", "en"),
        ("it;q=0.2, en;q=0.8", "en"),
        ("*", "en"),
        ("garbage;;;,", "en"),
    ],
)
def test_accept_language_negotiation(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header, ("en", "it"), "en") == expected


def test_formatting_follows_locale_and_time_zone() -> None:
    moment = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)  # Rome switches to summer time
    rome_it = i18n.Formatter("it", "Europe/Rome")
    assert rome_it.date(moment, "long") == "29 marzo 2026"
    assert rome_it.datetime(moment, "short") == "29/03/26, 01:30"
    assert rome_it.number(1234.5) == "1.234,5"
    assert rome_it.duration(300) == "5 minuti"
    assert rome_it.language_name("en") == "Inglese"
    ny_en = i18n.Formatter("en", "America/New_York")
    assert ny_en.date(moment) == "Mar 28, 2026"  # still the evening before in New York
    assert ny_en.number(1234.5) == "1,234.5"
    assert ny_en.duration(300) == "5 minutes"
    assert ny_en.ago(moment - dt.timedelta(minutes=10), moment) == "10 minutes ago"
    naive = dt.datetime(2026, 1, 1, 12, 0)  # SQLite hands these back; they are UTC
    assert rome_it.datetime(naive, "short") == "01/01/26, 13:00"
    assert i18n.autonym("it") == "Italiano" and i18n.autonym("en") == "English"


def test_core_i18n_needs_no_web_framework() -> None:
    code = (
        "import sys, dialogo.core.i18n\n"
        "bad = [m for m in ('jinja2', 'fastapi', 'starlette') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
