"""The shared provider errors worded for people, by code, in the reader's language.

What went wrong in words a person understands; the network's own text (never translated)
follows as a detail. Kept with the providers, not the web pages, because the domains that
speak to people outside the pages (notifications, e-mails) word the same errors; the web
re-exports them (``dialogo.web.messages.PROVIDER_ERROR_LABELS``). The texts are marked with
:func:`~dialogo.core.i18n.N_` and translated where they are shown.
"""

from __future__ import annotations

from babel.support import NullTranslations

from dialogo.core.i18n import N_

#: The shared provider errors (``dialogo.providers.errors``) by code, and the errors other
#: modules raise about a provider call (the outbound address policy,
#: ``dialogo.providers.netpolicy``; credentials renewed by another worker,
#: ``dialogo.channels.service.RenewedElsewhere``).
ERROR_LABELS = {
    "reauth_required": N_("the network refused the credentials or they expired"),
    "insufficient_scopes": N_("a permission this needs was not granted"),
    "disconnected": N_("the account is no longer available on the network"),
    "invalid_payload": N_("the network refused the content"),
    "rate_limited": N_("the network's rate limit was reached"),
    "transient": N_("the network had a temporary problem"),
    "outcome_unknown": N_("the network did not answer in time"),
    "provider_error": N_("the network answered with an error"),
    "credentials_renewed_elsewhere": N_(
        "the network refused the credentials, but another worker had just renewed them: "
        "the next try uses the renewed ones"
    ),
    # the outbound address policy (``netpolicy.ADDRESS_REFUSALS``)
    "address_not_allowed": N_("the server may not connect to this address"),
    "address_internal": N_(
        "the address is internal (private, loopback, link-local, multicast or reserved), and "
        "the server does not connect to internal addresses unless an administrator allows it"
    ),
    "address_mixed": N_(
        "the host name answers both public and internal addresses, so the server does not "
        "connect to it unless an administrator allows it"
    ),
    "address_unresolvable": N_("the host name cannot be resolved"),
    "address_invalid": N_("the address is not a valid http or https address"),
}


def provider_reason(tr: NullTranslations, code: str, detail: str) -> str:
    """A reason for a sentence: the translated phrase of a known provider error ``code`` with
    the network's own text (never translated) after it as a detail; ``detail`` alone else."""
    msgid = ERROR_LABELS.get(code)
    if msgid is None:
        return detail
    if not detail:
        return tr.gettext(msgid)
    return tr.gettext("%(reason)s — details: %(detail)s") % {
        "reason": tr.gettext(msgid),
        "detail": detail,
    }
