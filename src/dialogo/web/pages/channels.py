"""Channels: the connected network accounts of a workspace, their health, and the forms that
connect, check and disconnect them (htmx forms that also work without JavaScript).

Connecting is two steps on one page: choose an installed network (a link, ``?network=…``),
then type what its kind of authorisation needs. A provider can declare its fields
(``Provider.connect_fields``); otherwise they follow from ``capabilities.auth``. Secrets are
password inputs and are never sent back to the browser; the service verifies them with the
network before anything is stored.
"""

from __future__ import annotations

import dataclasses

from babel.support import NullTranslations
from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from dialogo.accounts.permissions import Permission
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn, ChannelSettingsUpdate
from dialogo.core.clock import ensure_aware
from dialogo.core.errors import DomainError, InvalidInput
from dialogo.core.i18n import N_
from dialogo.providers.base import AuthKind, ConnectField, ConnectFieldKind, Provider
from dialogo.providers.errors import ProviderError
from dialogo.providers.netpolicy import ADDRESS_REFUSALS
from dialogo.web import messages, templating
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()

# The fields of each kind of authorisation, for providers that declare none. ``%(network)s``
# in a help text is the network's name. For OAuth networks they are the app's: the account
# itself is granted on the network's consent page.
_OAUTH_APP_FIELDS = (
    ConnectField(
        "client_id",
        N_("App client id"),
        kind=ConnectFieldKind.config,
        help=N_("The OAuth client id of your app on %(network)s (its developer settings)."),
    ),
    ConnectField(
        "client_secret",
        N_("App client secret"),
        kind=ConnectFieldKind.extra,
        secret=True,
        required=False,
        help=N_("Only for apps that have a secret; it is stored encrypted."),
    ),
)
DEFAULT_FIELDS: dict[AuthKind, tuple[ConnectField, ...]] = {
    AuthKind.oauth2: _OAUTH_APP_FIELDS,
    AuthKind.oauth2_pkce: _OAUTH_APP_FIELDS,
    AuthKind.app_password: (
        ConnectField(
            "account_id",
            N_("Handle"),
            help=N_("The account's handle (or the e-mail address it signs in with)."),
        ),
        ConnectField(
            "app_password",
            N_("App password"),
            kind=ConnectFieldKind.extra,
            secret=True,
            help=N_(
                "Create an app password in the settings of your %(network)s account and "
                "paste it here; never use the account's main password."
            ),
        ),
    ),
    AuthKind.access_token: (
        ConnectField(
            "access_token",
            N_("Access token"),
            secret=True,
            help=N_(
                "Create an access token for Dialogo in the settings of your %(network)s "
                "account and paste it here."
            ),
        ),
    ),
    AuthKind.bot_token: (
        ConnectField(
            "access_token",
            N_("Bot token"),
            secret=True,
            help=N_("The token %(network)s gave you when you created the bot."),
        ),
    ),
    AuthKind.none: (),
}
MAX_LENGTHS = {"name": 200, "account_id": 255, "config": 500, "secret": 8192}


@dataclasses.dataclass(frozen=True)
class FormField:
    """One input of the connect form, in the viewer's language."""

    key: str  # the input's name: "credential.access_token", "extra.app_password", …
    kind: ConnectFieldKind
    name: str
    label: str
    help: str
    secret: bool
    required: bool
    choices: tuple[str, ...] = ()  # offered as a list (the first is the default)

    @property
    def id(self) -> str:
        return "channel-" + self.key.replace(".", "-").replace("_", "-")


@dataclasses.dataclass(frozen=True)
class Network:
    """An installed network, as the page offers it."""

    network: str
    display_name: str
    fields: list[FormField] | None  # None: it cannot be connected from this page
    oauth: bool = False  # connected on the network's consent page (the fields: the app's)


@dataclasses.dataclass(frozen=True)
class Row:
    """A connected account, as the table shows it."""

    channel: Channel
    network_name: str
    expired: bool  # the access token's expiry is past
    checked_seconds: float | None  # since the last check, if there was one
    reconnectable: bool  # its network is installed and can be connected from this page


def _form_fields(tr: NullTranslations, provider: type[Provider]) -> list[FormField] | None:
    display = provider.capabilities.display_name
    declared = provider.connect_fields
    fields = declared or DEFAULT_FIELDS.get(provider.capabilities.auth)
    if fields is None:
        return None
    out = []
    for field in fields:
        help_ = tr.gettext(field.help) if field.help else ""
        if not declared:
            help_ = help_ % {"network": display}
        out.append(
            FormField(
                key=f"{field.kind.value}.{field.name}",
                kind=field.kind,
                name=field.name,
                label=tr.gettext(field.label),
                help=help_,
                secret=field.secret,
                required=field.required,
                choices=field.choices,
            )
        )
    return out


def networks(viewer: Viewer) -> list[Network]:
    registry = viewer.ctx.providers
    found = []
    for name in registry.names():
        provider = registry.get(name)
        found.append(
            Network(
                network=name,
                display_name=provider.capabilities.display_name,
                fields=_form_fields(viewer.tr, provider),
                oauth=provider.capabilities.auth in channels.OAUTH_AUTH_KINDS,
            )
        )
    return sorted(found, key=lambda n: n.display_name.casefold())


def _cipher(viewer: Viewer) -> CredentialCipher:
    return CredentialCipher.from_settings(viewer.ctx.settings)


def refusal(viewer: Viewer, exc: DomainError, network: str) -> str:
    """A service's refusal as a sentence in the viewer's language."""
    name = viewer.network_name(network)
    if exc.code == "credentials_rejected":
        return viewer.gettext("%(network)s refused these credentials: %(reason)s") % {
            "network": name,
            "reason": messages.error_reason(viewer.tr, exc, implied="reauth_required"),
        }
    if exc.code in ADDRESS_REFUSALS:
        return viewer.gettext("%(network)s cannot use this address: %(reason)s") % {
            "network": name,
            "reason": messages.error_reason(viewer.tr, exc),
        }
    if exc.code == "network_unavailable":
        return viewer.gettext(
            "Could not reach %(network)s (%(reason)s). Nothing was changed; "
            "try again in a few minutes."
        ) % {"network": name, "reason": messages.error_reason(viewer.tr, exc)}
    return messages.domain_error(viewer.tr, exc)


def _reauth_values(channel: Channel, fields: list[FormField]) -> dict[str, str]:
    """What the re-authorisation form starts with: everything but the secrets."""
    values = {"name": channel.name}
    for field in fields:
        if field.kind is ConnectFieldKind.config:
            values[field.key] = str((channel.config or {}).get(field.name, ""))
        elif field.key == "credential.account_id":
            values[field.key] = channel.account_handle
    return values


def _page(
    viewer: Viewer,
    workspace_id: int,
    *,
    network: str | None = None,
    reauth: int | None = None,
    message: Flash | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    focus: bool = False,
    status: int = 200,
) -> Response:
    """The whole page, or for htmx only the channels section (with its message)."""
    workspace, role = viewer.workspace(workspace_id, Permission.channels_read)
    listed = channels.list_channels(viewer.session, viewer.principal, workspace_id)
    now = viewer.ctx.clock.now()
    can_manage = viewer.can(role, Permission.channels_manage)
    installed = networks(viewer) if can_manage else []
    connectable = {n.network for n in installed if n.fields is not None}
    rows = [
        Row(
            channel=c,
            network_name=viewer.network_name(c.network),
            expired=c.token_expires_at is not None and ensure_aware(c.token_expires_at) <= now,
            checked_seconds=(now - ensure_aware(c.last_checked_at)).total_seconds()
            if c.last_checked_at is not None
            else None,
            reconnectable=c.network in connectable,
        )
        for c in listed
    ]
    chosen = next((n for n in installed if n.network == network), None)
    if chosen is None and len(installed) == 1:
        chosen = installed[0]
    reauthorising = next((c for c in listed if c.id == reauth), None)
    if reauthorising is not None and (chosen is None or chosen.network != reauthorising.network):
        reauthorising = None
    if values is None:
        values = {"name": ""}
        if reauthorising is not None and chosen is not None and chosen.fields is not None:
            values = _reauth_values(reauthorising, chosen.fields)
    template = "_channels.html" if templating.is_htmx(viewer.request) else "channels.html"
    return viewer.render(
        template,
        active="channels",
        workspace=workspace,
        role=role,
        rows=rows,
        can_manage=can_manage,
        networks=installed,
        chosen=chosen,
        reauthorising=reauthorising,
        message=message,
        values=values,
        errors=errors or {},
        focus=focus or bool(errors),
        now=now,
        callback_url=callback_url(viewer),
        status=status,
    )


def _done(viewer: Viewer, workspace_id: int, level: str, text_: str) -> Response:
    """After a change: the refreshed section for htmx, else a redirect with a message."""
    if templating.is_htmx(viewer.request):
        return _page(viewer, workspace_id, message=Flash(level, text_))
    response = RedirectResponse(f"/w/{workspace_id}/channels", status_code=303)
    viewer.flash(response, level, text_)
    return response


def _refused(
    viewer: Viewer,
    workspace_id: int,
    exc: DomainError,
    network: str,
    *,
    values: dict[str, str] | None = None,
    reauth: int | None = None,
) -> Response:
    """Nothing of the refused request is kept; the form comes back without its secrets."""
    viewer.session.rollback()
    return _page(
        viewer,
        workspace_id,
        network=network if values is not None else None,
        reauth=reauth,
        message=Flash("error", refusal(viewer, exc, network)),
        values=values,
        status=exc.status,
    )


@router.get("/w/{workspace_id}/channels")
def channels_page(
    workspace_id: int,
    viewer: CurrentViewer,
    network: str | None = None,
    channel: int | None = None,
) -> Response:
    return _page(viewer, workspace_id, network=network, reauth=channel, focus=network is not None)


def _read_connect_form(
    viewer: Viewer, form: FormData, fields: list[FormField]
) -> tuple[dict[str, str], dict[str, str], ChannelCredentialsIn | None, dict[str, str]]:
    """(values to show again, errors, credentials, config) of a submitted connect form."""
    values = {"name": text(form, "name")}
    errors: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for field in fields:
        value = text(form, field.key)
        if field.secret:
            secrets[field.key] = value
        else:
            values[field.key] = value
        limit = MAX_LENGTHS[
            "secret"
            if field.secret
            else "config"
            if field.kind is ConnectFieldKind.config
            else "account_id"
        ]
        if field.required and not value:
            errors[field.key] = viewer.gettext("This field is required.")
        elif len(value) > limit:
            errors[field.key] = viewer.gettext("This value is too long.")
    if len(values["name"]) > MAX_LENGTHS["name"]:
        errors["name"] = viewer.gettext("Enter a name of up to 200 characters.")
    if errors:
        return values, errors, None, {}
    typed = {**values, **secrets}
    top: dict[str, str] = {}
    extra: dict[str, str] = {}
    config: dict[str, str] = {}
    for field in fields:
        value = typed[field.key]
        if not value:
            continue
        if field.kind is ConnectFieldKind.credential:
            top[field.name] = value
        elif field.kind is ConnectFieldKind.extra:
            extra[field.name] = value
        else:
            config[field.name] = value
    try:
        credentials = ChannelCredentialsIn(**top, extra=extra)
    except ValidationError:
        return values, {"": viewer.gettext("Some of the values are not valid.")}, None, {}
    return values, errors, credentials, config


@router.post("/w/{workspace_id}/channels")
async def connect(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.channels_manage)
    form = await read_form(viewer.request)
    network = text(form, "network")
    reauth_raw = text(form, "reauth")
    reauth = int(reauth_raw) if reauth_raw.isdigit() and len(reauth_raw) < 19 else None
    chosen = next((n for n in networks(viewer) if n.network == network), None)
    if chosen is None:
        return _page(
            viewer,
            workspace_id,
            message=Flash("error", viewer.gettext("Choose one of the networks listed.")),
            status=422,
        )
    if chosen.fields is None:
        return _page(
            viewer,
            workspace_id,
            network=network,
            message=Flash(
                "error",
                viewer.gettext("Connecting %(network)s accounts is not available yet.")
                % {"network": chosen.display_name},
            ),
            status=422,
        )
    values, errors, credentials, config = _read_connect_form(viewer, form, chosen.fields)
    if credentials is None:
        general = errors.pop("", None)
        return _page(
            viewer,
            workspace_id,
            network=network,
            reauth=reauth,
            message=Flash("error", general) if general else None,
            values=values,
            errors=errors,
            status=422,
        )
    if chosen.oauth:
        return _start_oauth(viewer, workspace_id, network, values, credentials, config, reauth)
    before = {c.id for c in channels.list_channels(viewer.session, viewer.principal, workspace_id)}
    data = ChannelConnect(
        network=network, name=values["name"] or None, credentials=credentials, config=config
    )
    refused: list[channels.SettingRefused] = []
    try:
        # The providers' clients are synchronous (some run an event loop of their own): off
        # the server's loop, as FastAPI runs the plain ``def`` routes. A setting that lives at
        # the network (Telegram's webhook mode) is registered once the channel has its id.
        channel = await run_in_threadpool(
            channels.connect_channel,
            viewer.session,
            viewer.principal,
            workspace_id,
            data,
            registry=viewer.ctx.providers,
            cipher=_cipher(viewer),
            public_url=viewer.ctx.settings.public_url,
            refused=refused,
        )
    except DomainError as exc:
        return _refused(viewer, workspace_id, exc, network, values=values, reauth=reauth)
    done = (
        viewer.gettext("%(name)s (%(network)s) is authorised again and working.")
        if channel.id in before
        else viewer.gettext("%(name)s (%(network)s) is connected.")
    )
    done %= {"name": channel.name, "network": chosen.display_name}
    if refused:  # connected, with the setting's default: say which and why
        r = refused[0]
        # a provider error is worded in the viewer's language; the network's text stays a detail
        done += " " + viewer.gettext(
            "“%(field)s” could not be set to %(wanted)s, so it stays %(kept)s: %(reason)s. "
            "Change it in the channel's settings."
        ) % {
            "field": viewer.gettext(r.label),
            "wanted": r.wanted,
            "kept": r.kept,
            "reason": messages.provider_reason(viewer.tr, r.code, r.reason),
        }
    return _done(viewer, workspace_id, "info" if refused else "success", done)


def callback_url(viewer: Viewer) -> str:
    """Where networks send people back after the consent page (register it in the app)."""
    return f"{viewer.ctx.settings.public_url.rstrip('/')}/channels/oauth/callback"


def _start_oauth(
    viewer: Viewer,
    workspace_id: int,
    network: str,
    values: dict[str, str],
    credentials: ChannelCredentialsIn,
    config: dict[str, str],
    reauth: int | None,
) -> Response:
    """Remember the flow and send the browser to the network's consent page."""
    try:
        url = channels.start_authorization(
            viewer.session,
            viewer.principal,
            workspace_id,
            network,
            redirect_uri=callback_url(viewer),
            config=config,
            secrets=dict(credentials.extra),
            name=values["name"] or None,
            registry=viewer.ctx.providers,
            cipher=_cipher(viewer),
        )
    except DomainError as exc:
        return _refused(viewer, workspace_id, exc, network, values=values, reauth=reauth)
    if templating.is_htmx(viewer.request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.get("/channels/oauth/callback")
async def oauth_callback(
    viewer: CurrentViewer,
    state: str = "",
    code: str | None = None,
    error: str | None = None,
) -> Response:
    """The network sends the person back here with a code (or an error): finish connecting."""
    workspace_id = channels.flow_workspace(viewer.session, state[:128])
    try:
        channel = await run_in_threadpool(
            channels.complete_authorization,
            viewer.session,
            viewer.principal,
            state=state[:128],
            code=code[:2048] if code else None,
            error=error[:200] if error else None,
            registry=viewer.ctx.providers,
            cipher=_cipher(viewer),
        )
    except DomainError as exc:
        if workspace_id is None:
            viewer.session.rollback()
            response = RedirectResponse("/", status_code=303)
            viewer.flash(response, "error", refusal(viewer, exc, ""))
            return response
        # The flow stays spent (committed with the request), whatever went wrong after.
        return _page(
            viewer,
            workspace_id,
            message=Flash(
                "error", refusal(viewer, exc, channels.flow_network(viewer.session, state))
            ),
            status=exc.status,
        )
    return _done(
        viewer,
        channel.workspace_id,
        "success",
        viewer.gettext("%(name)s (%(network)s) is connected.")
        % {"name": channel.name, "network": viewer.network_name(channel.network)},
    )


@router.post("/w/{workspace_id}/channels/{channel_id}/check")
def check(workspace_id: int, channel_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.channels_manage)
    try:
        channel = channels.check_channel(
            viewer.session,
            viewer.principal,
            workspace_id,
            channel_id,
            registry=viewer.ctx.providers,
            cipher=_cipher(viewer),
        )
    except DomainError as exc:
        listed = channels.list_channels(viewer.session, viewer.principal, workspace_id)
        known = next((c for c in listed if c.id == channel_id), None)
        return _refused(viewer, workspace_id, exc, known.network if known else "")
    names = {"name": channel.name, "network": viewer.network_name(channel.network)}
    if channel.status == ChannelStatus.ok.value:
        return _done(
            viewer,
            workspace_id,
            "success",
            viewer.gettext("%(name)s (%(network)s) is working.") % names,
        )
    # Flagged: the answer is kept (status, reason, notification), so it is not a refusal.
    if channel.status == ChannelStatus.disconnected.value:
        what = viewer.gettext("%(name)s (%(network)s) was disconnected by the network: %(reason)s")
    else:
        what = viewer.gettext("%(name)s (%(network)s) needs to be authorised again: %(reason)s")
    # the error type in the reader's words (unless the sentence says it already), the
    # network's own text as a detail
    code = channel.status_code or ""
    reason = channel.status_reason or ""
    if code != channel.status:
        reason = messages.provider_reason(viewer.tr, code, reason)
    return _done(viewer, workspace_id, "error", what % {**names, "reason": reason})


@router.post("/w/{workspace_id}/channels/{channel_id}/disconnect")
def disconnect(workspace_id: int, channel_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.channels_manage)
    listed = channels.list_channels(viewer.session, viewer.principal, workspace_id)
    known = next((c for c in listed if c.id == channel_id), None)
    names = (
        {"name": known.name, "network": viewer.network_name(known.network)}
        if known is not None
        else {"name": "", "network": ""}
    )
    try:
        channels.disconnect_channel(viewer.session, viewer.principal, workspace_id, channel_id)
    except DomainError as exc:
        return _refused(viewer, workspace_id, exc, known.network if known else "")
    return _done(
        viewer,
        workspace_id,
        "success",
        viewer.gettext("%(name)s (%(network)s) was disconnected; its credentials were deleted.")
        % names,
    )


# -- channel settings: rename, and change the provider's editable fields ------------------------


def _settings_page(
    viewer: Viewer,
    workspace_id: int,
    channel_id: int,
    *,
    message: Flash | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The settings form. Secret fields show only whether they are set, never their value."""
    workspace, role = viewer.workspace(workspace_id, Permission.channels_manage)
    channel = channels.get_channel(
        viewer.session, viewer.principal, workspace_id, channel_id, Permission.channels_manage
    )
    fields = [
        f.model_copy(
            update={
                "label": viewer.tr.gettext(f.label),
                "help": viewer.tr.gettext(f.help) if f.help else "",
            }
        )
        for f in channels.describe_settings(viewer.ctx.providers, _cipher(viewer), channel)
    ]
    shown = {"name": channel.name, **{f.name: f.value or "" for f in fields if not f.secret}}
    return viewer.render(
        "channel_settings.html",
        active="channels",
        workspace=workspace,
        role=role,
        channel=channel,
        network_name=viewer.network_name(channel.network),
        fields=fields,
        values={**shown, **(values or {})},
        message=message,
        status=status,
    )


@router.get("/w/{workspace_id}/channels/{channel_id}/settings")
def settings_page(workspace_id: int, channel_id: int, viewer: CurrentViewer) -> Response:
    return _settings_page(viewer, workspace_id, channel_id)


@router.post("/w/{workspace_id}/channels/{channel_id}/settings")
async def save_settings(workspace_id: int, channel_id: int, viewer: FormViewer) -> Response:
    """A blank secret input keeps the stored secret; its "clear" box removes it. A blank
    non-secret input clears the value (a required one is refused)."""
    viewer.workspace(workspace_id, Permission.channels_manage)
    channel = channels.get_channel(
        viewer.session, viewer.principal, workspace_id, channel_id, Permission.channels_manage
    )
    form = await read_form(viewer.request)
    name = text(form, "name")
    shown = {"name": name}
    values: dict[str, str | None] = {}
    for f in channels.describe_settings(viewer.ctx.providers, _cipher(viewer), channel):
        if f.secret:
            typed = text(form, f"field.{f.name}", strip=False).strip()
            if text(form, f"clear.{f.name}"):
                values[f.name] = None
            elif typed:
                values[f.name] = typed
        elif f"field.{f.name}" in form:
            typed = text(form, f"field.{f.name}")
            shown[f.name] = typed
            if typed != (f.value or ""):
                values[f.name] = typed or None
    if not name:
        return _settings_page(
            viewer,
            workspace_id,
            channel_id,
            message=Flash("error", viewer.gettext("The channel needs a name.")),
            values=shown,
            status=422,
        )
    try:
        data = ChannelSettingsUpdate(name=name[: MAX_LENGTHS["name"]], values=values)
        # Off the server's loop: a setting that lives at the network (Telegram's webhook
        # mode) is sent to it by the providers' synchronous clients.
        channel = await run_in_threadpool(
            channels.update_channel_settings,
            viewer.session,
            viewer.principal,
            workspace_id,
            channel_id,
            data,
            registry=viewer.ctx.providers,
            cipher=_cipher(viewer),
            public_url=viewer.ctx.settings.public_url,
        )
    except DomainError as exc:
        viewer.session.rollback()
        # The service's reason names the field (never a value); it is in English for now. A
        # network's refusal of a setting (Telegram's webhook) is worded by its error's kind.
        reason = (
            viewer.gettext("Nothing was saved: %(reason)s")
            % {"reason": messages.error_reason(viewer.tr, exc)}
            if isinstance(exc, InvalidInput | ProviderError)
            else messages.domain_error(viewer.tr, exc)
        )
        return _settings_page(
            viewer,
            workspace_id,
            channel_id,
            message=Flash("error", reason),
            values=shown,
            status=exc.status,
        )
    except ValidationError:
        return _settings_page(
            viewer,
            workspace_id,
            channel_id,
            message=Flash("error", viewer.gettext("A value is too long.")),
            values=shown,
            status=422,
        )
    return _done(
        viewer,
        workspace_id,
        "success",
        viewer.gettext("The settings of %(name)s (%(network)s) are saved.")
        % {"name": channel.name, "network": viewer.network_name(channel.network)},
    )
