"""Translated labels and messages: roles, scopes, job statuses, audit actions, and the
domain errors that the pages show as messages (the services' messages are English)."""

from __future__ import annotations

from typing import Protocol

from babel.support import NullTranslations
from pydantic import ValidationError

from dialogo.audience.receptiveness import FACET_LABELS
from dialogo.channels.app_limits import app_limit_reason as app_limit_reason
from dialogo.core.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
)
from dialogo.core.i18n import N_
from dialogo.providers.labels import ERROR_LABELS
from dialogo.providers.labels import provider_reason as provider_reason
from dialogo.publishing.reasons import variant_reason as variant_reason

ROLE_LABELS = {
    "owner": N_("Owner"),
    "admin": N_("Administrator"),
    "editor": N_("Editor"),
    "approver": N_("Approver"),
    "agent": N_("Agent"),
    "viewer": N_("Viewer"),
}
ROLE_HELP = {
    "owner": N_("everything, including deleting the workspace and managing owners"),
    "admin": N_("everything but deleting the workspace or touching owners"),
    "editor": N_("writes posts, replies, manages listening and audience"),
    "approver": N_("writes, approves and publishes posts"),
    "agent": N_("replies to and assigns conversations"),
    "viewer": N_("reads everything but the activity log"),
}
SCOPE_LABELS = {
    "read": N_("Read"),
    "write": N_("Write"),
    "admin": N_("Administration"),
}
JOB_STATUS_LABELS = {
    "queued": N_("Queued"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
}
AUDIT_ACTION_LABELS = {
    "create": N_("Added"),
    "update": N_("Changed"),
    "delete": N_("Removed"),
    "logo_changed": N_("Logo changed"),
    "password_changed": N_("Password changed"),
}
ENTITY_LABELS = {
    "users": N_("User"),
    "workspaces": N_("Workspace"),
    "memberships": N_("Member"),
    "api_tokens": N_("API token"),
    "channels": N_("Channel"),
}
#: The shared provider errors (``dialogo.providers.errors``) by code: what went wrong, in words
#: a person understands; the network's own text follows as a detail (:func:`provider_reason`).
#: Kept with the providers (notifications word them too): ``dialogo.providers.labels``.
PROVIDER_ERROR_LABELS = ERROR_LABELS
CHANNEL_STATUS_LABELS = {
    "ok": N_("Working"),
    "reauth_required": N_("Needs re-authorisation"),
    "disconnected": N_("Disconnected"),
}
# The labels and help of the connect fields that the bundled providers declare
# (``Provider.connect_fields``, in English): listed here so the catalogue translates them.
# A provider's text missing from this list is shown in English.
PROVIDER_FIELD_TEXTS = (
    # Bluesky
    N_("Handle"),
    N_("The account's handle, e.g. brand.bsky.social."),
    N_("App password"),
    N_(
        "Create an app password in Bluesky (Settings → Privacy and security → "
        "App passwords) and paste it here; never use the account's main password."
    ),
    N_("Server"),
    N_("Leave empty for bsky.social; for a self-hosted PDS, its address."),
    # Matrix
    N_("Homeserver URL"),
    N_("The address of the account's homeserver, e.g. https://matrix.example.org."),
    N_("Access token"),
    N_(
        "The access token of the account Dialogo speaks as (in Element: Settings → "
        "Help & About → Access token)."
    ),
    N_("Room ID"),
    N_("Where posts are published, e.g. !abc123:example.org."),
    # Mastodon ("Access token" is Matrix's label too)
    N_("Instance URL"),
    N_("The address of the Mastodon server the account is on, e.g. https://mastodon.social."),
    N_(
        "In Mastodon: Preferences → Development → New application, with the read "
        "and write scopes; then copy “Your access token”."
    ),
    N_("Default visibility"),
    N_("public, unlisted, private (followers only) or direct; public if empty."),
    # RSS / Atom
    N_("Feed URL"),
    N_("The address of the RSS or Atom feed, e.g. https://example.com/feed.xml."),
    # Telegram
    N_("Bot token"),
    N_(
        "The token @BotFather gave when the bot was created, e.g. "
        "123456789:AAH…; add the bot to the channel as an administrator allowed "
        "to post messages."
    ),
    N_("Channel or chat"),
    N_(
        "Where posts are published: @channelusername, or a numeric id such as "
        "-1001234567890 for a private channel or group."
    ),
    N_("How messages arrive"),
    N_(
        "polling (the default: Dialogo asks Telegram every minute) or webhook "
        "(Telegram pushes each message at once to /webhooks/telegram/<channel id>; "
        "needs DIALOGO_BASE_URL to be Dialogo's public https address)."
    ),
    # Sandbox
    N_("Demo token"),
    N_("The sandbox needs no account: type sandbox-demo."),
    N_("World seed"),
    N_("e.g. 42"),
    N_("People"),
    N_("How many simulated people (default 20000)."),
    N_("Time speed"),
    N_("Simulated seconds per real second (default 60)."),
    # Facebook and Instagram (Meta); "Webhook verify token" and its help are shared
    N_("Meta app id"),
    N_("The App ID of your Meta app with Facebook Login."),
    N_("Meta app secret"),
    N_("The App Secret shown in the app's basic settings."),
    N_("Page id"),
    N_("The id of the Page to manage; leave empty if you manage only one Page."),
    N_("Webhook verify token"),
    N_(
        "For messages pushed at once: any long random string, typed again in the "
        "app's webhook settings for /webhooks/meta/<channel id>."
    ),
    N_("Instagram app id"),
    N_("The Instagram app id of your Meta app (API setup with Instagram login)."),
    N_("Instagram app secret"),
    N_("The Instagram app secret shown next to it."),
    # Threads
    N_("Threads app id"),
    N_("The Threads app id of your Meta app (the Threads use case)."),
    N_("Threads app secret"),
    N_("The Threads app secret shown next to it."),
    # LinkedIn
    N_("LinkedIn app client id"),
    N_(
        "The Client ID of your app in the LinkedIn developer portal "
        "(with the Community Management API product)."
    ),
    N_("LinkedIn app client secret"),
    N_("The Primary Client Secret shown next to it."),
    N_("Organization id"),
    N_("The number in your page's admin address: linkedin.com/company/<id>/admin."),
    # WhatsApp
    N_("System user access token"),
    N_("A permanent token of a system user with whatsapp_business_messaging."),
    N_("Phone number id"),
    N_("WhatsApp Manager → API setup: the id of the business phone number."),
    N_("App secret"),
    N_("Your Meta app's secret: it signs the webhook notifications."),
    N_("Any long random string; type the same one in the app's webhook settings."),
    # X ("App client id" and "App client secret" are in the catalogue already)
    N_("The OAuth 2.0 client id of your app in the X developer portal."),
    N_("Only for confidential apps (a web app with a secret)."),
    N_("App consumer secret (API key secret)"),
    N_(
        "Only for webhooks (Account Activity API): X signs its deliveries with it. "
        "Register /webhooks/x/<channel id> as the webhook URL."
    ),
)


def label(tr: NullTranslations, table: dict[str, str], key: str) -> str:
    """The translated label of ``key`` in one of the tables above, or the key itself."""
    msgid = table.get(key)
    return tr.gettext(msgid) if msgid is not None else key


class _Segment(Protocol):
    label: str
    facet: str | None
    value: str | None


def segment_label(tr: NullTranslations, segment: _Segment) -> str:
    """A ranked segment's label in the viewer's language: a saved segment's name, or the label
    of a profile field's value (``dialogo.audience.receptiveness.FACET_LABELS``)."""
    template = FACET_LABELS.get(segment.facet or "")
    if template is None or segment.value is None:
        return segment.label
    return tr.gettext(template) % {"value": segment.value}


def domain_error(tr: NullTranslations, exc: DomainError) -> str:
    """A domain error as a sentence in the user's language."""
    by_code = {
        "csrf_failed": tr.gettext(
            "This form expired or did not come from Dialogo. Reload the page and try again."
        ),
        "last_owner": tr.gettext("A workspace needs at least one owner."),
        "already_member": tr.gettext("This person is already a member of the workspace."),
        "user_not_found": tr.gettext(
            "Nobody has an account with this e-mail address; an administrator must create it first."
        ),
        "wrong_password": tr.gettext("The current password is not correct."),
        "wrong_credentials": tr.gettext("Wrong e-mail or password."),
        "logo_type": tr.gettext("The logo must be a PNG, JPEG, WebP, GIF or SVG image."),
        "logo_too_large": tr.gettext("The logo must be 512 KiB or smaller."),
        "logo_empty": tr.gettext("The logo file is empty."),
        "slug_taken": tr.gettext("This address is already taken."),
        "email_taken": tr.gettext("An account with this e-mail address already exists."),
        "credentials_rejected": tr.gettext("The network refused these credentials."),
        "oauth_unavailable": tr.gettext(
            "This network cannot be connected here: its provider offers no consent page."
        ),
        "oauth_flow_unknown": tr.gettext(
            "This authorisation has expired or was already used. Start connecting the "
            "account again."
        ),
        "oauth_denied": tr.gettext(
            "Access was not granted on the network's page, so nothing was connected."
        ),
        "oauth_client_missing": tr.gettext("Enter the client id of your app on this network."),
        "network_unavailable": tr.gettext(
            "The network could not be reached. Nothing was changed; try again in a few minutes."
        ),
        "unknown_network": tr.gettext("This network is not installed on this server."),
        "credentials_unreadable": tr.gettext(
            "The stored credentials cannot be decrypted (the encryption key changed); "
            "connect the account again."
        ),
    }
    if exc.code in by_code:
        return by_code[exc.code]
    if isinstance(exc, TooManyAttempts):
        return too_many_attempts(tr, exc.retry_after)
    if isinstance(exc, NotFound):
        return tr.gettext("Not found: it does not exist, or it is not visible to you.")
    if isinstance(exc, PermissionDenied):
        return tr.gettext("Your role does not allow this.")
    if isinstance(exc, AuthenticationFailed):
        return tr.gettext("Sign in to continue.")
    if isinstance(exc, Conflict):
        return tr.gettext("This conflicts with the current state; reload the page and try again.")
    if isinstance(exc, InvalidInput):
        return tr.gettext("Some of the values are not valid.")
    return tr.gettext("The request could not be completed.")


def error_reason(tr: NullTranslations, exc: DomainError, *, implied: str = "") -> str:
    """Why a service refused, for a sentence: the provider error it was raised from (its
    ``__context__``), else the error itself, through :func:`provider_reason`; a provider
    error of the ``implied`` code (the sentence says it already) gives its detail alone."""
    inner = exc.__context__
    cause = inner if isinstance(inner, DomainError) else exc
    if cause.code == implied:
        return cause.message
    return provider_reason(tr, cause.code, cause.message)


def too_many_attempts(tr: NullTranslations, retry_after: int) -> str:
    minutes = max(1, -(-retry_after // 60))
    return tr.ngettext(
        "Too many failed sign-ins for this account. Try again in %(num)d minute.",
        "Too many failed sign-ins for this account. Try again in %(num)d minutes.",
        minutes,
    ) % {"num": minutes}


def field_errors(
    tr: NullTranslations, exc: ValidationError, messages: dict[str, str]
) -> dict[str, str]:
    """Map a Pydantic error to ``{field: translated message}``; ``messages`` are msgids."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err.get("loc") else ""
        msgid = messages.get(field, N_("This value is not valid."))
        errors.setdefault(field, tr.gettext(msgid))
    return errors
