"""Jinja2 environments (one per language, translations installed) and the HTML response."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from babel.support import NullTranslations
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dialogo import __version__
from dialogo.core import i18n
from dialogo.web import cookies

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
TRANSLATIONS = HERE / "translations"

# Applied to every page: nothing inline, nothing from elsewhere, never framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# htmx swaps 4xx answers too: a refused form comes back with its messages (422, 403, 409…).
HTMX_CONFIG = (
    '{"includeIndicatorStyles":false,"allowEval":false,"selfRequestsOnly":true,'
    '"responseHandling":[{"code":"204","swap":false},{"code":"[234]..","swap":true},'
    '{"code":"5..","swap":true,"error":true}]}'
)


class Contextual(str):
    """A message marked with :func:`NC_`: an English msgid plus the gettext context
    (``msgctxt``) that tells it apart from the same English words meaning something else."""

    context: str

    def __new__(cls, context: str, message: str) -> Contextual:
        marked = super().__new__(cls, message)
        marked.context = context
        return marked


def NC_(context: str, message: str) -> str:
    """Mark a message with a context for extraction, translated where it is shown.

    ``viewer.gettext(label)`` and ``{{ _(label) }}`` in a template look the label up with its
    context, so the same English word can have two translations (``Running`` the sport and
    ``Running`` the job status). Extracted through ``keywords = NC_:1c,2`` in ``babel.cfg``;
    a message translated where it is written uses ``pgettext``/``npgettext`` instead (in
    Python through ``tr(...)``, in templates as globals).
    """
    return Contextual(context, message)


class ContextAwareTranslations(NullTranslations):
    """One language's catalogue, with :func:`NC_` labels looked up under their context."""

    def __init__(self, catalogue: NullTranslations) -> None:
        super().__init__()
        self.add_fallback(catalogue)
        self.catalogue = catalogue

    def gettext(self, message: str) -> str:
        if isinstance(message, Contextual):
            return self.pgettext(message.context, message)
        return self.catalogue.gettext(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        if isinstance(msgid1, Contextual):
            return self.npgettext(msgid1.context, msgid1, msgid2, n)
        return self.catalogue.ngettext(msgid1, msgid2, n)

    def pgettext(self, context: str, message: str) -> str:
        return str(self.catalogue.pgettext(context, message))

    def npgettext(self, context: str, singular: str, plural: str, num: int) -> str:
        return str(self.catalogue.npgettext(context, singular, plural, num))

    # Jinja2's i18n extension prefers these older names when they exist (Babel defines them).
    ugettext = gettext
    ungettext = ngettext
    upgettext = pgettext
    unpgettext = npgettext


@functools.lru_cache(maxsize=8)
def tr(language: str) -> ContextAwareTranslations:
    """The translations of one language (compiled once per process), context-aware."""
    return ContextAwareTranslations(i18n.translations(TRANSLATIONS, language))


def static_url(name: str) -> str:
    return f"/static/{name}?v={__version__}"


@functools.lru_cache(maxsize=8)
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(tr(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        static=static_url, htmx_config=HTMX_CONFIG, lang=language, autonym=i18n.autonym
    )
    return env


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    language: str,
    secret: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page or a fragment; pending flash messages are shown once and cleared."""
    flashes = cookies.take_flashes(request, secret)
    body = environment(language).get_template(template).render({"flashes": flashes, **context})
    response = HTMLResponse(
        body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
    )
    if request.cookies.get(cookies.FLASH_COOKIE) is not None:
        cookies.clear_flashes(response)
    return response
