"""Benchmark of inbox ingest: N inbound messages (default 1,000,000) in pages of 1,000, stored
by the real ingest code (``ingest.store_page``: dedupe with ``ON CONFLICT DO NOTHING``,
threads, contacts, enrichment, the cursor in the same transaction; one commit per page, as a
job does), then the same pages ingested a second time (a provider that pages again from the
start), and checked: exactly one row per remote message.

    python benchmarks/inbox.py                                # 1,000,000 messages, SQLite
    python benchmarks/inbox.py --messages 100000 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:54329/postgres

The baseline is a bare ``INSERT`` of the same rows (same columns, no dedupe, no threads, no
contacts, no enrichment), in the same pages and commits. Enrichment uses ``dialogo.nlp``
when it exists (``--no-nlp``: the network's language and a question mark only). Prints a
table; it is not a timed test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, make_url, select, text

from dialogo.accounts import service as accounts
from dialogo.accounts.audit import install
from dialogo.accounts.schemas import UserCreate, WorkspaceCreate
from dialogo.channels.models import Channel
from dialogo.core.config import Environment, load_settings
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.db import migrate
from dialogo.inbox import ingest
from dialogo.inbox.models import Contact, Conversation, Message
from dialogo.providers.base import Author, InboundMessage, MessageKind, MessagePage

SECRET = "benchmark-secret-" + "z" * 40
START = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
WORDS = [
    "order",
    "parcel",
    "late",
    "broken",
    "refund",
    "coffee",
    "shop",
    "open",
    "sunday",
    "app",
    "crash",
    "login",
    "thanks",
    "great",
    "love",
    "help",
    "where",
    "when",
    "why",
    "price",
    "delivery",
    "store",
    "size",
    "colour",
    "return",
]


def messages(n: int, *, authors: int, thread_len: int) -> Iterator[InboundMessage]:
    """Deterministic traffic: threads of ``thread_len`` messages by a pool of authors."""
    for i in range(n):
        thread = i // thread_len
        author = (thread * 7919 + i) % authors
        words = " ".join(WORDS[(i * k) % len(WORDS)] for k in (1, 3, 5, 7, 11))
        yield InboundMessage(
            remote_id=f"m{i}",
            kind=MessageKind.mention if i % thread_len == 0 else MessageKind.reply,
            author=Author(remote_id=f"a{author}", handle=f"user{author}", followers=author * 3),
            text=f"@brand {words}{'?' if i % 4 == 0 else '.'}",
            created_at=START + dt.timedelta(seconds=i),
            conversation_id=f"t{thread}",
            in_reply_to=f"m{i - 1}" if i % thread_len else None,
            language="en",
        )


def pages(n: int, size: int, **kw: int) -> Iterator[list[InboundMessage]]:
    page: list[InboundMessage] = []
    for m in messages(n, **kw):
        page.append(m)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def setup(url: str, data_dir: Path) -> tuple[Any, int]:
    settings = load_settings(
        env=Environment.test, data_dir=data_dir, database_url=url, secret_key=SECRET
    )
    engine = make_engine(settings)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        owner = accounts.create_user(
            session, UserCreate(email="bench@example.com", password="a long password", name="B")
        )
        workspace = accounts.create_workspace(
            session, accounts.Principal.for_user(owner), WorkspaceCreate(name="Bench")
        )
        channel = Channel(
            workspace_id=workspace.id,
            network="bench",
            name="bench",
            account_remote_id="brand",
            account_handle="brand",
            credentials="-",
        )
        session.add(channel)
        session.flush()
        return (engine, factory), channel.id


def run_ingest(factory: Any, channel_id: int, args: argparse.Namespace, analyser: Any) -> float:
    cursor: str | None = None
    began = time.perf_counter()
    for number, page in enumerate(
        pages(args.messages, args.page, authors=args.authors, thread_len=args.thread)
    ):
        with transaction(factory) as session:
            channel = session.get(Channel, channel_id)
            new_cursor = str((number + 1) * args.page)
            ingest.store_page(
                session,
                channel,
                MessagePage(page, new_cursor),
                previous=cursor,
                now=START,
                analyser=analyser,
            )
            cursor = new_cursor
    return time.perf_counter() - began


def run_baseline(
    factory: Any, channel_id: int, workspace_id: int, args: argparse.Namespace
) -> float:
    began = time.perf_counter()
    for page in pages(args.messages, args.page, authors=args.authors, thread_len=args.thread):
        rows = [
            {
                "workspace_id": workspace_id,
                "channel_id": channel_id,
                "remote_id": m.remote_id,
                "direction": "inbound",
                "kind": str(m.kind),
                "remote_conversation_id": m.conversation_id,
                "in_reply_to": m.in_reply_to,
                "author_remote_id": m.author.remote_id,
                "author_handle": m.author.handle,
                "author_name": "",
                "author_followers": m.author.followers,
                "text": m.text,
                "created_at": m.created_at,
                "ingested_at": START,
                "language": m.language,
                "is_question": False,
                "is_complaint": False,
                "ref": {},
            }
            for m in page
        ]
        with transaction(factory) as session:
            session.execute(insert(Message), rows)
    return time.perf_counter() - began


def count(factory: Any, model: Any, channel_id: int | None = None) -> int:
    with factory() as session:
        query = select(func.count()).select_from(model)
        if channel_id is not None:
            query = query.where(model.channel_id == channel_id)
        return int(session.scalar(query) or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--authors", type=int, default=50_000)
    parser.add_argument("--thread", type=int, default=5, help="messages per thread")
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a scratch database is made)")
    parser.add_argument("--no-nlp", action="store_true", help="skip dialogo.nlp enrichment")
    args = parser.parse_args()
    install()
    analyser = (
        (lambda text, language: ingest.Enrichment(language, None, None, "?" in text, False))
        if args.no_nlp
        else ingest.default_analyser()
    )
    tmp = Path(tempfile.mkdtemp(prefix="dialogo-bench-inbox."))
    scratch = None
    if args.postgres:
        scratch = f"dialogo_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{scratch}"'))
        url = make_url(args.postgres).set(database=scratch).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    try:
        (engine, factory), channel_id = setup(url, tmp)
        with factory() as session:
            workspace_id = session.get(Channel, channel_id).workspace_id
        # The baseline goes to a second channel so that both tables start equal in size.
        with transaction(factory) as session:
            other = Channel(
                workspace_id=workspace_id,
                network="bench",
                name="baseline",
                account_remote_id="baseline",
                account_handle="baseline",
                credentials="-",
            )
            session.add(other)
            session.flush()
            baseline_channel = other.id
        base_seconds = run_baseline(factory, baseline_channel, workspace_id, args)
        first = run_ingest(factory, channel_id, args, analyser)
        stored = count(factory, Message, channel_id)
        again = run_ingest(factory, channel_id, args, analyser)
        stored_again = count(factory, Message, channel_id)
        with factory() as session:
            distinct = session.scalar(
                select(func.count(func.distinct(Message.remote_id))).where(
                    Message.channel_id == channel_id
                )
            )
        conversations = count(factory, Conversation)
        contacts = count(factory, Contact)
        engine.dispose()
    finally:
        if scratch:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            admin.dispose()
    n = args.messages
    backend = "PostgreSQL" if args.postgres else "SQLite"
    enrich = "no NLP" if args.no_nlp else "dialogo.nlp" if ingest._nlp_analyser() else "no NLP"
    print(f"inbox ingest, {n:,} messages in pages of {args.page:,}, {backend}, {enrich}")
    print(f"{'run':44} {'seconds':>9} {'msgs/s':>10} {'rows':>10}")
    table = [
        ("baseline: bare INSERT of the same rows", base_seconds, n),
        ("ingest (dedupe, threads, contacts, enrich)", first, stored),
        ("ingest of the same pages again", again, stored_again - stored),
    ]
    for label, seconds, rows in table:
        print(f"{label:44} {seconds:9.1f} {n / seconds:10,.0f} {rows:10,}")
    print(f"exactly one row per remote message: {stored == stored_again == distinct == n}")
    print(f"{conversations:,} conversations, {contacts:,} contacts")
    return 0 if stored == stored_again == distinct == n else 1


if __name__ == "__main__":
    sys.exit(main())
