"""Channels: connect a network account, keep its credentials encrypted and fresh, and track
its health so that a broken connection is flagged, notified, and never silently loses work."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from secrets import token_urlsafe as secrets_token
from typing import TypeVar

import httpx
from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import OAUTH_FLOW_TTL, Channel, ChannelStatus, OAuthFlow
from dialogo.channels.schemas import (
    ChannelConnect,
    ChannelFieldOut,
    ChannelSettingsUpdate,
    ProviderOut,
)
from dialogo.core.clock import ensure_aware, utcnow
from dialogo.core.errors import DomainError, InvalidInput, NotFound
from dialogo.notifications import service as notifications
from dialogo.providers.base import (
    AuthKind,
    ConnectField,
    ConnectFieldKind,
    Credentials,
    Provider,
)
from dialogo.providers.errors import (
    Disconnected,
    InsufficientScopes,
    InvalidPayload,
    ProviderError,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.netpolicy import OutboundRefused
from dialogo.providers.registry import ProviderRegistry


class NetworkUnavailable(DomainError):
    code = "network_unavailable"
    status = 502


def describe_providers(registry: ProviderRegistry) -> list[ProviderOut]:
    out = []
    for name in registry.names():
        caps = registry.get(name).capabilities
        out.append(
            ProviderOut(
                network=caps.network,
                display_name=caps.display_name,
                auth=caps.auth.value,
                text_limit=caps.text_limit,
                text_counting=caps.text_counting.value,
                max_media=caps.media.max_items,
                threads=caps.threads,
                replies=caps.replies,
                direct_messages=caps.direct_messages,
                metrics=caps.metrics,
                search=caps.search,
                publishes=caps.publishes,
            )
        )
    return out


def _provider_class(registry: ProviderRegistry, network: str) -> type[Provider]:
    try:
        return registry.get(network)
    except KeyError:
        known = ", ".join(registry.names()) or "none installed"
        raise InvalidInput(
            f"unknown network {network!r} (available: {known})", code="unknown_network"
        ) from None


def _attention_key(channel_id: int) -> str:
    return f"channel:{channel_id}"


def connect_channel(
    session: Session,
    principal: Principal,
    workspace_id: int,
    data: ChannelConnect,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    public_url: str | None = None,
    refused: list[SettingRefused] | None = None,
) -> Channel:
    """Verify the credentials with the network, then store them encrypted. Connecting the
    same account again updates its credentials (re-authorisation) and clears its flag.

    A setting that also lives at the network (Telegram's webhook mode,
    :attr:`Provider.applied_fields`) is registered there right after the channel is stored,
    at ``public_url``; when the network (or Dialogo's address) refuses it, the channel stays
    connected with the setting's previous value (a new channel: the one that asks the network
    for nothing, e.g. polling) and the refusal is appended to ``refused``."""
    authorize(session, principal, workspace_id, Permission.channels_manage)
    creds_in = data.credentials
    credentials = Credentials(
        access_token=creds_in.access_token,
        refresh_token=creds_in.refresh_token,
        account_id=creds_in.account_id,
        extra=dict(creds_in.extra),
    )
    return _verify_and_store(
        session,
        principal,
        workspace_id,
        data.network,
        credentials,
        dict(data.config),
        data.name,
        registry=registry,
        cipher=cipher,
        http=http,
        public_url=public_url,
        refused=refused,
    )


@dataclasses.dataclass(frozen=True)
class SettingRefused:
    """A setting chosen when connecting that the network refused: the channel keeps ``kept``."""

    field: str
    label: str
    wanted: str
    kept: str
    reason: str
    #: the refusal's error code (a provider error's: the web words it, ``reason`` is a detail)
    code: str = ""

    @property
    def message(self) -> str:
        return (
            f"“{self.label}” could not be set to {self.wanted}: {self.reason}; the channel "
            f"is connected and stays {self.kept} (change it in the channel's settings)"
        )


def _verify_and_store(
    session: Session,
    principal: Principal,
    workspace_id: int,
    network: str,
    credentials: Credentials,
    config: dict[str, str],
    name: str | None,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None,
    remember_account: bool = False,
    public_url: str | None = None,
    refused: list[SettingRefused] | None = None,
) -> Channel:
    """Ask the network whose account the credentials open; store the channel.
    ``remember_account`` keeps the account's id and handle in the credentials (an OAuth
    token says neither, and the provider needs them for every call)."""
    provider_cls = _provider_class(registry, network)
    display = provider_cls.capabilities.display_name
    _check_addresses(registry, display, config, credentials.extra)
    provider = provider_cls(credentials, http=http or registry.http_client(), config=config)
    try:
        account = provider.verify()
    except OutboundRefused as exc:  # an internal address, or a redirect to one
        raise InvalidInput(f"{display}: {exc.message}", code=exc.code) from None
    except (ReauthRequired, InsufficientScopes) as exc:
        raise InvalidInput(
            f"{display} refused these credentials: {exc.message}", code="credentials_rejected"
        ) from None
    except Disconnected as exc:
        raise InvalidInput(
            f"{display} says this account is not available: {exc.message}",
            code="account_unavailable",
        ) from None
    except InvalidPayload as exc:  # e.g. an address that is not a feed
        raise InvalidInput(f"{display}: {exc.message}", code="invalid_source") from None
    except ProviderError as exc:
        raise NetworkUnavailable(
            f"could not reach {display} to check the credentials: {exc.message}; try again"
        ) from None
    finally:
        if http is None:
            provider.close()
    stored = provider.credentials
    if remember_account:
        stored = dataclasses.replace(
            stored,
            account_id=stored.account_id or account.remote_id,
            extra={**stored.extra, "username": account.handle},
        )
    channel = session.scalar(
        select(Channel).where(
            Channel.workspace_id == workspace_id,
            Channel.network == network,
            Channel.account_remote_id == account.remote_id,
        )
    )
    if channel is None:
        channel = Channel(
            workspace_id=workspace_id,
            network=network,
            account_remote_id=account.remote_id,
            connected_by=principal.user_id,
        )
        session.add(channel)
    else:
        stored = _decrypt(cipher, channel).merged(stored)
    previous = {k: str(v) for k, v in (channel.config or {}).items()}
    channel.name = name or account.display_name or account.handle
    channel.account_handle = account.handle
    channel.account_url = account.url
    channel.config = dict(config)
    channel.credentials = cipher.encrypt(stored)
    channel.token_expires_at = stored.expires_at
    channel.status = ChannelStatus.ok.value
    channel.status_reason = None
    channel.last_checked_at = utcnow()
    session.flush()
    if provider_cls.apply_settings is not Provider.apply_settings:
        found = _apply_at_connect(
            provider_cls, channel, stored, previous, cipher, registry, public_url, http
        )
        if found is not None and refused is not None:
            refused.append(found)
        session.flush()
    notifications.resolve_by_key(session, workspace_id, _attention_key(channel.id))
    return channel


def _apply_at_connect(
    provider_cls: type[Provider],
    channel: Channel,
    credentials: Credentials,
    previous: dict[str, str],
    cipher: CredentialCipher,
    registry: ProviderRegistry,
    public_url: str | None,
    http: httpx.Client | None,
) -> SettingRefused | None:
    """Register the connect form's network-side settings (the channel has its id now); on a
    refusal, put them back to what they were (a new channel: the values that ask the network
    for nothing) and say why. Either way the channel stays connected."""
    config = {k: str(v) for k, v in (channel.config or {}).items()}
    try:
        extra = _apply_settings(
            provider_cls,
            channel,
            credentials,
            config,
            dict(credentials.extra),
            registry,
            public_url,
            http,
            before=previous,
        )
    except DomainError as exc:
        labels = {f.name: f.label for f in provider_cls.connect_fields}
        kept = dict(config)
        changed = []
        for name, default in provider_cls.applied_fields:
            if previous.get(name):
                kept[name] = previous[name]
            else:
                kept.pop(name, None)
            if config.get(name, "") != kept.get(name, ""):
                changed.append((name, config.get(name, ""), kept.get(name) or default))
        channel.config = kept
        if not changed:  # nothing to put back (the refusal was of the values kept anyway)
            changed = [
                (n, config.get(n, ""), kept.get(n) or d) for n, d in provider_cls.applied_fields
            ]
        name, wanted, value = changed[0] if changed else ("settings", "", "")
        return SettingRefused(name, labels.get(name, name), wanted, value, exc.message, exc.code)
    if extra != credentials.extra:
        session = object_session(channel)
        if session is None:  # pragma: no cover - the channel was just flushed in a session
            channel.credentials = cipher.encrypt(dataclasses.replace(credentials, extra=extra))
        else:
            replaced = dataclasses.replace(credentials, extra=extra)
            _save_settings(session, channel, cipher, replaced, channel.credentials)
    return None


def _check_addresses(
    registry: ProviderRegistry, display: str, config: dict[str, str], extra: dict[str, str]
) -> None:
    """Refuse, with a clear message, a configuration naming an address the server must not
    fetch (see ``providers.netpolicy``)."""
    try:
        registry.check_config(config, extra)
    except OutboundRefused as exc:
        raise InvalidInput(f"{display}: {exc.message}", code=exc.code) from None


# -- OAuth 2 (authorisation code, with PKCE where the network uses it) -------------------------

OAUTH_AUTH_KINDS = (AuthKind.oauth2, AuthKind.oauth2_pkce)


def uses_oauth(registry: ProviderRegistry, network: str) -> bool:
    return _provider_class(registry, network).capabilities.auth in OAUTH_AUTH_KINDS


def start_authorization(
    session: Session,
    principal: Principal,
    workspace_id: int,
    network: str,
    *,
    redirect_uri: str,
    config: dict[str, str],
    secrets: dict[str, str],
    name: str | None,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
) -> str:
    """Start connecting an account on the network's consent page: remember the flow (its
    ``state``, the PKCE verifier and the app secret, encrypted) and return the URL to send the
    person to. Nothing is asked of the network yet."""
    authorize(session, principal, workspace_id, Permission.channels_manage)
    provider_cls = _provider_class(registry, network)
    if provider_cls.capabilities.auth not in OAUTH_AUTH_KINDS:
        raise InvalidInput(
            f"{provider_cls.capabilities.display_name} accounts are connected with credentials, "
            "not through a consent page",
            code="not_oauth",
        )
    provider = provider_cls(Credentials(extra=dict(secrets)), config=dict(config))
    try:
        request = provider.authorization_url(redirect_uri=redirect_uri, state=secrets_token(32))
    except ProviderError as exc:
        raise InvalidInput(exc.message, code=exc.code) from None
    except NotImplementedError:
        raise InvalidInput(
            f"connecting {provider_cls.capabilities.display_name} accounts is not available: "
            "its provider offers no consent page",
            code="oauth_unavailable",
        ) from None
    finally:
        provider.close()
    now = utcnow()
    session.execute(delete(OAuthFlow).where(OAuthFlow.expires_at < now))
    verifier = {"code_verifier": request.code_verifier} if request.code_verifier else {}
    session.add(
        OAuthFlow(
            state=request.state,
            workspace_id=workspace_id,
            user_id=principal.user_id,
            network=network,
            name=name,
            redirect_uri=redirect_uri,
            config=dict(config),
            secrets=cipher.encrypt(Credentials(extra={**secrets, **verifier})),
            created_at=now,
            expires_at=now + OAUTH_FLOW_TTL,
        )
    )
    session.flush()
    return request.url


def complete_authorization(
    session: Session,
    principal: Principal,
    *,
    state: str,
    code: str | None,
    error: str | None = None,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
) -> Channel:
    """Finish a flow when the network redirects back: exchange the code (with the verifier),
    ask whose account it opens, and store the channel. A flow is used once, by the person who
    started it, before it expires; a refusal on the consent page ends it with a clear error."""
    flow = _flow(session, state)
    now = utcnow()
    if (
        flow is None
        or flow.used_at is not None
        or ensure_aware(flow.expires_at) < now
        or flow.user_id != principal.user_id
    ):
        raise InvalidInput(
            "this authorisation has expired or was already used: start connecting the "
            "account again",
            code="oauth_flow_unknown",
        )
    flow.used_at = now
    session.flush()
    authorize(session, principal, flow.workspace_id, Permission.channels_manage)
    provider_cls = _provider_class(registry, flow.network)
    display = provider_cls.capabilities.display_name
    if error or not code:
        raise InvalidInput(
            f"{display} did not grant access ({error or 'no code'}): nothing was connected",
            code="oauth_denied",
        )
    secrets = cipher.decrypt(flow.secrets).extra
    verifier = secrets.pop("code_verifier", None)
    config = {k: str(v) for k, v in (flow.config or {}).items()}
    _check_addresses(registry, display, config, secrets)
    provider = provider_cls(
        Credentials(extra=dict(secrets)), http=http or registry.http_client(), config=config
    )
    try:
        granted = provider.exchange_code(
            code=code, redirect_uri=flow.redirect_uri, code_verifier=verifier
        )
    except ReauthRequired as exc:
        raise InvalidInput(
            f"{display} refused the authorisation: {exc.message}", code="credentials_rejected"
        ) from None
    except ProviderError as exc:
        raise NetworkUnavailable(
            f"could not reach {display} to finish connecting: {exc.message}; try again"
        ) from None
    finally:
        if http is None:
            provider.close()
    credentials = dataclasses.replace(granted, extra={**secrets, **granted.extra})
    return _verify_and_store(
        session,
        principal,
        flow.workspace_id,
        flow.network,
        credentials,
        config,
        flow.name,
        registry=registry,
        cipher=cipher,
        http=http,
        remember_account=True,
    )


def _flow(session: Session, state: str) -> OAuthFlow | None:
    return session.scalar(select(OAuthFlow).where(OAuthFlow.state == state)) if state else None


def flow_workspace(session: Session, state: str) -> int | None:
    """The workspace a flow belongs to (for the page the callback shows)."""
    flow = _flow(session, state)
    return flow.workspace_id if flow is not None else None


def flow_network(session: Session, state: str) -> str:
    flow = _flow(session, state)
    return flow.network if flow is not None else ""


def list_channels(session: Session, principal: Principal, workspace_id: int) -> list[Channel]:
    authorize(session, principal, workspace_id, Permission.channels_read)
    return list(
        session.scalars(
            select(Channel).where(Channel.workspace_id == workspace_id).order_by(Channel.id)
        )
    )


def get_channel(
    session: Session,
    principal: Principal,
    workspace_id: int,
    channel_id: int,
    permission: Permission = Permission.channels_read,
) -> Channel:
    authorize(session, principal, workspace_id, permission)
    channel = session.get(Channel, channel_id)
    if channel is None or channel.workspace_id != workspace_id:
        raise NotFound("channel not found")
    return channel


def disconnect_channel(
    session: Session, principal: Principal, workspace_id: int, channel_id: int
) -> None:
    channel = get_channel(session, principal, workspace_id, channel_id, Permission.channels_manage)
    notifications.resolve_by_key(session, workspace_id, _attention_key(channel.id))
    session.delete(channel)
    session.flush()


# -- channel settings: name and the provider's editable fields -------------------------------


def editable_fields(registry: ProviderRegistry, network: str) -> tuple[ConnectField, ...]:
    """The fields a manager may change on a connected channel: the provider's configuration
    and extra credentials (app secrets, webhook secrets). The account's own token and id are
    not among them: those change by connecting the account again."""
    return tuple(
        f
        for f in _provider_class(registry, network).connect_fields
        if f.kind is not ConnectFieldKind.credential
    )


def describe_settings(
    registry: ProviderRegistry, cipher: CredentialCipher, channel: Channel
) -> list[ChannelFieldOut]:
    """The editable fields with their state; a secret says only whether it is set."""
    if channel.network not in registry:
        return []
    extra = _decrypt(cipher, channel).extra
    config = channel.config or {}
    out = []
    for f in editable_fields(registry, channel.network):
        raw = config.get(f.name) if f.kind is ConnectFieldKind.config else extra.get(f.name)
        value = str(raw) if raw not in (None, "") else None
        out.append(
            ChannelFieldOut(
                name=f.name,
                label=f.label,
                kind=f.kind.value,
                secret=f.secret,
                required=f.required,
                help=f.help,
                is_set=value is not None,
                value=None if f.secret else value,
                choices=list(f.choices),
            )
        )
    return out


def update_channel_settings(
    session: Session,
    principal: Principal,
    workspace_id: int,
    channel_id: int,
    data: ChannelSettingsUpdate,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    public_url: str | None = None,
    http: httpx.Client | None = None,
) -> Channel:
    """Rename the channel and change its editable fields. Changes are merged into the stored
    configuration and encrypted credentials: the token, the refresh token and every field not
    named stay as they are. Secret values are never written to the audit log (``credentials``
    is excluded from it); configuration changes are audited. Addresses are checked against
    the outbound policy. The network is not asked anything (a webhook secret can be set while
    the network is unreachable; "Check" does that), except by a provider whose setting also
    lives at the network (:meth:`Provider.apply_settings`, e.g. Telegram's webhook mode,
    registered at ``public_url``): its refusal saves nothing."""
    channel = get_channel(session, principal, workspace_id, channel_id, Permission.channels_manage)
    if data.name is not None:
        name = data.name.strip()
        if not name:
            raise InvalidInput("the channel name cannot be empty", code="invalid_name")
        channel.name = name
    if not data.values:
        session.flush()
        return channel
    fields = {f.name: f for f in editable_fields(registry, channel.network)}
    unknown = sorted(set(data.values) - set(fields))
    if unknown:
        allowed = ", ".join(sorted(fields)) or "none"
        raise InvalidInput(
            f"{channel.network} channels have no editable field {', '.join(unknown)} "
            f"(editable: {allowed})",
            code="unknown_field",
        )
    read = channel.credentials
    credentials = cipher.decrypt(read)
    config = {k: str(v) for k, v in (channel.config or {}).items()}
    extra = dict(credentials.extra)
    for key, raw in data.values.items():
        field = fields[key]
        value = (raw or "").strip()
        if len(value) > 8192:
            raise InvalidInput(f"{field.label} is too long", code="value_too_long")
        if not value and field.required:
            raise InvalidInput(f"{field.label} is required: it cannot be cleared", code="required")
        target = config if field.kind is ConnectFieldKind.config else extra
        if value:
            target[key] = value
        else:
            target.pop(key, None)
    provider_cls = _provider_class(registry, channel.network)
    _check_addresses(registry, provider_cls.capabilities.display_name, config, extra)
    if provider_cls.apply_settings is not Provider.apply_settings:
        extra = _apply_settings(
            provider_cls, channel, credentials, config, extra, registry, public_url, http
        )
    if config != (channel.config or {}):
        channel.config = config
    if extra != credentials.extra:
        # Only the fields changed here, on top of the credentials stored now: a token renewed
        # by a worker since ``read`` is kept, never written back stale.
        _save_settings(
            session, channel, cipher, dataclasses.replace(credentials, extra=extra), read
        )
    session.flush()
    return channel


def _save_settings(
    session: Session, channel: Channel, cipher: CredentialCipher, ours: Credentials, read: str
) -> None:
    """Write a settings change of the extra credentials in the caller's transaction (a
    settings save is the caller's unit of work), by compare-and-swap against ``read`` and
    merged with a renewal stored meanwhile (:func:`reconcile`: the renewal's tokens, our
    fields)."""
    found = _swap(session.connection(), channel.id, cipher, ours, read)
    if found is not None:
        _adopt(channel, found[0], found[1].expires_at)


def _apply_settings(
    provider_cls: type[Provider],
    channel: Channel,
    credentials: Credentials,
    config: dict[str, str],
    extra: dict[str, str],
    registry: ProviderRegistry,
    public_url: str | None,
    http: httpx.Client | None,
    *,
    before: dict[str, str] | None = None,
) -> dict[str, str]:
    """The provider tells the network about the new settings (``before``: the old ones, the
    channel's stored configuration by default); the extra credentials with the changes it
    returned."""
    provider = provider_cls(
        dataclasses.replace(credentials, extra=extra),
        http=http or registry.http_client(),
        config=config,
    )
    try:
        if before is None:
            before = {k: str(v) for k, v in (channel.config or {}).items()}
        changes = provider.apply_settings(before, public_url=public_url, channel_id=channel.id)
    finally:
        if http is None:
            provider.close()
    out = dict(extra)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _decrypt(cipher: CredentialCipher, channel: Channel) -> Credentials:
    return cipher.decrypt(channel.credentials)


class RenewedElsewhere(TransientError):
    """The network refused the token this call started with, and another worker has renewed
    the channel's credentials meanwhile (a single-use refresh token rotated by the other
    worker): nothing is flagged, the channel holds the stored credentials, and trying the
    call again uses them."""

    code = "credentials_renewed_elsewhere"


@contextmanager
def open_provider(
    session: Session,
    channel: Channel,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
) -> Iterator[Provider]:
    """A provider for this channel. Credentials the provider renewed while working are saved
    at once, in a transaction of their own (:func:`save_renewal`: a rolled-back caller loses
    nothing, a concurrent writer is merged, never overwritten); the errors that say the
    connection is broken flag the channel and notify the team, and are re-raised for the
    caller (the dispatcher keeps the work waiting). A refused token is not flagged when
    another worker renewed the credentials meanwhile: :class:`RenewedElsewhere` (transient)
    is raised instead, and the channel holds the stored credentials for the next try."""
    provider_cls = _provider_class(registry, channel.network)
    read = channel.credentials
    before = cipher.decrypt(read)
    config = {k: str(v) for k, v in (channel.config or {}).items()}
    if http is None:  # a caller's own client (tests, fakes) is trusted as it is
        registry.check_config(config, before.extra)
    provider = provider_cls(before, http=http or registry.http_client(), config=config)
    saved: list[str] = []  # the blob this block stored, once

    def save() -> None:
        if not saved and provider.credentials != before:
            renewed = before.merged(provider.credentials)
            saved.append(save_renewal(session, channel, cipher, renewed, read=read))
            provider.credentials = cipher.decrypt(channel.credentials)

    try:
        yield provider
    except (ReauthRequired, InsufficientScopes, Disconnected) as exc:
        save()
        if isinstance(exc, ReauthRequired):
            stored = _fresh_credentials(session, channel.id)
            if stored is not None and renewed_elsewhere(cipher, read, stored, saved):
                _adopt(channel, stored, cipher.decrypt(stored).expires_at)
                saved.append(stored)  # the stored state: nothing of ours to save
                provider.credentials = cipher.decrypt(stored)
                raise RenewedElsewhere(
                    f"{channel.network}: the token was refused, and another worker has "
                    "renewed the credentials meanwhile; try again"
                ) from exc
        flag_channel(session, channel, exc)
        raise
    finally:
        save()
        if http is None:
            provider.close()


def store_credentials(
    session: Session,
    channel: Channel,
    cipher: CredentialCipher,
    credentials: Credentials,
    *,
    read: str | None = None,
) -> None:
    """Store renewed credentials (see :func:`save_renewal`); ``read``: the encrypted
    credentials the renewal started from, the channel's current ones by default."""
    save_renewal(session, channel, cipher, credentials, read=read or channel.credentials)


# -- renewed credentials: saved at once, compare-and-swap, never a stale overwrite ------------
#
# A renewal is written in a transaction of its own (another connection of the caller's
# engine), committed before the caller goes on, so a caller that rolls back later (a publish
# failing after the renewal, a job retried, SQLite refusing the caller's late write) loses no
# rotated refresh token. The write is a compare-and-swap on the encrypted blob: Fernet makes
# every encryption different, so ``credentials = <the blob we read>`` means "nobody wrote
# since". When somebody did, the stored state is read again and merged field by field
# (:func:`reconcile`), and the swap is tried again against it.
#
# Where the renewal's own transaction cannot be used, it is written in the caller's:
# * SQLite has one writer for the whole database. A caller whose connection is inside a
#   transaction (it wrote, or a ``begin_nested`` began one) may hold that write lock, and a
#   second connection would wait for it until the busy timeout: a self-deadlock. So on
#   SQLite the renewal has a transaction of its own only when the caller's connection is not
#   in one (pysqlite begins a transaction only before a write; plain reads leave none open),
#   which is the case for the refresh job, the inbox poll and the dispatcher (they hold no
#   transaction across network calls: a write lock held during a network call would stop
#   every other writer, and a read snapshot held then makes the caller's later write fail
#   with SQLITE_BUSY_SNAPSHOT). Otherwise the renewal shares the caller's fate, as before.
# * PostgreSQL locks rows: the own transaction waits at most RENEWAL_LOCK_TIMEOUT_MS for the
#   channel's row. Only the caller itself holds it longer (it updated or locked the channel
#   in its open transaction); then, and when the row is not visible to another transaction
#   at all (created by the caller's uncommitted transaction), the caller's transaction
#   writes it. No wait can be endless.

#: How long (ms) a renewal's own transaction waits for the channel's row on PostgreSQL.
RENEWAL_LOCK_TIMEOUT_MS = 2000
#: Compare-and-swap rounds before giving up (each lost round means another writer committed).
_SWAP_ROUNDS = 8

_T = TypeVar("_T")


def _engine_of(session: Session) -> Engine | None:
    """The caller's engine, ``None`` for an in-memory SQLite database (each connection is a
    database of its own)."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return None
    return engine


def _own_engine(session: Session) -> Engine | None:
    """The engine to open the renewal's own transaction on, or ``None`` when it must be written
    in the caller's transaction (see above)."""
    engine = _engine_of(session)
    if engine is not None and engine.dialect.name == "sqlite":
        dbapi = session.connection().connection.dbapi_connection
        if dbapi is None or getattr(dbapi, "in_transaction", True):
            return None
    return engine


def _is_lock_timeout(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "55P03"  # lock_not_available


def _in_own_transaction(session: Session, work: Callable[[Connection], _T | None]) -> _T | None:
    """``work`` in a transaction of its own, committed; in the caller's transaction when that
    cannot be (``work`` answered ``None``: the row is not visible outside the caller's
    transaction; or the caller holds the row's lock)."""
    engine = _own_engine(session)
    if engine is not None:
        try:
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(
                        text(f"SET LOCAL lock_timeout = {int(RENEWAL_LOCK_TIMEOUT_MS)}")
                    )
                found = work(connection)
            if found is not None:
                return found
        except OperationalError as exc:
            if not _is_lock_timeout(exc):
                raise
    return work(session.connection())


def _tokens(c: Credentials) -> tuple[str | None, str | None, dt.datetime | None]:
    return (c.access_token, c.refresh_token, c.expires_at)


def reconcile(base: Credentials, ours: Credentials, stored: Credentials) -> Credentials:
    """What to store when ``ours`` (made from ``base``, the state read) finds ``stored``
    written meanwhile by another writer. Field by field:

    * the token, the refresh token and the expiry go together. Only one side renewed: that
      side's. Both renewed (a network that let the same refresh token be used twice): the
      newer renewal, the one expiring later; when that cannot be told, the stored one (it
      is already in use by the worker that stored it). Either way a refresh token is never
      replaced by none (several networks omit it when it did not change), nor by the one
      both sides started from when the other side's answer rotated it.
    * the account id and each extra field (app secrets, webhook secrets: a settings save):
      ours where ours changed it from ``base`` (a key ours removed is removed), else the
      stored value, so a settings save and a renewal never undo each other.
    """
    ours_renewed = _tokens(ours) != _tokens(base)
    stored_renewed = _tokens(stored) != _tokens(base)
    take_ours = ours_renewed and (
        not stored_renewed
        or (
            ours.expires_at is not None
            and stored.expires_at is not None
            and ours.expires_at > stored.expires_at
        )
    )
    win, other = (ours, stored) if take_ours else (stored, ours)
    extra = dict(stored.extra)
    for key in {*base.extra, *ours.extra}:
        if ours.extra.get(key) != base.extra.get(key):
            if key in ours.extra:
                extra[key] = ours.extra[key]
            else:
                extra.pop(key, None)
    # A refresh token that differs from the one both started from was rotated by the network:
    # the winner's, else the other's (the winner's answer omitted it), else whichever is set.
    rotated = [t for t in (win.refresh_token, other.refresh_token) if t and t != base.refresh_token]
    return Credentials(
        access_token=win.access_token or other.access_token,
        refresh_token=rotated[0] if rotated else win.refresh_token or other.refresh_token,
        expires_at=win.expires_at,
        account_id=ours.account_id if ours.account_id != base.account_id else stored.account_id,
        extra=extra,
    )


def _swap(
    connection: Connection,
    channel_id: int,
    cipher: CredentialCipher,
    ours: Credentials,
    read: str,
) -> tuple[str, Credentials] | None:
    """Compare-and-swap ``ours`` (made from the blob ``read``) into the channel's row, merging
    with whatever another writer stored meanwhile; the blob and credentials stored, or
    ``None`` when the row is not there."""
    base = cipher.decrypt(read)
    expected, wanted = read, ours
    for _ in range(_SWAP_ROUNDS):
        blob = cipher.encrypt(wanted)
        swapped = connection.execute(
            update(Channel)
            .where(Channel.id == channel_id, Channel.credentials == expected)
            .values(credentials=blob, token_expires_at=wanted.expires_at)
        ).rowcount
        if swapped:
            return blob, wanted
        current = connection.scalar(select(Channel.credentials).where(Channel.id == channel_id))
        if current is None:
            return None
        expected = current
        wanted = reconcile(base, ours, cipher.decrypt(current))
    raise TransientError("the channel's credentials keep changing: try again")


def _adopt(channel: Channel, blob: str, expires_at: dt.datetime | None) -> None:
    """Make the caller's Channel hold the stored credentials without writing them again: a
    later flush of the caller's session must not put a stale blob back."""
    set_committed_value(channel, "credentials", blob)
    set_committed_value(channel, "token_expires_at", expires_at)


def save_renewal(
    session: Session,
    channel: Channel | int,
    cipher: CredentialCipher,
    credentials: Credentials,
    *,
    read: str,
) -> str:
    """Store renewed ``credentials`` made from the encrypted credentials ``read``, at once and
    in a transaction of its own where it can (see above), merged with anything another writer
    stored since ``read``. The caller's Channel (if loaded in ``session``) holds the stored
    state afterwards. Returns the stored blob (``read`` when the channel is gone)."""
    channel_id = channel if isinstance(channel, int) else channel.id
    found = _in_own_transaction(
        session, lambda connection: _swap(connection, channel_id, cipher, credentials, read)
    )
    if found is None:  # deleted meanwhile: nothing to keep
        return read
    blob, stored = found
    loaded = (
        channel
        if isinstance(channel, Channel)
        else session.identity_map.get(identity_key(Channel, channel_id))
    )
    if isinstance(loaded, Channel):
        _adopt(loaded, blob, stored.expires_at)
    if _tokens(stored) == _tokens(credentials):
        _clear_refusal_flag(session, channel_id)
    return blob


def _clear_refusal_flag(session: Session, channel_id: int) -> None:
    """Our renewal is the stored one: the network has just issued these tokens, so a
    "re-authorise" flag for a refused token is stale — set by another worker that was refused
    the token we renewed away after its re-read (:func:`renewed_elsewhere`) but before our
    renewal was stored. Only that flag is cleared (code ``reauth_required``; not missing
    scopes, not a disconnected account), in the caller's transaction. Limit: an authorisation
    revoked between our refresh and another worker's refusal is cleared too; the next call
    the network refuses flags the channel again."""
    result = session.execute(
        update(Channel)
        .where(
            Channel.id == channel_id,
            Channel.status == ChannelStatus.reauth_required.value,
            Channel.status_code == ReauthRequired.code,
        )
        .values(status=ChannelStatus.ok.value, status_reason=None, status_code=None)
        .returning(Channel.workspace_id)
        .execution_options(synchronize_session="fetch")
    )
    workspace_id = result.scalar()
    if workspace_id is not None:
        notifications.resolve_by_key(session, workspace_id, _attention_key(channel_id))


def _fresh_credentials(session: Session, channel_id: int) -> str | None:
    """The channel's stored blob as committed now (a transaction of its own: what other
    workers stored since the caller's snapshot), or the caller's view when the row is the
    caller's own uncommitted one."""
    query = select(Channel.credentials).where(Channel.id == channel_id)
    engine = _engine_of(session)
    found = None
    if engine is not None:
        with engine.connect() as connection:
            found = connection.scalar(query)
    return found if found is not None else session.scalar(query)


def renewed_elsewhere(
    cipher: CredentialCipher, read: str, stored: str, ours: list[str] | tuple[str, ...] = ()
) -> bool:
    """Whether ``stored`` holds tokens another writer renewed since ``read`` was read (not a
    settings save, not our own renewal ``ours``): a refusal of the token read is then no
    reason to flag the channel."""
    if stored == read or stored in ours:
        return False
    return _tokens(cipher.decrypt(stored)) != _tokens(cipher.decrypt(read))


def flag_channel(session: Session, channel: Channel, error: ProviderError) -> None:
    """Record that the channel needs a person (re-authorise or reconnect) and tell the team."""
    status = (
        ChannelStatus.disconnected
        if isinstance(error, Disconnected)
        else ChannelStatus.reauth_required
    )
    channel.status = status.value
    channel.status_reason = error.message
    channel.status_code = error.code  # worded by the pages; the reason is the network's detail
    channel.last_checked_at = utcnow()
    session.flush()
    notifications.notify(  # deduplicated while the previous one is unresolved
        session,
        channel.workspace_id,
        kind="channel_attention",
        params={"variant": status.value, "name": channel.name, "network": channel.network},
        body=error.message,
        link=f"/w/{channel.workspace_id}/channels",
        dedupe_key=_attention_key(channel.id),
    )


def check_channel(
    session: Session,
    principal: Principal,
    workspace_id: int,
    channel_id: int,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
) -> Channel:
    """Ask the network now whether the credentials still work, and record the answer."""
    channel = get_channel(session, principal, workspace_id, channel_id, Permission.channels_manage)
    try:
        with open_provider(session, channel, registry=registry, cipher=cipher, http=http) as p:
            p.verify()
    except (ReauthRequired, InsufficientScopes, Disconnected):
        return channel  # flagged by open_provider
    except ProviderError as exc:
        raise NetworkUnavailable(f"could not reach {channel.network}: {exc.message}") from None
    channel.status = ChannelStatus.ok.value
    channel.status_reason = None
    channel.status_code = None
    channel.last_checked_at = utcnow()
    session.flush()
    notifications.resolve_by_key(session, workspace_id, _attention_key(channel.id))
    return channel


def channels_to_refresh(
    session: Session, *, margin: dt.timedelta, now: dt.datetime | None = None
) -> list[Channel]:
    now = now or utcnow()
    return list(
        session.scalars(
            select(Channel).where(
                Channel.status == ChannelStatus.ok.value,
                Channel.token_expires_at.is_not(None),
                Channel.token_expires_at <= now + margin,
            )
        )
    )


def refresh_channel(
    session: Session,
    channel: Channel,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
) -> bool:
    """Refresh the token ahead of expiry. ``False`` when the network asked for a person
    (the channel is flagged); transient failures propagate so the job is retried.

    The renewal is stored at once (:func:`open_provider`). A refresh token refused because
    another worker used it first (single-use refresh tokens rotate) flags nothing: the
    refresh is tried once more with the credentials that worker stored."""
    for attempt in range(2):
        try:
            with open_provider(session, channel, registry=registry, cipher=cipher, http=http) as p:
                renewed = p.refresh()
                p.credentials = p.credentials.merged(renewed)
        except RenewedElsewhere:
            if attempt:
                raise
            continue
        except (ReauthRequired, InsufficientScopes, Disconnected):
            return False
        break
    expires = channel.token_expires_at
    return expires is None or ensure_aware(expires) > utcnow()


def rotate_credentials_key(session: Session, cipher: CredentialCipher) -> int:
    """Re-encrypt every channel's credentials with the first configured key: a compare-and-swap
    like a renewal's (:func:`_swap` encrypts with the first key), so a token a worker renews
    meanwhile is kept, not overwritten by the re-encrypted old one."""
    count = 0
    for channel in session.scalars(select(Channel)):
        read = channel.credentials
        found = _swap(session.connection(), channel.id, cipher, cipher.decrypt(read), read)
        if found is not None:
            _adopt(channel, found[0], found[1].expires_at)
        count += 1
    session.flush()
    return count
