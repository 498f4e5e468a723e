"""Translations and locale-aware formatting (Babel) for everything that speaks to people.

The user interface is written in English; the Italian catalogue is
``src/dialogo/web/translations/it/LC_MESSAGES/messages.po``. The ``.po`` files are the source
of truth: they are compiled in memory the first time a language is needed (once per process;
the web app does it when it starts), so no ``.mo`` file is ever committed or built.

After adding or changing strings, from the repository root (extraction covers the whole
package: the domains mark their own texts with :func:`N_`, e.g. the notification kinds, and
singular/plural pairs with :func:`Nn_`)::

    pybabel extract -F src/dialogo/web/babel.cfg --no-location --sort-output \\
        --project Dialogo --copyright-holder "the Dialogo authors" \\
        -o src/dialogo/web/translations/messages.pot src/dialogo
    pybabel update --ignore-obsolete -i src/dialogo/web/translations/messages.pot \\
        -d src/dialogo/web/translations
    # then translate the new (empty or fuzzy) entries of it/LC_MESSAGES/messages.po

``tests/web/test_i18n.py`` fails when a visible string is missing from the Italian catalogue.
This module must not import Jinja2 or a web framework: the web layer installs these
translations into its own template environments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

SOURCE_LANGUAGE = "en"
LANGUAGES: tuple[str, ...] = ("en", "it")
DOMAIN = "messages"
#: The catalogues live with the web pages; a domain that speaks to people (notifications,
#: e-mails) reads them as files through :func:`translator` (never importing the web).
CATALOGUES = Path(__file__).resolve().parent.parent / "web" / "translations"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it (translated where it is shown)."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular/plural pair for extraction (``ngettext`` picks the form where it is
    shown); ``babel.cfg`` declares the keyword ``Nn_:1,2``."""
    return singular, plural


#: A value filled into a message's ``%(name)s`` placeholder.
Param = str | int | float


@dataclasses.dataclass(frozen=True)
class Plural:
    """A message that counts something: a singular and a plural form (marked with
    :func:`Nn_`), picked by the number in the parameter ``count`` (``ngettext``: the catalogue's
    plural rule, Italian's ``nplurals=2`` as English's). A count that is missing or not a
    number raises ``KeyError``/``ValueError``/``TypeError``, like a missing placeholder."""

    forms: tuple[str, str]  # (singular, plural), as :func:`Nn_` marks them
    count: str

    def number(self, params: Mapping[str, object]) -> int:
        value = params[self.count]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError(f"{self.count} is not a number: {value!r}")
        return int(value)

    def english(self, params: Mapping[str, object]) -> str:
        """The English form for the count in ``params`` (not filled)."""
        return self.forms[0] if self.number(params) == 1 else self.forms[1]

    def translated(self, translations: NullTranslations, params: Mapping[str, object]) -> str:
        """The form for the count in ``params`` in the language of ``translations`` (not
        filled)."""
        return str(translations.ngettext(*self.forms, self.number(params)))


def translate(
    translations: NullTranslations,
    template: str | Plural,
    params: Mapping[str, Param] | None = None,
    number: Callable[[float], str] | None = None,
) -> str:
    """:func:`interpolate` with a catalogue: a :class:`Plural` in the form its count asks
    for, a plain template through ``gettext``; the English text when the translation misses
    or misspells a placeholder."""
    if not isinstance(template, Plural):
        return interpolate(translations.gettext, template, params, number)
    values = params or {}
    form = template.translated(translations, values)
    return interpolate(lambda _english: form, template.english(values), values, number)


def say(
    translations: NullTranslations | Callable[[str], str],
    template: str | Plural,
    params: Mapping[str, Param] | None = None,
    number: Callable[[float], str] | None = None,
) -> str:
    """:func:`translate` given a catalogue or only its ``gettext`` (what a page's translator
    hands out): a :class:`Plural` needs the catalogue's ``ngettext``, so with only a
    ``gettext`` it is said in English."""
    if isinstance(template, Plural):
        if not isinstance(translations, NullTranslations):
            translations = NullTranslations()  # a bare gettext has no plural forms
        return translate(translations, template, params, number)
    gettext = translations.gettext if isinstance(translations, NullTranslations) else translations
    return interpolate(gettext, template, params, number)


def interpolate(
    gettext: Callable[[str], str],
    template: str,
    params: Mapping[str, Param] | None = None,
    number: Callable[[float], str] | None = None,
) -> str:
    """``template`` (an English msgid marked with :func:`N_`) in the language of ``gettext``
    with its ``%(name)s`` placeholders filled from ``params``; numbers go through ``number``
    (a :meth:`Formatter.number`) when given. A template whose translation misses or misspells
    a placeholder falls back to the English text rather than failing the page."""
    if not params:
        return gettext(template)
    values = {
        key: number(value) if number is not None and not isinstance(value, str) else value
        for key, value in params.items()
    }
    try:
        return gettext(template) % values
    except (KeyError, ValueError, TypeError):
        return template % values


def english(template: str | Plural, params: Mapping[str, Param] | None = None) -> str:
    """``template`` filled in English (what logs, errors and the API say; a :class:`Plural` in
    the form of its count), numbers as the source texts always wrote them: grouped by
    thousands from five digits ("1,000,001", "4096")."""
    if isinstance(template, Plural):
        return translate(NullTranslations(), template, params, _english_number)
    return interpolate(str, template, params, _english_number)


def _english_number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) and abs(value) >= 10_000 else str(value)


@functools.lru_cache(maxsize=32)
def translations(directory: Path, language: str) -> NullTranslations:
    """The catalogue for ``language`` compiled from its ``.po`` file, cached per process.

    The source language and a language without a catalogue get the identity translation.
    """
    po_path = directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == SOURCE_LANGUAGE or not po_path.is_file():
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def translator(language: str) -> NullTranslations:
    """The catalogue of ``language`` (the identity for English or an unknown language)."""
    return translations(CATALOGUES, language)


_LANGUAGE_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?"
)


def negotiate(accept_language: str | None, supported: tuple[str, ...], default: str) -> str:
    """Pick the best supported language for an ``Accept-Language`` header (RFC 9110)."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:32]):
        match = _LANGUAGE_RANGE.match(part)
        if match is None:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue
        if quality <= 0:
            continue
        ranked.append((-quality, position, match.group(1).lower()))
    for _quality, _position, tag in sorted(ranked):
        if tag == "*":
            return default
        primary = tag.split("-", 1)[0]
        if primary in supported:
            return primary
    return default


def autonym(code: str) -> str:
    """A language's name in itself, as language pickers show it: "English", "Italiano"."""
    return Formatter(code).language_name(code)


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class Formatter:
    """Dates, numbers and durations for one language and one IANA time zone."""

    def __init__(self, language: str, timezone: str = "UTC") -> None:
        self.language = language
        self.timezone = timezone
        self.locale = Locale.parse(language)
        self.zone = _zone(timezone)

    def datetime(self, value: dt.datetime | None, format: str = "medium") -> str:
        if value is None:
            return ""
        if value.tzinfo is None:  # what SQLite gives back is UTC
            value = value.replace(tzinfo=dt.UTC)
        return format_datetime(value, format=format, tzinfo=self.zone, locale=self.locale)

    def time(self, value: dt.datetime, format: str = "short") -> str:
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return format_time(value, format=format, tzinfo=self.zone, locale=self.locale)

    def date(self, value: dt.datetime | dt.date | None, format: str = "medium") -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            value = value.astimezone(self.zone).date()
        return format_date(value, format=format, locale=self.locale)

    def number(self, value: float, *, digits: int | None = None) -> str:
        if digits is not None:
            return format_decimal(round(value, digits), locale=self.locale)
        return format_decimal(value, locale=self.locale)

    def percent(self, share: float) -> str:
        """A share as a whole percentage: "42%"."""
        return format_percent(share, locale=self.locale)

    def duration(self, seconds: float, *, threshold: float = 0.85) -> str:
        """A rounded, human duration: "3 minutes", "3 minuti"."""
        return format_timedelta(
            dt.timedelta(seconds=seconds), threshold=threshold, locale=self.locale
        )

    def ago(self, value: dt.datetime, now: dt.datetime) -> str:
        """ "5 minutes ago", "5 minuti fa"."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return format_timedelta(value - now, add_direction=True, locale=self.locale)

    def language_name(self, code: str) -> str:
        """The name of a language in this formatter's language: "Italian", "Italiano"."""
        try:
            name = Locale.parse(code).get_display_name(self.locale) or code
        except (ValueError, LookupError):
            return code
        return name[:1].upper() + name[1:]
