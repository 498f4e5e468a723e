"""Listening services: queries, ingestion (network search, feeds, files, webhook intake),
label corrections, reputation and alerts. Services flush; the boundary commits."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import hmac
import inspect
import io
import json
import logging
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
import numpy as np
from pydantic import ValidationError
from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Membership, User, Workspace
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.service import open_provider
from dialogo.core import i18n
from dialogo.core.clock import utcnow
from dialogo.core.config import Settings
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.core.text import storable
from dialogo.listening import alerts as spikes
from dialogo.listening import mail, parallel, store
from dialogo.listening import reputation as rep
from dialogo.listening.mail import SmtpConfig
from dialogo.listening.models import (
    AlertKind,
    AlertTarget,
    ListeningAlert,
    ListeningCursor,
    ListeningQuery,
    Mention,
    MentionMatch,
    MentionSource,
)
from dialogo.listening.query import (
    CompiledQuery,
    QuerySet,
    compile_query,
    prepare,
)
from dialogo.listening.schemas import (
    AlertTargetCreate,
    ImportRowError,
    IngestResult,
    MentionIn,
    QueryCreate,
    QueryReputation,
    QueryUpdate,
    Reputation,
    ReputationPoint,
)
from dialogo.nlp import active
from dialogo.nlp.clusters import cluster_texts
from dialogo.nlp.emotion import EmotionModel, load_cached
from dialogo.nlp.entities import Gazetteer
from dialogo.nlp.language import FUNCTION_WORDS
from dialogo.nlp.model import DataError
from dialogo.nlp.sentiment import label_for as sentiment_label
from dialogo.nlp.text import strip_urls, tokens
from dialogo.notifications import kinds as notification_kinds
from dialogo.notifications.service import notify
from dialogo.providers.base import InboundMessage
from dialogo.providers.errors import ProviderError
from dialogo.providers.netpolicy import OutboundRefused
from dialogo.providers.registry import ProviderRegistry

log = logging.getLogger("dialogo.listening")

#: The notification kind of an alert (worded in :mod:`dialogo.notifications.kinds`).
ALERT_KIND = "listening.alert"

MAX_IMPORT_BYTES = 50 * 1024 * 1024
MAX_SEARCH_PAGES = 48  # per term and run; the next run continues from the cursor
LABEL_VALUE = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


# --- queries ---------------------------------------------------------------------------------


def _query_in(session: Session, workspace_id: int, query_id: int) -> ListeningQuery:
    query = session.get(ListeningQuery, query_id)
    if query is None or query.workspace_id != workspace_id:
        raise NotFound("no such listening query", code="query_not_found")
    return query


def create_query(
    session: Session, principal: Principal, workspace_id: int, data: QueryCreate
) -> ListeningQuery:
    authorize(session, principal, workspace_id, Permission.listening_manage)
    return add_query(session, workspace_id, data)


def add_query(session: Session, workspace_id: int, data: QueryCreate) -> ListeningQuery:
    """Create a query (callers check permissions: the CLI, the demo, jobs)."""
    compile_query(data.query)  # raises QuerySyntaxError with the position
    exists = session.scalar(
        select(ListeningQuery.id).where(
            ListeningQuery.workspace_id == workspace_id, ListeningQuery.name == data.name
        )
    )
    if exists is not None:
        raise Conflict(f"a query named {data.name!r} exists already", code="query_exists")
    query = ListeningQuery(
        workspace_id=workspace_id,
        name=data.name,
        query=data.query,
        kind=data.kind,
        active=data.active,
    )
    session.add(query)
    session.flush()
    _rematch(session, workspace_id, query)  # mentions already stored count at once
    return query


def update_query(
    session: Session, principal: Principal, workspace_id: int, query_id: int, data: QueryUpdate
) -> ListeningQuery:
    authorize(session, principal, workspace_id, Permission.listening_manage)
    query = _query_in(session, workspace_id, query_id)
    if data.query is not None and data.query != query.query:
        compile_query(data.query)
        query.query = data.query
        # Earlier matches were for the old text: match the stored mentions again.
        session.execute(delete(MentionMatch).where(MentionMatch.query_id == query.id))
        session.flush()
        _rematch(session, workspace_id, query)
    if data.name is not None:
        query.name = data.name
    if data.kind is not None:
        query.kind = data.kind
    if data.active is not None:
        query.active = data.active
    session.flush()
    return query


def delete_query(session: Session, principal: Principal, workspace_id: int, query_id: int) -> None:
    authorize(session, principal, workspace_id, Permission.listening_manage)
    session.delete(_query_in(session, workspace_id, query_id))
    session.flush()


def list_queries(session: Session, principal: Principal, workspace_id: int) -> list[ListeningQuery]:
    authorize(session, principal, workspace_id, Permission.listening_read)
    return list(
        session.scalars(
            select(ListeningQuery)
            .where(ListeningQuery.workspace_id == workspace_id)
            .order_by(ListeningQuery.id)
        )
    )


def get_query(
    session: Session, principal: Principal, workspace_id: int, query_id: int
) -> ListeningQuery:
    authorize(session, principal, workspace_id, Permission.listening_read)
    return _query_in(session, workspace_id, query_id)


def _rematch(session: Session, workspace_id: int, query: ListeningQuery) -> int:
    compiled = compile_query(query.query)
    n = 0
    for mention in session.scalars(select(Mention).where(Mention.workspace_id == workspace_id)):
        if compiled.matches(_doc(mention)):
            session.add(MentionMatch(mention_id=mention.id, query_id=query.id))
            n += 1
    session.flush()
    return n


# --- ingestion -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Incoming:
    """A mention on its way in, whatever its source."""

    channel: str
    remote_id: str
    text: str
    posted_at: dt.datetime
    author_handle: str = ""
    author_name: str = ""
    reach: int = 0
    url: str | None = None
    language: str | None = None
    channel_id: int | None = None

    @classmethod
    def from_inbound(cls, channel: Channel, message: InboundMessage) -> Incoming:
        return cls(
            channel=channel.network,
            channel_id=channel.id,
            remote_id=message.remote_id,
            text=message.text,
            posted_at=message.created_at,
            author_handle=message.author.handle,
            author_name=message.author.display_name,
            reach=message.author.followers or 0,
            url=message.url,
            language=message.language,
        )

    @classmethod
    def from_schema(cls, item: MentionIn) -> Incoming:
        return cls(
            channel=item.channel.lower(),
            remote_id=item.id,
            text=item.text,
            posted_at=item.posted_at,
            author_handle=item.author,
            author_name=item.author_name,
            reach=item.reach,
            url=item.url,
            language=item.language,
        )


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise InvalidInput("times must carry a UTC offset", code="naive_datetime")
    return value.astimezone(dt.UTC)


def _doc(mention: Mention) -> Any:
    channels = [mention.channel]
    if mention.channel_id is not None:
        channels.append(str(mention.channel_id))
    return prepare(
        mention.text, lang=mention.language, author=mention.author_handle, channels=channels
    )


def active_query_set(session: Session, workspace_id: int) -> QuerySet:
    rows = session.execute(
        select(ListeningQuery.id, ListeningQuery.query).where(
            ListeningQuery.workspace_id == workspace_id, ListeningQuery.active.is_(True)
        )
    ).all()
    return QuerySet({qid: text for qid, text in rows})


def ingest(
    session: Session,
    workspace_id: int,
    items: Iterable[Incoming],
    *,
    source: MentionSource,
    keep_unmatched: bool,
    queries: QuerySet | None = None,
    emotion_model: EmotionModel | None = None,
) -> IngestResult:
    """Store new mentions once (by workspace, channel and remote id), enriched and matched
    against the workspace's active queries. Network searches and feeds keep only mentions that
    match a query; files and the intake keep everything they were given. With an
    ``emotion_model``, the mentions in its language also get their emotions (others: None)."""
    result = IngestResult()
    qs = queries if queries is not None else active_query_set(session, workspace_id)
    batch: dict[tuple[str, str], Incoming] = {}
    for item in items:
        result.received += 1
        key = (item.channel, item.remote_id)
        if key in batch:
            result.duplicates += 1
            continue
        batch[key] = item
    if not batch:
        return result
    existing: set[tuple[str, str]] = set()
    keys = list(batch)
    # Selects of the table's columns (Core rows, no ORM row loading: a few µs a post); the
    # ORM's autoflush, which they skip, is done here once so pending mentions are seen. The
    # channels are in the condition too, so each key is one look-up in the unique
    # (workspace, channel, remote id) index rather than a scan of the workspace's mentions.
    table = cast(Table, Mention.__table__)
    if session.autoflush:
        session.flush()
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        found = session.execute(
            select(table.c.channel, table.c.remote_id).where(
                table.c.workspace_id == workspace_id,
                table.c.channel.in_(sorted({c for c, _ in chunk})),
                table.c.remote_id.in_([rid for _, rid in chunk]),
            )
        ).all()
        existing.update((c, r) for c, r in found)
    fresh = [item for key, item in batch.items() if key not in existing]
    result.duplicates += len(batch) - len(fresh)
    if not fresh:
        return result
    # Enrichment (language, sentiment, cues, topics, the matching queries) in process, or for a
    # large batch chunk by chunk in the worker pool (listening.parallel); each chunk is stored
    # as it arrives, in input order, in this session's transaction, while the workers enrich
    # the next ones. The results are the same either way.
    if session.get_bind().dialect.name == "postgresql":
        # PostgreSQL stores in key order (listening.store: concurrent ingests then lock their
        # keys in the same order); chunk by chunk too, so the whole batch goes in that order.
        fresh.sort(key=lambda i: (i.channel, i.remote_id))
    enrich_items = [(i.text, i.language, i.channel, i.channel_id, i.author_handle) for i in fresh]
    stored_at = utcnow()  # one ingested_at for the batch, whatever its chunks
    for offset, enriched in parallel.enrich_chunks(enrich_items, qs):
        part = fresh[offset : offset + len(enriched)]
        _store_enriched(
            session,
            workspace_id,
            (source, keep_unmatched, emotion_model, stored_at),
            part,
            enriched,
            result,
        )
    session.flush()
    return result


def _store_enriched(
    session: Session,
    workspace_id: int,
    how: tuple[MentionSource, bool, EmotionModel | None, dt.datetime],
    items: Sequence[Incoming],
    enriched: Sequence[parallel.Enriched],
    result: IngestResult,
) -> None:
    """Store ``items`` with their enrichment (and their emotions, with a model): the mentions
    and their matches, counted in ``result``. ``how``: the source, whether to keep unmatched
    mentions, the emotion model (or None) and the ingestion time."""
    source, keep_unmatched, emotion_model, now = how
    rows: list[tuple[Any, ...]] = []  # in store.MENTION_COLUMNS order
    matches: list[list[int]] = []
    source_value = source.value
    for item, (language, score, label, question, complaint, topics, matched) in zip(
        items, enriched, strict=True
    ):
        if not matched and not keep_unmatched:
            result.unmatched += 1
            continue
        rows.append(
            (
                workspace_id,
                item.channel,
                item.channel_id,
                item.remote_id,
                source_value,
                storable(item.author_handle.lstrip("@")[:255]),
                storable(item.author_name[:255]),
                max(0, int(item.reach or 0)),
                storable(item.text),
                storable(item.url) if item.url else item.url,
                _utc(item.posted_at),
                now,
                language,
                score,
                label,
                question,
                complaint,
                topics,  # a tuple: stored as the JSON list it serialises to
                None,  # emotions
            )
        )
        matches.append(matched)
    if emotion_model is not None:
        lang, text = store.MENTION_COLUMNS.index("language"), store.MENTION_COLUMNS.index("text")
        judged = [k for k, row in enumerate(rows) if emotion_model.judges(row[lang])]
        judgements = emotion_model.emotions([rows[k][text] for k in judged])
        for k, emotions in zip(judged, judgements, strict=True):
            rows[k] = (*rows[k][:-1], tuple(emotions))  # stored as a JSON list
    # Bulk, at the driver: one executemany per table and chunk, ids without a read-back where
    # the backend allows (see listening.store).
    if not rows:
        return
    stored = store.store_mentions(session, workspace_id, rows, matches)
    result.matches += stored.matches
    result.stored += stored.mentions
    # Rows another ingest stored meanwhile (it saw them missing too) were skipped.
    result.duplicates += len(rows) - stored.mentions


def intake(
    session: Session,
    principal: Principal,
    workspace_id: int,
    items: Sequence[MentionIn],
    *,
    emotion_model: EmotionModel | None = None,
) -> IngestResult:
    """The webhook intake: another system pushes mentions it found."""
    authorize(session, principal, workspace_id, Permission.listening_manage)
    for item in items:
        if item.posted_at.tzinfo is None:
            raise InvalidInput(f"mention {item.id!r}: posted_at needs a UTC offset")
    return ingest(
        session,
        workspace_id,
        [dataclasses.replace(Incoming.from_schema(i)) for i in items],
        source=MentionSource.webhook,
        keep_unmatched=True,
        emotion_model=emotion_model,
    )


class ImportFailed(InvalidInput):
    code = "import_failed"

    def __init__(self, errors: list[ImportRowError]) -> None:
        shown = "; ".join(f"row {e.row}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(
            f"{len(errors)} bad row(s), nothing imported: {shown}{more}",
            errors=[e.model_dump() for e in errors],
        )
        self.errors = errors


def parse_import(content: bytes, fmt: str) -> list[MentionIn]:
    """Parse a CSV (header row: id,text,posted_at[,channel,author,author_name,reach,url,
    language]), a JSON array or JSONL file; every bad row is reported, nothing half-parsed."""
    if len(content) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_IMPORT_BYTES // 2**20} MB")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"the file is not UTF-8 (byte {exc.start})", code="bad_encoding"
        ) from exc
    rows: list[tuple[int, Any]] = []
    errors: list[ImportRowError] = []
    fmt = fmt.lower()
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = {"id", "text", "posted_at"} - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput(
                f"the CSV header lacks {', '.join(sorted(missing))}", code="bad_header"
            )
        for n, row in enumerate(reader, start=1):
            if None in row:
                errors.append(ImportRowError(row=n, message="more fields than the header"))
                continue
            rows.append((n, {k: v for k, v in row.items() if v not in (None, "")}))
    elif fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                errors.append(ImportRowError(row=n, message=f"invalid JSON: {exc.msg}"))
    elif fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                code="bad_json",
            ) from exc
        if not isinstance(data, list):
            raise InvalidInput("a JSON import must be an array of mentions", code="bad_json")
        rows = list(enumerate(data, start=1))
    else:
        raise InvalidInput(f"unknown format {fmt!r} (csv, json or jsonl)", code="bad_format")
    items: list[MentionIn] = []
    for n, raw in rows:
        if not isinstance(raw, dict):
            errors.append(ImportRowError(row=n, message="not an object"))
            continue
        try:
            item = MentionIn.model_validate(raw)
        except ValidationError as exc:
            problems = ", ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()
            )
            errors.append(ImportRowError(row=n, message=problems))
            continue
        if item.posted_at.tzinfo is None:
            errors.append(ImportRowError(row=n, message="posted_at: needs a UTC offset"))
            continue
        items.append(item)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.row))
    return items


def import_file(
    session: Session,
    principal: Principal,
    workspace_id: int,
    content: bytes,
    fmt: str,
    *,
    emotion_model: EmotionModel | None = None,
) -> IngestResult:
    authorize(session, principal, workspace_id, Permission.listening_manage)
    return import_content(session, workspace_id, content, fmt, emotion_model=emotion_model)


def import_content(
    session: Session,
    workspace_id: int,
    content: bytes,
    fmt: str,
    *,
    emotion_model: EmotionModel | None = None,
) -> IngestResult:
    items = parse_import(content, fmt)
    return ingest(
        session,
        workspace_id,
        [Incoming.from_schema(i) for i in items],
        source=MentionSource.file,
        keep_unmatched=True,
        emotion_model=emotion_model,
    )


def search_terms(compiled: CompiledQuery) -> list[str]:
    """What to ask a network's search for: the query's necessary terms (the local matcher
    then applies the whole query). Empty when the query has none (e.g. only wildcards)."""
    triggers = compiled.node.triggers
    if not triggers:
        return []
    out = []
    for kind, value in sorted(triggers):
        if kind == "w":
            out.append(value)
        elif kind == "h":
            out.append("#" + value)
        elif kind == "m":
            out.append("@" + value)
        else:
            return []  # a field alone (lang:, from:, channel:) cannot be searched for
    return out


def _cursor(session: Session, channel_id: int, key: str) -> ListeningCursor:
    row = session.scalar(
        select(ListeningCursor).where(
            ListeningCursor.channel_id == channel_id, ListeningCursor.key == key
        )
    )
    if row is None:
        row = ListeningCursor(channel_id=channel_id, key=key[:300], cursor=None)
        session.add(row)
        session.flush()
    return row


def ingest_channels(
    session: Session,
    workspace_id: int,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    emotion_model: EmotionModel | None = None,
) -> IngestResult:
    """Read every working channel of the workspace: networks that search are asked for each
    active query's terms; RSS/Atom channels are read whole. Cursors make runs incremental."""
    total = IngestResult()
    qs = active_query_set(session, workspace_id)
    queries = session.scalars(
        select(ListeningQuery).where(
            ListeningQuery.workspace_id == workspace_id, ListeningQuery.active.is_(True)
        )
    ).all()
    terms: list[str] = sorted({t for q in queries for t in search_terms(compile_query(q.query))})
    channels = session.scalars(
        select(Channel).where(
            Channel.workspace_id == workspace_id, Channel.status == ChannelStatus.ok.value
        )
    ).all()
    for channel in channels:
        if channel.network not in registry:
            continue
        try:
            with open_provider(
                session, channel, registry=registry, cipher=cipher, http=http
            ) as provider:
                batches: list[Incoming] = []
                search = getattr(provider, "search_posts", None)
                is_feed = channel.network == "rss"
                if is_feed:
                    cur = _cursor(session, channel.id, "feed")
                    page = provider.fetch_messages(cur.cursor)
                    batches.extend(Incoming.from_inbound(channel, m) for m in page.messages)
                    cur.cursor, cur.updated_at = page.cursor, utcnow()
                    source = MentionSource.feed
                elif search is not None:
                    source = MentionSource.search
                    takes_since = "since" in inspect.signature(search).parameters
                    for term in terms:
                        if takes_since:
                            cur = _cursor(session, channel.id, f"search:{term}")
                            for _ in range(MAX_SEARCH_PAGES):
                                page = search(term, since=cur.cursor)
                                batches.extend(
                                    Incoming.from_inbound(channel, m) for m in page.messages
                                )
                                moved = page.cursor is not None and page.cursor != cur.cursor
                                cur.cursor, cur.updated_at = page.cursor or cur.cursor, utcnow()
                                if not moved:
                                    break
                        else:
                            found = search(term)
                            batches.extend(Incoming.from_inbound(channel, m) for m in found)
                else:
                    continue
        except ProviderError as exc:
            total.errors.append(f"{channel.network} #{channel.id}: {exc}")
            log.warning("listening: channel %s failed: %s", channel.id, exc)
            continue
        part = ingest(
            session,
            workspace_id,
            batches,
            source=source,
            keep_unmatched=False,
            queries=qs,
            emotion_model=emotion_model,
        )
        for f in ("received", "stored", "duplicates", "unmatched", "matches"):
            setattr(total, f, getattr(total, f) + getattr(part, f))
    session.flush()
    return total


# --- emotions --------------------------------------------------------------------------------


def emotion_model_for(settings: Settings) -> EmotionModel | None:
    """The emotion model ``DIALOGO_EMOTION_MODEL`` names, or None. A missing or unreadable file
    is logged and ingestion goes on without emotions (mentions are never lost for it)."""
    if settings.emotion_model is None:
        return None
    try:
        return load_cached(settings.emotion_model)
    except (OSError, DataError) as exc:
        log.warning("listening: no emotions: %s", exc)
        return None


def judge_emotions(
    session: Session, workspace_id: int, model: EmotionModel, *, batch: int = 1000
) -> int:
    """Fill in the emotions of the workspace's mentions in the model's language that no model
    judged yet (e.g. stored before the model was configured). Returns how many were judged."""
    table = cast(Table, Mention.__table__)
    done = 0
    last = 0
    while True:
        rows = session.execute(
            select(Mention.id, Mention.text)
            .where(
                Mention.workspace_id == workspace_id,
                Mention.language == model.language,
                Mention.emotions.is_(None),
                Mention.id > last,
            )
            .order_by(Mention.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        found = model.emotions([text for _, text in rows])
        session.execute(
            table.update()
            .where(table.c.id == bindparam("mid"))
            .values(emotions=bindparam("found")),
            [{"mid": mid, "found": list(e)} for (mid, _), e in zip(rows, found, strict=True)],
        )
        done += len(rows)
        last = rows[-1][0]
    session.flush()
    return done


# --- reading and correcting ------------------------------------------------------------------


def list_mentions(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    query_id: int | None = None,
    search: str | None = None,
    label: str | None = None,
    limit: int = 50,
    scan_limit: int = 20_000,
) -> list[Mention]:
    """Newest mentions first: those a saved query matched, or those an ad-hoc ``search`` in the
    query language matches among the latest ``scan_limit`` stored mentions."""
    authorize(session, principal, workspace_id, Permission.listening_read)
    stmt = select(Mention).where(Mention.workspace_id == workspace_id)
    if query_id is not None:
        _query_in(session, workspace_id, query_id)
        stmt = stmt.join(MentionMatch, MentionMatch.mention_id == Mention.id).where(
            MentionMatch.query_id == query_id
        )
    stmt = stmt.order_by(Mention.posted_at.desc(), Mention.id.desc())
    compiled = compile_query(search) if search else None
    out: list[Mention] = []
    for mention in session.scalars(stmt.limit(scan_limit if compiled else limit * 4)):
        if label is not None and mention.final_label != label:
            continue
        if compiled is not None and not compiled.matches(_doc(mention)):
            continue
        out.append(mention)
        if len(out) >= limit:
            break
    return out


def correct_label(
    session: Session, principal: Principal, workspace_id: int, mention_id: int, label: str
) -> Mention:
    authorize(session, principal, workspace_id, Permission.listening_manage)
    if label not in LABEL_VALUE:
        raise InvalidInput(f"unknown label {label!r}", code="bad_label")
    mention = session.get(Mention, mention_id)
    if mention is None or mention.workspace_id != workspace_id:
        raise NotFound("no such mention", code="mention_not_found")
    mention.corrected_label = label
    mention.corrected_by = principal.user_id
    mention.corrected_at = utcnow()
    session.flush()
    return mention


def training_rows(session: Session, workspace_id: int) -> list[tuple[str, str, str]]:
    """(text, label, language) of every corrected mention: the team's training data."""
    rows = session.execute(
        select(Mention.text, Mention.corrected_label, Mention.language)
        .where(Mention.workspace_id == workspace_id, Mention.corrected_label.is_not(None))
        .order_by(Mention.id)
    ).all()
    return [(t, str(lbl), lang) for t, lbl, lang in rows]


# --- reputation ------------------------------------------------------------------------------


def _bucket_starts(
    start: dt.datetime, end: dt.datetime, bucket: str, tz: ZoneInfo
) -> list[dt.datetime]:
    """Bucket boundaries in UTC; days are local calendar days of the workspace."""
    out = []
    if bucket == "hour":
        t = start.replace(minute=0, second=0, microsecond=0)
        while t < end:
            out.append(t)
            t += dt.timedelta(hours=1)
        return out
    day = start.astimezone(tz).date()
    while True:
        local = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        t = local.astimezone(dt.UTC)
        if t >= end:
            break
        out.append(t)
        day += dt.timedelta(days=1)
    return out


def reputation(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    start: dt.datetime,
    end: dt.datetime,
    bucket: str = "day",
) -> Reputation:
    authorize(session, principal, workspace_id, Permission.listening_read)
    return compute_reputation(session, workspace_id, start=start, end=end, bucket=bucket)


def compute_reputation(
    session: Session, workspace_id: int, *, start: dt.datetime, end: dt.datetime, bucket: str
) -> Reputation:
    if bucket not in ("hour", "day"):
        raise InvalidInput("bucket must be hour or day", code="bad_bucket")
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise InvalidInput("end must be after start", code="bad_period")
    if bucket == "hour" and end - start > dt.timedelta(days=31):
        raise InvalidInput("hourly reputation covers at most 31 days", code="bad_period")
    if end - start > dt.timedelta(days=800):
        raise InvalidInput("reputation covers at most 800 days", code="bad_period")
    workspace = session.get(Workspace, workspace_id)
    tz = ZoneInfo(workspace.timezone if workspace is not None else "UTC")
    starts = _bucket_starts(start, end, bucket, tz)
    edges = np.array([t.timestamp() for t in starts], dtype=np.float64)
    queries = session.scalars(
        select(ListeningQuery)
        .where(ListeningQuery.workspace_id == workspace_id)
        .order_by(ListeningQuery.id)
    ).all()
    rows = session.execute(
        select(
            MentionMatch.query_id,
            Mention.posted_at,
            Mention.sentiment,
            Mention.corrected_label,
            Mention.reach,
        )
        .join(Mention, Mention.id == MentionMatch.mention_id)
        .where(
            Mention.workspace_id == workspace_id,
            Mention.posted_at >= start,
            Mention.posted_at < end,
        )
    ).all()
    per_query: dict[int, list[tuple[float, float, int]]] = {q.id: [] for q in queries}
    for qid, posted, score, corrected, reach in rows:
        value = LABEL_VALUE[corrected] if corrected else float(score)
        per_query.setdefault(qid, []).append((posted.timestamp(), value, reach))
    volumes: dict[int, int] = {}
    out: list[QueryReputation] = []
    for q in queries:
        data = per_query.get(q.id, [])
        ts = np.array([d[0] for d in data], dtype=np.float64)
        b = np.searchsorted(edges, ts, side="right") - 1
        s = rep.series(b, [d[1] for d in data], [d[2] for d in data], len(starts))
        total = rep.series(np.zeros(len(data)), [d[1] for d in data], [d[2] for d in data], 1)
        volumes[q.id] = int(total.volume[0])
        out.append(
            QueryReputation(
                query_id=q.id,
                name=q.name,
                kind=q.kind,
                volume=int(total.volume[0]),
                positive=int(total.positive[0]),
                negative=int(total.negative[0]),
                net=round(float(total.net[0]), 4),
                weighted=round(float(total.weighted[0]), 4),
                share_of_voice=0.0,
                points=[
                    ReputationPoint(
                        start=starts[i],
                        volume=int(s.volume[i]),
                        net=round(float(s.net[i]), 4),
                        weighted=round(float(s.weighted[i]), 4),
                        negative_share=round(float(s.negative_share[i]), 4),
                    )
                    for i in range(len(starts))
                ],
            )
        )
    # Share of voice: among brand and competitor queries only.
    sov = rep.share_of_voice(
        {r.query_id: r.volume for r in out if r.kind in ("brand", "competitor")}
    )
    for item in out:
        item.share_of_voice = round(sov.get(item.query_id, 0.0), 4)
    return Reputation(
        start=start, end=end, bucket="hour" if bucket == "hour" else "day", queries=out
    )


# --- alerts ----------------------------------------------------------------------------------


def add_alert_target(
    session: Session, principal: Principal, workspace_id: int, data: AlertTargetCreate
) -> AlertTarget:
    authorize(session, principal, workspace_id, Permission.listening_manage)
    target = AlertTarget(
        workspace_id=workspace_id, kind=data.kind, target=data.target, secret=data.secret
    )
    session.add(target)
    session.flush()
    return target


def list_alerts(
    session: Session, principal: Principal, workspace_id: int, limit: int = 50
) -> list[ListeningAlert]:
    authorize(session, principal, workspace_id, Permission.listening_read)
    return list(
        session.scalars(
            select(ListeningAlert)
            .where(ListeningAlert.workspace_id == workspace_id)
            .order_by(ListeningAlert.window_start.desc(), ListeningAlert.id.desc())
            .limit(limit)
        )
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _deliver(
    alert: ListeningAlert,
    payload: dict[str, Any],
    targets: Sequence[AlertTarget],
    http: httpx.Client | None,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if not targets:
        return results
    client = http or httpx.Client(timeout=10.0)
    try:
        for target in targets:
            body = json.dumps(payload, sort_keys=True).encode()
            ts = str(int(time.time()))
            try:
                response = client.post(
                    target.target,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Dialogo-Event": "listening.alert",
                        "X-Dialogo-Timestamp": ts,
                        "X-Dialogo-Signature": sign(target.secret, ts, body),
                    },
                )
                results[str(target.id)] = {"status": response.status_code}
            except httpx.HTTPError as exc:
                # Recorded on the alert, never swallowed silently; the in-app one stands.
                results[str(target.id)] = {"error": str(exc)}
            except OutboundRefused as exc:  # an internal address, refused by the policy
                results[str(target.id)] = {"error": exc.message}
    finally:
        if http is None:
            client.close()
    return results


def mail_languages(session: Session, workspace_id: int, addresses: Iterable[str]) -> dict[str, str]:
    """The language each address is written to: a member's own (the address is theirs), else
    the workspace's (English when neither is a supported language)."""
    wanted = {a.strip().lower() for a in addresses}
    members = {
        email.lower(): language
        for email, language in session.execute(
            select(User.email, User.language)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.workspace_id == workspace_id, func.lower(User.email).in_(wanted))
        )
    }
    workspace = session.get(Workspace, workspace_id)
    fallback = workspace.language if workspace is not None else i18n.SOURCE_LANGUAGE
    if fallback not in i18n.LANGUAGES:
        fallback = i18n.SOURCE_LANGUAGE
    out = {}
    for address in addresses:
        language = members.get(address.strip().lower(), fallback)
        out[address] = language if language in i18n.LANGUAGES else fallback
    return out


def _deliver_email(
    session: Session,
    alert: ListeningAlert,
    query: ListeningQuery,
    params: dict[str, Any],
    targets: Sequence[AlertTarget],
    smtp: SmtpConfig | None,
    base_url: str | None,
) -> dict[str, Any]:
    if smtp is None:
        return {
            str(t.id): {"error": "e-mail is not configured (DIALOGO_SMTP_HOST)"} for t in targets
        }
    crisis = crisis_for(session, alert, query)
    workspace = session.get(Workspace, alert.workspace_id)
    zone = workspace.timezone if workspace is not None else "UTC"
    languages = mail_languages(session, alert.workspace_id, [t.target for t in targets])
    texts: dict[str, tuple[str, str]] = {}  # language → (subject, text)
    results: dict[str, Any] = {}
    for target in targets:
        language = languages[target.target]
        if language not in texts:
            worded = notification_kinds.render_params(ALERT_KIND, params, language)
            assert worded is not None  # the catalogue words both alert variants
            texts[language] = (
                worded.title,
                crisis_text(crisis, worded.title, worded.body, base_url, language, zone),
            )
        title, text = texts[language]
        try:
            results[str(target.id)] = {"email": mail.send(smtp, target.target, title, text)}
        except mail.MailError as exc:
            # Recorded on the alert; the in-app notification and the other targets stand.
            results[str(target.id)] = {"error": str(exc)}
            log.warning(
                "listening: alert %s e-mail to target %s failed: %s", alert.id, target.id, exc
            )
    return results


def check_alerts(
    session: Session,
    workspace_id: int,
    *,
    now: dt.datetime,
    weeks: int = 4,
    http: httpx.Client | None = None,
    smtp: SmtpConfig | None = None,
    base_url: str | None = None,
) -> list[ListeningAlert]:
    """Judge the last complete hour of every active query against the same weekday-and-hour
    of the previous ``weeks`` weeks; raise each alert once (in-app, signed webhooks, e-mail
    through ``smtp``: without it, e-mail targets are recorded as undelivered)."""
    hour = _utc(now).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    lo = hour - dt.timedelta(weeks=weeks)
    hi = hour + dt.timedelta(hours=1)
    n_hours = weeks * spikes.HOURS_PER_WEEK + 1
    edges = np.array(
        [(lo + dt.timedelta(hours=i)).timestamp() for i in range(n_hours)], dtype=np.float64
    )
    queries = session.scalars(
        select(ListeningQuery).where(
            ListeningQuery.workspace_id == workspace_id, ListeningQuery.active.is_(True)
        )
    ).all()
    targets = session.scalars(
        select(AlertTarget).where(AlertTarget.workspace_id == workspace_id)
    ).all()
    raised: list[ListeningAlert] = []
    for q in queries:
        rows = session.execute(
            select(Mention.posted_at, Mention.sentiment, Mention.corrected_label)
            .join(MentionMatch, MentionMatch.mention_id == Mention.id)
            .where(MentionMatch.query_id == q.id, Mention.posted_at >= lo, Mention.posted_at < hi)
        ).all()
        ts = np.array([r[0].timestamp() for r in rows], dtype=np.float64)
        values = np.array([LABEL_VALUE[r[2]] if r[2] else r[1] for r in rows], dtype=np.float64)
        b = np.searchsorted(edges, ts, side="right") - 1
        s = rep.series(b, values, np.zeros(len(rows)), n_hours)
        vol, neg = s.volume, s.negative
        verdicts = {
            AlertKind.volume: spikes.volume_spike(vol[:-1], int(vol[-1])),
            AlertKind.negative_share: spikes.negative_share_spike(
                vol[:-1], neg[:-1], int(vol[-1]), int(neg[-1])
            ),
        }
        for kind, verdict in verdicts.items():
            if not verdict.spike:
                continue
            exists = session.scalar(
                select(ListeningAlert.id).where(
                    ListeningAlert.workspace_id == workspace_id,
                    ListeningAlert.query_id == q.id,
                    ListeningAlert.kind == kind.value,
                    ListeningAlert.window_start == hour,
                )
            )
            if exists is not None:
                continue
            alert = ListeningAlert(
                workspace_id=workspace_id,
                query_id=q.id,
                kind=kind.value,
                window_start=hour,
                observed=verdict.observed,
                expected=verdict.expected,
                threshold=verdict.threshold,
            )
            session.add(alert)
            session.flush()
            params: dict[str, Any] = {
                "variant": kind.value,  # worded in notifications.kinds: volume, negative_share
                "query": q.name,
                "observed": (
                    int(verdict.observed) if kind is AlertKind.volume else verdict.observed
                ),
                "expected": verdict.expected,
            }
            notify(
                session,
                workspace_id,
                kind=ALERT_KIND,
                params=params,
                link=f"/w/{workspace_id}/listening/alerts/{alert.id}",  # the crisis view
                severity="warning",
                dedupe_key=f"listening:{q.id}:{kind.value}:{hour.isoformat()}",
            )
            payload = {
                "workspace_id": workspace_id,
                "query": {"id": q.id, "name": q.name},
                "kind": kind.value,
                "window_start": hour.isoformat(),
                "observed": verdict.observed,
                "expected": verdict.expected,
                "threshold": verdict.threshold,
            }
            hooks = [t for t in targets if t.kind != "email"]
            emails = [t for t in targets if t.kind == "email"]
            delivery = _deliver(alert, payload, hooks, http)
            if emails:
                delivery.update(_deliver_email(session, alert, q, params, emails, smtp, base_url))
            alert.delivery = delivery
            raised.append(alert)
    session.flush()
    return raised


def counts(session: Session, workspace_id: int) -> dict[str, int]:
    mentions = session.scalar(
        select(func.count()).select_from(Mention).where(Mention.workspace_id == workspace_id)
    )
    return {"mentions": int(mentions or 0)}


# --- crisis view -----------------------------------------------------------------------------

CRISIS_HOURS = 48  # hours shown before the end of the alert's window


@dataclasses.dataclass
class Crisis:
    """An alert with what explains it: the spike against its hour-of-week baseline, the
    mentions behind it, and what they say more than usual."""

    alert: ListeningAlert
    query: ListeningQuery
    hours: list[dt.datetime]  # the last CRISIS_HOURS hourly buckets (UTC), the window last
    volume: list[int]
    negative: list[int]
    expected: list[float]  # the baseline volume of each hour (same hour-of-week, past weeks)
    window_volume: int
    window_negative_share: float
    baseline_volume: int  # mentions in the baseline period (the weeks before the window)
    baseline_negative_share: float
    mentions: list[Mention]  # in the window: negative first, then by reach
    terms: list[spikes.Change]
    topics: list[spikes.Change]
    authors: list[spikes.Change]
    weeks: int


def get_crisis(session: Session, principal: Principal, workspace_id: int, alert_id: int) -> Crisis:
    authorize(session, principal, workspace_id, Permission.listening_read)
    alert = session.get(ListeningAlert, alert_id)
    if alert is None or alert.workspace_id != workspace_id:
        raise NotFound("no such alert", code="alert_not_found")
    return crisis_for(session, alert)


def _is_negative(score: float, corrected: str | None) -> bool:
    return (corrected or sentiment_label(score)) == "negative"


def crisis_for(
    session: Session,
    alert: ListeningAlert,
    query: ListeningQuery | None = None,
    *,
    weeks: int = 4,
    limit: int = 50,
) -> Crisis:
    query = query or session.get(ListeningQuery, alert.query_id)
    if query is None:  # the FK cascades: cannot happen for a stored alert
        raise NotFound("the alert's query is gone", code="query_not_found")
    w_start = alert.window_start
    if w_start.tzinfo is None:  # SQLite gives naive UTC back
        w_start = w_start.replace(tzinfo=dt.UTC)
    w_end = w_start + dt.timedelta(hours=1)
    lo = w_end - dt.timedelta(weeks=weeks) - dt.timedelta(hours=CRISIS_HOURS)
    rows = session.execute(
        select(
            Mention.id,
            Mention.posted_at,
            Mention.sentiment,
            Mention.corrected_label,
            Mention.text,
            Mention.topics,
            Mention.author_handle,
        )
        .join(MentionMatch, MentionMatch.mention_id == Mention.id)
        .where(
            MentionMatch.query_id == query.id, Mention.posted_at >= lo, Mention.posted_at < w_end
        )
    ).all()
    n_hours = int((w_end - lo) / dt.timedelta(hours=1))
    edges = np.array(
        [(lo + dt.timedelta(hours=i)).timestamp() for i in range(n_hours)], dtype=np.float64
    )
    ts = np.array([_aware(r[1]).timestamp() for r in rows], dtype=np.float64)
    bucket = np.searchsorted(edges, ts, side="right") - 1
    neg = np.array([_is_negative(r[2], r[3]) for r in rows], dtype=bool)
    volume = np.bincount(bucket, minlength=n_hours)[:n_hours] if rows else np.zeros(n_hours)
    negative = np.bincount(bucket[neg], minlength=n_hours)[:n_hours] if rows else np.zeros(n_hours)
    expected = spikes.expected_per_hour(volume, CRISIS_HOURS, weeks)
    in_window = bucket == n_hours - 1
    base_lo = (w_start - dt.timedelta(weeks=weeks)).timestamp()
    in_base = (ts >= base_lo) & (ts < w_start.timestamp())
    window_rows = [r for r, w in zip(rows, in_window, strict=True) if w]
    base_rows = [r for r, b in zip(rows, in_base, strict=True) if b]

    def terms_of(r: Any) -> set[str]:
        return {
            t
            for t in tokens(strip_urls(r[4]))
            if len(t) > 2 and t[0] not in "@#" and not t.isdigit() and t not in FUNCTION_WORDS
        } | {t for t in tokens(r[4]) if t[0] == "#"}

    def count(items: list[Any], key: Any) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in items:
            for k in key(r):
                out[k] = out.get(k, 0) + 1
        return out

    n_w, n_b = len(window_rows), len(base_rows)
    terms = spikes.changes(count(window_rows, terms_of), count(base_rows, terms_of), n_w, n_b)
    topics = spikes.changes(
        count(window_rows, lambda r: set(r[5] or [])),
        count(base_rows, lambda r: set(r[5] or [])),
        n_w,
        n_b,
    )
    authors = spikes.changes(
        count(window_rows, lambda r: {r[6]} if r[6] else set()),
        count(base_rows, lambda r: {r[6]} if r[6] else set()),
        n_w,
        n_b,
    )
    mentions = (
        list(
            session.scalars(
                select(Mention)
                .where(Mention.id.in_([r[0] for r in window_rows]))
                .order_by(Mention.sentiment, Mention.reach.desc(), Mention.id)
                .limit(limit)
            )
        )
        if window_rows
        else []
    )
    mentions.sort(key=lambda m: (m.final_label != "negative", m.sentiment, -m.reach, m.id))
    first = n_hours - CRISIS_HOURS
    return Crisis(
        alert=alert,
        query=query,
        hours=[lo + dt.timedelta(hours=first + i) for i in range(CRISIS_HOURS)],
        volume=[int(v) for v in volume[first:]],
        negative=[int(v) for v in negative[first:]],
        expected=[round(float(v), 2) for v in expected],
        window_volume=n_w,
        window_negative_share=float(neg[in_window].mean()) if n_w else 0.0,
        baseline_volume=n_b,
        baseline_negative_share=float(neg[in_base].mean()) if n_b else 0.0,
        mentions=mentions,
        terms=terms,
        topics=topics,
        authors=authors,
        weeks=weeks,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def local_hour(at: dt.datetime, zone: str) -> tuple[str, str]:
    """``at`` as the workspace reads it: its wall-clock time in the IANA ``zone`` and the zone
    with that moment's UTC offset (``("2026-07-01 11:00", "Europe/Rome, UTC+02:00")``), so
    the offset is right on both sides of a daylight-saving change."""
    local = _aware(at).astimezone(ZoneInfo(zone))
    offset = f"{local:%z}"
    return f"{local:%Y-%m-%d %H:%M}", f"{zone}, UTC{offset[:3]}:{offset[3:]}"


def crisis_text(
    crisis: Crisis,
    title: str,
    body: str,
    base_url: str | None,
    language: str = "en",
    zone: str = "UTC",
) -> str:
    """The plain-text e-mail of an alert in ``language``: what happened, what changed, the
    messages behind (their sentiment label and the terms as they are). The hour is given in
    the workspace's time zone ``zone``."""
    _ = i18n.translator(language).gettext
    fmt = i18n.Formatter(language)
    a = crisis.alert
    hour, zone_label = local_hour(a.window_start, zone)
    values = {
        "volume": crisis.window_volume,
        "share": fmt.percent(crisis.window_negative_share),
        "usual": fmt.percent(crisis.baseline_negative_share),
        "weeks": crisis.weeks,
    }
    lines = [
        title,
        body,
        "",
        _("Query: %(name)s (%(query)s)") % {"name": crisis.query.name, "query": crisis.query.query},
        _("Hour: %(hour)s (%(zone)s)") % {"hour": hour, "zone": zone_label},
        _(
            "Mentions in the hour: %(volume)s; negative %(share)s (usually %(usual)s over the "
            "previous %(weeks)s weeks)"
        )
        % values,
    ]
    if crisis.terms:
        terms = ", ".join(f"{c.key} ({c.count})" for c in crisis.terms[:8])
        lines.append(_("Said more than usual: %(terms)s") % {"terms": terms})
    if crisis.topics:
        topics = ", ".join(f"{c.key} ({c.count})" for c in crisis.topics[:5])
        lines.append(_("Topics: %(topics)s") % {"topics": topics})
    if crisis.mentions:
        lines += ["", _("Messages behind it:")]
        for m in crisis.mentions[:5]:
            who = f"@{m.author_handle}" if m.author_handle else m.channel
            lines.append(f"- [{m.final_label}] {who}: {' '.join(m.text.split())[:280]}")
    if base_url:
        url = f"{base_url.rstrip('/')}/w/{a.workspace_id}/listening/alerts/{a.id}"
        lines += ["", _("Crisis view: %(url)s") % {"url": url}]
    return "\n".join(lines) + "\n"


# --- topics as clusters, brands and products named ------------------------------------------

_PHRASE_RE = re.compile(r'"([^"]{2,})"')


def workspace_gazetteer(session: Session, workspace_id: int) -> Gazetteer:
    """The names the workspace listens for: each brand and competitor query's name, and the
    "quoted phrases" of those queries as products (brands first, so a product named like a
    brand stays the brand)."""
    queries = session.scalars(
        select(ListeningQuery)
        .where(
            ListeningQuery.workspace_id == workspace_id,
            ListeningQuery.kind.in_(("brand", "competitor")),
        )
        .order_by(ListeningQuery.id)
    ).all()
    entries = [(q.name, q.name, q.kind) for q in queries]
    entries += [(p, p, "product") for q in queries for p in _PHRASE_RE.findall(q.query)]
    return Gazetteer.of(entries)


@dataclasses.dataclass
class TopicCluster:
    label: str
    terms: tuple[str, ...]
    size: int
    negative_share: float
    net: float  # mean sentiment (corrections count as -1 / 0 / +1)
    examples: list[Mention]


@dataclasses.dataclass
class TopicsView:
    mentions: int  # how many mentions were clustered
    days: int
    clusters: list[TopicCluster]
    names: list[tuple[str, str, int]]  # (name, kind, mentions naming it), most named first


def topics_view(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    now: dt.datetime,
    days: int = 30,
    limit: int = 1500,
    query_id: int | None = None,
) -> TopicsView:
    """The latest ``limit`` mentions of the last ``days`` days (of one query, if given),
    clustered into topics named by their top terms, and the brands and products they name."""
    authorize(session, principal, workspace_id, Permission.listening_read)
    stmt = select(Mention).where(
        Mention.workspace_id == workspace_id,
        Mention.posted_at >= _utc(now) - dt.timedelta(days=days),
    )
    if query_id is not None:
        _query_in(session, workspace_id, query_id)
        stmt = stmt.join(MentionMatch, MentionMatch.mention_id == Mention.id).where(
            MentionMatch.query_id == query_id
        )
    mentions = list(
        session.scalars(stmt.order_by(Mention.posted_at.desc(), Mention.id.desc()).limit(limit))
    )
    found = cluster_texts([m.text for m in mentions])
    clusters = []
    for c in found:
        members = [mentions[i] for i in c.members]
        values = [
            LABEL_VALUE[m.corrected_label] if m.corrected_label else m.sentiment for m in members
        ]
        clusters.append(
            TopicCluster(
                label=c.label,
                terms=c.terms,
                size=c.size,
                negative_share=sum(m.final_label == "negative" for m in members) / c.size,
                net=float(np.mean(values)),
                examples=members[:3],
            )
        )
    gazetteer = workspace_gazetteer(session, workspace_id)
    counted: dict[tuple[str, str], int] = {}
    for m in mentions:
        for hit in gazetteer.find(m.text):
            counted[hit] = counted.get(hit, 0) + 1
    names = sorted(
        ((name, kind, n) for (name, kind), n in counted.items()), key=lambda x: (-x[2], x[0])
    )
    return TopicsView(mentions=len(mentions), days=days, clusters=clusters, names=names)


# --- active learning -------------------------------------------------------------------------


@dataclasses.dataclass
class LabelRequest:
    mention: Mention
    uncertainty: float  # 0..1
    suggestion: str  # what the model would say


def to_label(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    limit: int = 5,
    pool: int = 2000,
) -> tuple[list[LabelRequest], str]:
    """The uncorrected recent mentions the model is least sure of (uncertainty sampling), and
    which model judged: ``"corrections"`` (a model trained on the team's corrections) or
    ``"lexicon"`` (before there are enough corrections)."""
    authorize(session, principal, workspace_id, Permission.listening_read)
    candidates = list(
        session.scalars(
            select(Mention)
            .where(Mention.workspace_id == workspace_id, Mention.corrected_label.is_(None))
            .order_by(Mention.posted_at.desc(), Mention.id.desc())
            .limit(pool)
        )
    )
    if not candidates:
        return [], "lexicon"
    rows = training_rows(session, workspace_id)
    model = active.train_on_corrections([r[0] for r in rows], [r[1] for r in rows])
    if model is not None:
        proba = model.predict_proba([m.text for m in candidates])
        uncertainty = active.margin_uncertainty(proba)
        classes = [str(c) for c in model.classes_]
        suggestions = [classes[int(i)] for i in np.argmax(proba, axis=1)]
        source = "corrections"
    else:
        uncertainty = active.lexicon_uncertainty([m.sentiment for m in candidates])
        suggestions = [m.label for m in candidates]
        source = "lexicon"
    picked = active.most_uncertain(uncertainty, limit)
    return [
        LabelRequest(candidates[i], round(float(uncertainty[i]), 4), suggestions[i]) for i in picked
    ], source
