"""Why a variant is not (yet) published, worded in the reader's language.

The dispatcher stores three things with each outcome: ``last_error``, the English text (what
logs, webhooks and API clients that ignore codes read); ``last_error_code``, its type; and
``last_error_params``, the numbers and names its sentence needs, with the network's own text
as ``detail`` (never translated). The code is either a shared provider error
(``invalid_payload``, ``rate_limited``, … :data:`dialogo.providers.labels.ERROR_LABELS`:
worded as that phrase with the detail after it) or one of the dispatcher's own below, whose
templates take the parameters. A template with ``%(reason)s`` words a provider error inside
it: the parameters then carry its code as ``error``. A template that counts something is a
:class:`~dialogo.core.i18n.Plural`, its form picked by the number in its parameter (``attempts``,
``hours``). Rows written before codes were kept show their English text (:func:`variant_reason`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from babel.support import NullTranslations

from dialogo.core import i18n
from dialogo.core.i18n import N_, Nn_, Plural
from dialogo.providers.labels import provider_reason
from dialogo.providers.registry import ProviderRegistry

#: The dispatcher's own reasons (``dialogo.publishing.dispatcher``) by code.
REASONS: dict[str, str | Plural] = {
    "channel_removed": N_("the channel was removed before the post went out"),
    "provider_missing": N_("no provider for %(network)s is installed"),
    "app_rate_limit_wait": N_("waiting for the rate limit of the channel's app"),
    "rate_limit_wait": N_("waiting for the network's rate limit"),
    "media_unavailable": N_("the post's media cannot be sent: %(detail)s"),
    "media_source_missing": N_("this worker cannot read the media library (no media source)"),
    "cannot_list_recent": N_(
        "%(network)s cannot list recent posts, so whether the post went out is unknown: look "
        "at the account and publish again by hand if it is not there"
    ),
    # Rows stored before the three reasons below had their own codes (the English as detail).
    "reconcile_cannot_tell": N_(
        "whether the post went out on %(network)s is unknown (%(detail)s): look at the account "
        "and publish again by hand if it is not there"
    ),
    # A lost answer the account's listing cannot settle (dispatcher._find_on_network).
    "reconcile_no_times": N_(
        "%(network)s lists the account's posts without the time they were made, so whether "
        "it went out is unknown: look at the account and publish again by hand if it is not "
        "there"
    ),
    "reconcile_stopped_short": Plural(
        Nn_(
            "%(network)s would not list the account's posts back to when this post was sent "
            "(it stopped after %(count)s post), so whether it went out is unknown: look at the "
            "account and publish again by hand if it is not there",
            "%(network)s would not list the account's posts back to when this post was sent "
            "(it stopped after %(count)s posts), so whether it went out is unknown: look at "
            "the account and publish again by hand if it is not there",
        ),
        count="count",
    ),
    "reconcile_too_many": Plural(
        Nn_(
            "the account posted more than %(limit)s time on %(network)s since this post was "
            "sent, so whether it went out is unknown: look at the account and publish again "
            "by hand if it is not there",
            "the account posted more than %(limit)s times on %(network)s since this post was "
            "sent, so whether it went out is unknown: look at the account and publish again "
            "by hand if it is not there",
        ),
        count="limit",
    ),
    "attempts_exhausted": Plural(
        Nn_(
            "gave up after %(attempts)s attempt: %(reason)s",
            "gave up after %(attempts)s attempts: %(reason)s",
        ),
        count="attempts",
    ),
    "unanswered_exhausted": Plural(
        Nn_(
            "%(attempts)s publish had no answer: %(reason)s",
            "%(attempts)s publishes had no answer: %(reason)s",
        ),
        count="attempts",
    ),
    "uploading": N_("%(network)s: the video is being uploaded (it carries on in the next run)"),
    "processing": N_("%(network)s is processing the media"),
    "processing_timeout": Plural(
        Nn_(
            "%(network)s was still processing the media %(hours)s hour after the post was "
            "sent, so it was not published: check the file (format, length) and schedule again",
            "%(network)s was still processing the media %(hours)s hours after the post was "
            "sent, so it was not published: check the file (format, length) and schedule again",
        ),
        count="hours",
    ),
    "first_comment_failed": N_("the post is out, but its first comment failed: %(reason)s"),
}


@functools.cache
def _display_names() -> dict[str, str]:
    """The installed providers' names as people read them (``instagram`` → "Instagram"): the
    registry's entry points (one that cannot be loaded is logged there and left out)."""
    registry = ProviderRegistry.from_entry_points()
    return {n: registry.get(n).capabilities.display_name or n for n in registry.names()}


def network_name(network: str) -> str:
    """A network's display name, or its code when no installed provider declares it."""
    return _display_names().get(network, network)


def variant_reason(
    tr: NullTranslations,
    code: str | None,
    params: Mapping[str, Any] | None,
    text: str | None,
) -> str:
    """A variant's last error in the language of ``tr``: by its ``code`` and ``params`` (see
    the module), else (an old row, a code this version does not know) its English ``text``."""
    fallback = text or ""
    if not code:
        return fallback
    values = {str(k): v for k, v in (params or {}).items() if v is not None}
    detail = str(values.pop("detail", "") or "")
    template = REASONS.get(code)
    if template is None:  # a provider error: its phrase, the network's text as the detail
        return provider_reason(tr, code, detail or fallback) or fallback
    if "error" in values:
        values["reason"] = provider_reason(tr, str(values.pop("error")), detail) or fallback
    else:
        values["detail"] = detail
    if "network" in values:  # stored as the network's code ("instagram"): shown by its name
        values["network"] = network_name(str(values["network"]))
    filled = {k: v if isinstance(v, int | float) else str(v) for k, v in values.items()}
    try:
        return i18n.translate(tr, template, filled)
    except (KeyError, ValueError, TypeError):  # parameters missing: the stored text
        return fallback
