"""Messages with a context (``NC_``, ``pgettext``): the same English words translated apart,
in Python and in templates, through the catalogue wrapper the web layer installs."""

from __future__ import annotations

import io

import jinja2
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import Translations

from dialogo.web.templating import NC_, ContextAwareTranslations


def catalogue() -> ContextAwareTranslations:
    catalog = Catalog(locale="it", domain="messages")
    # The plural rule of the project's catalogue header (recent Babel releases derive three Italian
    # plural forms from CLDR, "many" for millions, when a catalogue does not say otherwise).
    catalog.mime_headers = [("Plural-Forms", "nplurals=2; plural=(n != 1);")]
    catalog.add("Publishing", "Pubblicazione")
    catalog.add("Publishing", "In pubblicazione", context="post status")
    catalog.add(("%(num)d post", "%(num)d posts"), ("%(num)d post", "%(num)d post"))
    catalog.add(
        ("%(num)d reply", "%(num)d replies"),
        ("%(num)d risposta", "%(num)d risposte"),
        context="inbox",
    )
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return ContextAwareTranslations(Translations(fp=buffer, domain="messages"))


def test_a_marked_label_is_looked_up_with_its_context() -> None:
    tr = catalogue()
    label = NC_("post status", "Publishing")
    assert label == "Publishing"  # still the English text wherever it is not translated
    assert tr.gettext(label) == "In pubblicazione"
    assert tr.gettext("Publishing") == "Pubblicazione"
    assert tr.pgettext("post status", "Publishing") == "In pubblicazione"
    assert tr.gettext("Not in the catalogue") == "Not in the catalogue"
    assert tr.gettext(NC_("nowhere", "Publishing")) == "Publishing"


def test_plurals_with_and_without_context() -> None:
    tr = catalogue()
    assert tr.npgettext("inbox", "%(num)d reply", "%(num)d replies", 1) == "%(num)d risposta"
    assert tr.npgettext("inbox", "%(num)d reply", "%(num)d replies", 3) == "%(num)d risposte"
    marked = NC_("inbox", "%(num)d reply")
    assert tr.ngettext(marked, "%(num)d replies", 2) == "%(num)d risposte"
    assert tr.ngettext("%(num)d post", "%(num)d posts", 2) == "%(num)d post"


def test_templates_translate_labels_and_contexts() -> None:
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    env.install_gettext_translations(catalogue(), newstyle=True)  # type: ignore[attr-defined]
    page = env.from_string(
        "{{ _(label) }}|{{ _('Publishing') }}|{{ pgettext('post status', 'Publishing') }}"
    )
    assert page.render(label=NC_("post status", "Publishing")) == (
        "In pubblicazione|Pubblicazione|In pubblicazione"
    )
