"""A stand-in catalogue for tests of wordings the localiser has not translated yet.

The entries given (a msgid, or a ``(singular, plural)`` pair, to its translation) come first;
everything else falls back to the project's own catalogue of the language, so what is
translated already stays translated. The plural rule is the project catalogue's (Italian:
``nplurals=2; plural=(n != 1);``), not Babel's CLDR default.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from dialogo.core import i18n

Msgid = str | tuple[str, str]


@functools.cache
def plural_forms(language: str) -> str:
    """The ``Plural-Forms`` header of the project's catalogue of ``language``."""
    po = i18n.CATALOGUES / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with po.open("rb") as handle:
        return str(read_po(handle, locale=language).plural_forms)


def stand_in(language: str, entries: Mapping[Msgid, Msgid]) -> Translations:
    """``entries`` over the project's catalogue of ``language``."""
    catalog = Catalog(locale=language, domain=i18n.DOMAIN)
    catalog.mime_headers = [("Plural-Forms", plural_forms(language))]
    for msgid, translation in entries.items():
        catalog.add(msgid, translation)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    translations = Translations(fp=compiled, domain=i18n.DOMAIN)
    translations.add_fallback(i18n.translator(language))
    return translations
