"""Customer Support on Twitter (TWCS, Kaggle; CC BY-NC-SA 4.0) as inbox conversations: read
the CSV, rebuild the threads, import them, and measure two things on real care threads:

- **first-response time**: from a customer's first tweet of a thread to the brand's first
  answer in it (wall-clock seconds: the brands' business hours are unknown);
- **suggestions**: for each brand, its threads in time order; the first 80 % are the past, the
  last 20 % are held out. For a held-out thread the suggestion index (TF-IDF nearest
  neighbours over the brand's past first questions, :class:`assist.SuggestionIndex`) offers 3
  past answers; a suggestion is **close** when its token-overlap F1 with what the brand really
  answered (handles and links removed, SQuAD's measure) is at least ``CLOSE_F1``. We report
  the share of held-out threads with a close suggestion among the top 3, and the same for a
  baseline offering the brand's 3 most frequent past answers.

The data set is non-commercial: it is read from where it lies, never copied into the project.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.channels.models import Channel
from dialogo.inbox import assist, sla
from dialogo.inbox.ingest import Analyser, _insert, quarantine, store_messages
from dialogo.inbox.models import Conversation, Direction, Message
from dialogo.providers.base import Author, InboundMessage, MessageKind

CLOSE_F1 = 0.5
HOLDOUT = 0.2
TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"


@dataclasses.dataclass(frozen=True)
class Tweet:
    tweet_id: str
    author_id: str
    inbound: bool
    created_at: dt.datetime
    text: str
    in_response_to: str | None


@dataclasses.dataclass(frozen=True)
class BadRow:
    line: int
    reason: str
    row: dict[str, str]


def read(path: Path, *, limit: int | None = None) -> tuple[list[Tweet], list[BadRow]]:
    """The tweets of a TWCS CSV, and the rows that could not be read (with the reason)."""
    tweets: list[Tweet] = []
    bad: list[BadRow] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            if limit is not None and len(tweets) + len(bad) >= limit:
                break
            try:
                tweets.append(_tweet(row))
            except ValueError as exc:
                bad.append(BadRow(line, str(exc), {k or "": v or "" for k, v in row.items()}))
    return tweets, bad


def _tweet(row: dict[str, Any]) -> Tweet:
    tweet_id = (row.get("tweet_id") or "").strip()
    author = (row.get("author_id") or "").strip()
    if not tweet_id.isdigit():
        raise ValueError(f"tweet_id is not a number: {tweet_id!r}")
    if not author:
        raise ValueError("author_id is empty")
    inbound = (row.get("inbound") or "").strip()
    if inbound not in ("True", "False"):
        raise ValueError(f"inbound is neither True nor False: {inbound!r}")
    try:
        created = dt.datetime.strptime((row.get("created_at") or "").strip(), TIME_FORMAT)  # noqa: DTZ007 - the format has %z
    except ValueError:
        raise ValueError(f"created_at is not a date: {row.get('created_at')!r}") from None
    text = row.get("text")
    if text is None:
        raise ValueError("text is missing")
    parent = (row.get("in_response_to_tweet_id") or "").strip()
    if parent:
        try:
            parent = str(int(float(parent)))
        except ValueError:
            raise ValueError(f"in_response_to_tweet_id is not a number: {parent!r}") from None
    return Tweet(
        tweet_id, author, inbound == "True", created.astimezone(dt.UTC), text, parent or None
    )


@dataclasses.dataclass
class Thread:
    root: str
    tweets: list[Tweet]

    @property
    def brand(self) -> str | None:
        return next((t.author_id for t in self.tweets if not t.inbound), None)

    def first_question(self) -> Tweet | None:
        return next((t for t in self.tweets if t.inbound), None)

    def first_answer(self) -> Tweet | None:
        question = self.first_question()
        if question is None:
            return None
        return next(
            (t for t in self.tweets if not t.inbound and t.created_at >= question.created_at), None
        )


def threads(tweets: Iterable[Tweet]) -> list[Thread]:
    """Tweets grouped by the root of their reply chain (a parent missing from the sample makes
    the tweet a root), each thread in time order."""
    by_id = {t.tweet_id: t for t in tweets}

    def root_of(t: Tweet) -> str:
        seen: set[str] = set()
        while t.in_response_to and t.in_response_to in by_id and t.tweet_id not in seen:
            seen.add(t.tweet_id)
            t = by_id[t.in_response_to]
        return t.tweet_id

    grouped: dict[str, list[Tweet]] = collections.defaultdict(list)
    for t in by_id.values():
        grouped[root_of(t)].append(t)
    out = [
        Thread(root, sorted(items, key=lambda t: (t.created_at, int(t.tweet_id))))
        for root, items in grouped.items()
    ]
    return sorted(out, key=lambda th: (th.tweets[0].created_at, th.root))


# --- measures -----------------------------------------------------------------------------------


def first_response_seconds(items: Sequence[Thread]) -> list[float]:
    found = []
    for th in items:
        q, a = th.first_question(), th.first_answer()
        if q is not None and a is not None:
            found.append((a.created_at - q.created_at).total_seconds())
    return found


@dataclasses.dataclass(frozen=True)
class SuggestionReport:
    brands: int
    held_out: int
    hit_rate: float | None  # a close suggestion among the top 3
    mean_best_f1: float | None
    baseline_hit_rate: float | None  # the brand's 3 most frequent past answers

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def evaluate_suggestions(
    items: Sequence[Thread], *, k: int = 3, holdout: float = HOLDOUT, close: float = CLOSE_F1
) -> SuggestionReport:
    per_brand: dict[str, list[assist.Example]] = collections.defaultdict(list)
    for th in items:  # in time order
        q, a, brand = th.first_question(), th.first_answer(), th.brand
        if q is None or a is None or brand is None:
            continue
        per_brand[brand].append(assist.Example(q.text, a.text, th.root))
    hits = base_hits = held = 0
    best_f1s: list[float] = []
    brands = 0
    for examples in per_brand.values():
        cut = int(len(examples) * (1 - holdout))
        past, future = examples[:cut], examples[cut:]
        if len(past) < k or not future:
            continue
        brands += 1
        index = assist.SuggestionIndex(past)
        frequent = [a for a, _ in collections.Counter(e.answer for e in past).most_common(k)]
        for example in future:
            held += 1
            offered = [s.answer for s in index.suggest(example.question, k)]
            scores = [assist.token_f1(o, example.answer) for o in offered] or [0.0]
            best_f1s.append(max(scores))
            hits += max(scores) >= close
            base_hits += max(assist.token_f1(o, example.answer) for o in frequent) >= close
    return SuggestionReport(
        brands=brands,
        held_out=held,
        hit_rate=hits / held if held else None,
        mean_best_f1=sum(best_f1s) / len(best_f1s) if best_f1s else None,
        baseline_hit_rate=base_hits / held if held else None,
    )


@dataclasses.dataclass(frozen=True)
class Report:
    tweets: int
    bad_rows: int
    threads: int
    answered: int
    first_response: sla.Stats
    suggestions: SuggestionReport


def report(path: Path, *, limit: int | None = None) -> Report:
    tweets, bad = read(path, limit=limit)
    items = threads(tweets)
    seconds = first_response_seconds(items)
    return Report(
        tweets=len(tweets),
        bad_rows=len(bad),
        threads=len(items),
        answered=len(seconds),
        first_response=sla.stats(seconds, target_seconds=3600),
        suggestions=evaluate_suggestions(items),
    )


# --- import -------------------------------------------------------------------------------------


@dataclasses.dataclass
class ImportReport:
    inbound: int = 0
    outbound: int = 0
    duplicates: int = 0
    quarantined: int = 0
    conversations: int = 0


def _inbound(t: Tweet, root: str, handles: dict[str, str]) -> InboundMessage:
    return InboundMessage(
        remote_id=f"twcs:{t.tweet_id}",
        kind=MessageKind.reply if t.in_response_to else MessageKind.mention,
        author=Author(
            remote_id=f"twcs:{t.author_id}", handle=handles.get(t.author_id, t.author_id)
        ),
        text=t.text,
        created_at=t.created_at,
        conversation_id=f"twcs:{root}",
        in_reply_to=f"twcs:{t.in_response_to}" if t.in_response_to else None,
    )


def import_threads(
    session: Session,
    channel: Channel,
    path: Path,
    *,
    limit: int | None = None,
    analyser: Analyser | None = None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Customers' tweets go through ingest (dedupe, threads, contacts, enrichment); the brands'
    answers become outbound messages of the same conversations, which sets their first-response
    time. Unreadable rows are quarantined with the reason. Importing twice adds nothing."""
    now = now or dt.datetime.now(dt.UTC)
    tweets, bad = read(path, limit=limit)
    out = ImportReport()
    for row in bad:
        quarantine(session, channel, row, f"line {row.line}: {row.reason}", now=now)
        out.quarantined += 1
    items = threads(tweets)
    inbound = [_inbound(t, th.root, {}) for th in items for t in th.tweets if t.inbound]
    stored = store_messages(session, channel, inbound, now=now, analyser=analyser)
    out.inbound, out.duplicates = stored.stored, stored.duplicates
    keys = {f"twcs:{th.root}": th for th in items}
    conversations = dict(
        session.execute(
            select(Conversation.thread_key, Conversation.id).where(
                Conversation.channel_id == channel.id, Conversation.thread_key.in_(list(keys))
            )
        ).all()
    )
    out.conversations = len(conversations)
    for key, th in keys.items():
        conversation_id = conversations.get(key)
        if conversation_id is None:  # a thread of brand tweets only: nothing to answer
            continue
        answers = [t for t in th.tweets if not t.inbound]
        for t in answers:
            result = session.execute(
                _insert(session, Message)
                .values(
                    workspace_id=channel.workspace_id,
                    channel_id=channel.id,
                    conversation_id=conversation_id,
                    remote_id=f"twcs:{t.tweet_id}",
                    direction=Direction.outbound.value,
                    kind="reply",
                    remote_conversation_id=key,
                    in_reply_to=f"twcs:{t.in_response_to}" if t.in_response_to else None,
                    author_remote_id=f"twcs:{t.author_id}",
                    author_handle=t.author_id,
                    author_name=t.author_id,
                    text=t.text,
                    created_at=t.created_at,
                    ingested_at=now,
                    is_question=False,
                    is_complaint=False,
                    ref={},
                )
                .on_conflict_do_nothing(index_elements=["channel_id", "remote_id"])
                .returning(Message.id)
            ).scalar_one_or_none()
            out.outbound += result is not None
        conversation = session.get(Conversation, conversation_id)
        first_answer = th.first_answer()
        if conversation is not None and first_answer is not None:
            conversation.first_response_at = first_answer.created_at
            last = th.tweets[-1]
            if not last.inbound:
                conversation.waiting_since = None
            conversation.last_message_at = last.created_at
    session.flush()
    return out
