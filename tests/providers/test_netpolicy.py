"""The outbound (SSRF) policy: internal addresses are refused, as literals, behind a host name
and at the end of a redirect, unless the settings allow them; allowed configurations pass,
including a real fetch from a server on loopback when loopback is allowed."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher, generate_key
from dialogo.channels.models import Channel
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.config import ConfigError, Environment, load_settings
from dialogo.core.errors import InvalidInput
from dialogo.providers.base import Credentials
from dialogo.providers.mastodon.provider import MastodonProvider
from dialogo.providers.netpolicy import (
    GuardedTransport,
    OutboundPolicy,
    OutboundRefused,
    guarded_client,
)
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.rss.provider import RssProvider
from tests.conftest import TEST_OUTBOUND_ALLOW
from tests.factories import make_user, make_workspace
from tests.loopback import serving

SAFE = OutboundPolicy()

INTERNAL = [
    "http://127.0.0.1/",
    "http://127.8.9.10:8008/",
    "http://10.0.0.5/feed.xml",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "http://0.0.0.0/",
    "http://224.0.0.251/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[::ffff:10.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:169.254.169.254]/",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_literal_addresses_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused) as caught:
        SAFE.check_url(url)
    assert "internal address" in caught.value.message
    assert "DIALOGO_OUTBOUND_ALLOW" in caught.value.message
    assert caught.value.code == "address_internal"


def test_public_addresses_and_other_schemes() -> None:
    SAFE.check_url("https://93.184.215.14/feed")
    SAFE.check_url("http://[2606:4700:4700::1111]/")
    for url in ("file:///etc/passwd", "ftp://example.org/", "gopher://x/"):
        with pytest.raises(OutboundRefused, match="only http and https") as caught:
            SAFE.check_url(url)
        assert caught.value.code == "address_invalid"


def resolver_to(*addresses: str):  # type: ignore[no-untyped-def]
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def test_a_host_name_resolving_to_an_internal_address_is_refused() -> None:
    policy = OutboundPolicy(resolver=resolver_to("10.1.2.3"))
    with pytest.raises(OutboundRefused, match=r"feeds\.example\.org \(10\.1\.2\.3\)") as inner:
        policy.check_url("https://feeds.example.org/rss")
    assert inner.value.code == "address_internal"
    # one bad answer among good ones is enough to refuse (the connection may pick it); its
    # code says the name mixes public and internal answers
    mixed = OutboundPolicy(resolver=resolver_to("93.184.215.14", "127.0.0.1"))
    with pytest.raises(OutboundRefused) as caught:
        mixed.check_url("https://feeds.example.org/rss")
    assert caught.value.code == "address_mixed"
    with pytest.raises(OutboundRefused) as unresolved:
        OutboundPolicy(resolver=resolver_to()).check_url("https://feeds.example.org/rss")
    assert unresolved.value.code == "address_unresolvable"
    good = resolver_to("93.184.215.14")
    OutboundPolicy(resolver=good).check_url("https://feeds.example.org:8443/rss")
    assert good.calls == [("feeds.example.org", 8443)]  # type: ignore[attr-defined]


def test_the_allow_settings_let_internal_addresses_through() -> None:
    everything = OutboundPolicy(allow_private=True, resolver=resolver_to("10.1.2.3"))
    everything.check_url("http://10.0.0.5/")
    everything.check_url("http://intranet.example/")
    listed = OutboundPolicy.from_allow_list(["10.1.2.0/24", "synapse.internal", "::1"])
    listed.check_url("http://10.1.2.200/")
    listed.check_url("http://[::1]:8008/")
    listed.check_url("http://Synapse.Internal./_matrix/")  # listed host: not even resolved
    with pytest.raises(OutboundRefused):
        listed.check_url("http://10.1.3.1/")  # outside the listed network
    with pytest.raises(ValueError, match="neither a CIDR"):
        OutboundPolicy.from_allow_list(["10.0.0.0/33x"])


def test_settings_default_is_safe_outside_development(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = "s" * 40
    dev = load_settings(env=Environment.development, data_dir=tmp_path)
    assert dev.outbound_policy.allow_private  # `dialogo demo` and development keep working
    prod = load_settings(env=Environment.production, data_dir=tmp_path, secret_key=secret)
    assert not prod.outbound_policy.allow_private
    with pytest.raises(OutboundRefused):
        prod.outbound_policy.check_url("http://169.254.169.254/")
    opened = load_settings(
        env=Environment.production,
        data_dir=tmp_path,
        secret_key=secret,
        outbound_allow_private=True,
    )
    assert opened.outbound_policy.allow_private
    closed_dev = load_settings(
        env=Environment.development, data_dir=tmp_path, outbound_allow_private=False
    )
    with pytest.raises(OutboundRefused):
        closed_dev.outbound_policy.check_url("http://127.0.0.1/")
    with pytest.raises(ConfigError, match="DIALOGO_OUTBOUND_ALLOW"):
        load_settings(data_dir=tmp_path, outbound_allow=("not a network/8",))


def test_the_test_settings_allow_loopback_only(settings) -> None:  # type: ignore[no-untyped-def]
    assert tuple(settings.outbound_allow) == TEST_OUTBOUND_ALLOW
    policy = settings.outbound_policy
    policy.check_url("http://127.0.0.1:8008/")
    policy.check_url("http://[::1]/")
    with pytest.raises(OutboundRefused):
        policy.check_url("http://10.0.0.5/")


def test_a_redirect_to_an_internal_address_is_refused_before_it_is_followed() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/"})

    policy = OutboundPolicy(resolver=resolver_to("93.184.215.14"))
    client = httpx.Client(transport=GuardedTransport(policy, httpx.MockTransport(handler)))
    with pytest.raises(OutboundRefused, match=r"169\.254\.169\.254"):
        client.get("https://feeds.example.org/rss", follow_redirects=True)
    assert sent == ["https://feeds.example.org/rss"]  # the internal address was never asked


class _Feed(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/feed.xml")
            self.end_headers()
            return
        body = (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback feed</title>'
            b"<link>http://127.0.0.1/</link><description>d</description></channel></rss>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    with serving(_Feed) as url:
        yield url


def test_a_real_loopback_fetch_passes_when_loopback_is_allowed(feed_server: str) -> None:
    allowed = guarded_client(OutboundPolicy.from_allow_list(TEST_OUTBOUND_ALLOW))
    with allowed:
        assert allowed.get(f"{feed_server}/moved", follow_redirects=True).status_code == 200
    refused = guarded_client(SAFE)
    with refused, pytest.raises(OutboundRefused):
        refused.get(f"{feed_server}/feed.xml")


def test_the_guarded_client_checks_before_any_proxy_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx mounts a proxy from the environment; the check runs whichever transport serves."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with guarded_client(SAFE) as client, pytest.raises(OutboundRefused):
        client.get("http://10.0.0.5/")


def test_addresses_in_the_secrets_are_checked_only_under_address_keys() -> None:
    policy = OutboundPolicy(resolver=resolver_to("93.184.215.14"))
    policy.check_config({}, {"app_password": "abcd://10.0.0.1", "pds": "pds.example.org"})
    with pytest.raises(OutboundRefused):
        policy.check_config({}, {"homeserver": "http://10.0.0.1:8008"})
    with pytest.raises(OutboundRefused):
        policy.check_config({"anything": "http://[::1]/"})
    policy.check_config({"room_id": "!abc:matrix.org", "visibility": "public"})


def _connect(db: Session, registry: ProviderRegistry, network: str, **config: str) -> Channel:
    owner = make_user(db)
    ws = make_workspace(db, owner)
    return channels.connect_channel(
        db,
        accounts.Principal.for_user(owner),
        ws.id,
        ChannelConnect(
            network=network,
            credentials=ChannelCredentialsIn(access_token="t" if network != "rss" else None),
            config=config,
        ),
        registry=registry,
        cipher=CredentialCipher([generate_key()]),
    )


def test_connecting_a_feed_on_an_internal_address_is_refused_with_a_clear_error(
    db: Session, feed_server: str
) -> None:
    registry = ProviderRegistry({"rss": RssProvider}, outbound=SAFE)
    with pytest.raises(InvalidInput) as caught:
        _connect(db, registry, "rss", url="http://169.254.169.254/latest/meta-data/")
    assert caught.value.code == "address_internal"
    assert "internal address" in caught.value.message
    with pytest.raises(InvalidInput) as looped:
        _connect(db, registry, "rss", url=f"{feed_server}/feed.xml")
    assert looped.value.code == "address_internal"
    assert db.scalar(select(func.count()).select_from(Channel)) == 0
    # with loopback allowed, the same feed connects (a real fetch)
    allowed = ProviderRegistry(
        {"rss": RssProvider}, outbound=OutboundPolicy.from_allow_list(TEST_OUTBOUND_ALLOW)
    )
    channel = _connect(db, allowed, "rss", url=f"{feed_server}/moved")
    assert channel.name == "Loopback feed"


def test_a_redirect_to_an_internal_address_is_refused_at_connect_time(
    db: Session, feed_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A public-looking feed that redirects to loopback: the first hop is allowed (its name
    resolves to a public address), the redirect is not."""

    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14"] if host == "feeds.example.org" else ["127.0.0.1"]

    port = feed_server.rsplit(":", 1)[1]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"location": f"http://127.0.0.1:{port}/feed.xml"})

    policy = OutboundPolicy(resolver=resolve)
    registry = ProviderRegistry({"rss": RssProvider}, outbound=policy)
    monkeypatch.setattr(
        registry,
        "http_client",
        lambda: httpx.Client(transport=GuardedTransport(policy, httpx.MockTransport(handler))),
    )
    with pytest.raises(InvalidInput) as caught:
        _connect(db, registry, "rss", url="https://feeds.example.org/rss")
    assert caught.value.code == "address_internal"
    assert "127.0.0.1" in caught.value.message


def test_a_mastodon_instance_typed_without_scheme_is_checked_before_any_request(
    db: Session,
) -> None:
    """Mastodon.py speaks HTTP through ``requests``, not the guarded client: the address is
    checked from the configuration before the provider is built."""
    registry = ProviderRegistry({"mastodon": MastodonProvider}, outbound=SAFE)
    with pytest.raises(InvalidInput) as caught:
        _connect(db, registry, "mastodon", instance_url="169.254.169.254")
    assert caught.value.code == "address_internal"


def test_using_a_channel_whose_address_is_internal_is_refused(db: Session) -> None:
    """A channel stored before the policy (or before its name moved to an internal address)
    is refused when a job opens it."""
    owner = make_user(db)
    ws = make_workspace(db, owner)
    cipher = CredentialCipher([generate_key()])
    channel = Channel(
        workspace_id=ws.id,
        network="rss",
        name="Old feed",
        account_remote_id="http://10.0.0.5/feed.xml",
        account_handle="feed",
        config={"url": "http://10.0.0.5/feed.xml"},
        credentials=cipher.encrypt(Credentials()),
    )
    db.add(channel)
    db.flush()
    registry = ProviderRegistry({"rss": RssProvider}, outbound=SAFE)
    with (
        pytest.raises(OutboundRefused),
        channels.open_provider(db, channel, registry=registry, cipher=cipher),
    ):
        pass
