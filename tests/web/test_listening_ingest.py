"""The Listening page's "read the channels now": a real RSS feed served on 127.0.0.1, read
through the RSS provider, and how many new mentions it brought, worded in singular and
plural."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import http.server
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.context import AppContext
from dialogo.listening import service as listening
from dialogo.listening.schemas import QueryCreate
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.rss.provider import RssProvider
from dialogo.server import create_app
from tests.loopback import serving
from tests.web.conftest import Browser


class Feed:
    """An RSS feed whose entries (title, guid) a test changes between reads."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []
        self.url = ""

    def body(self) -> bytes:
        when = email.utils.format_datetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        items = "".join(
            f'<item><title>{escape(title)}</title><guid isPermaLink="false">{guid}</guid>'
            f"<pubDate>{when}</pubDate></item>"
            for title, guid in self.entries
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Notizie</title><link>{self.url}</link>{items}</channel></rss>"
        ).encode()


@pytest.fixture
def feed() -> Iterator[Feed]:
    """The feed, served on 127.0.0.1 (the RSS provider reads it over real HTTP)."""
    served = Feed()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.body()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as base:
        served.url = f"{base}/feed.xml"
        yield served


@pytest.fixture
def registry() -> ProviderRegistry:
    return ProviderRegistry({"rss": RssProvider})


@pytest.fixture
def app(ctx: AppContext, registry: ProviderRegistry) -> FastAPI:
    return create_app(dataclasses.replace(ctx, providers=registry))


def test_listening_ingest_counts_new_mentions_in_singular_and_plural(
    db: Session,
    signed_in: Browser,
    owner: User,
    workspace: Workspace,
    feed: Feed,
    ctx: AppContext,
    registry: ProviderRegistry,
) -> None:
    principal = accounts.Principal.for_user(owner)
    feed.entries = [("Aurora apre a Bologna", "a1"), ("Tutt'altro", "u1")]
    channels.connect_channel(
        db,
        principal,
        workspace.id,
        ChannelConnect(
            network="rss",
            name="Notizie",
            credentials=ChannelCredentialsIn(),
            config={"url": feed.url},
        ),
        registry=registry,
        cipher=CredentialCipher.from_settings(ctx.settings),
    )
    listening.create_query(
        db, principal, workspace.id, QueryCreate(name="Aurora", query="aurora", kind="brand")
    )
    db.commit()

    def read_now() -> str:
        r = signed_in.post(f"/w/{workspace.id}/listening/ingest")
        assert r.status_code == 303, r.text
        return signed_in.get(r.headers["location"]).text

    assert "1 new mention from the channels." in read_now()  # the other entry does not match
    feed.entries += [("Il caffè di Aurora", "a2"), ("Aurora, il cornetto", "a3")]
    assert "2 new mentions from the channels." in read_now()  # the first one is not new
    assert "0 new mentions from the channels." in read_now()
