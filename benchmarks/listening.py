"""Listening throughput, end to end: parse → language → sentiment → 100 queries → store.

    /work/venv/bin/python benchmarks/listening.py [--posts 14000] [--batch 1000] [--repeat 3]

Texts: the English airline tweets and the Italian SENTIPOLC tweets from ../shared/data
(interleaved; read, never copied), each post with its own time. Without them, the run stops with
a message. The store is a SQLite file made as the default install makes it (the app's engine:
WAL journal, synchronous=NORMAL, foreign keys on), every table, one workspace and the 100 queries
stored, one transaction per batch of 1,000.

Named speed baseline: VADER (``vaderSentiment``'s ``polarity_scores``) on the same English
texts — sentiment alone, no language, no queries, no store. The table also shows each stage
alone, and the machine's load average (the figures are only comparable on an idle machine).

Measured on 2026-12-06 at 11:12 UTC, 14,000 posts, ``--repeat 3`` (end to end and VADER: the
best of three alternating runs; the other rows one run), load average 13.3 on the 2-core
machine shared by about eight engineers — so the wall figures are a fraction of what the code
does; the CPU-second column is what this process itself spent:

| what | posts/s (wall) | posts per CPU-second |
|---|---|---|
| end to end, batch path (service.ingest, SQLite) | 3,782 | 10,863 |
| end to end, per-post path | 712 | 3,570 |
| analyse_many alone | 6,575 | 17,552 |
| parse alone | 25,224 | 67,787 |
| 100 queries alone | 30,191 | 78,963 |
| baseline: VADER alone | 5,691 | 16,717 |

Side by side, the same benchmark run alternately on this tree and on the code before the changes
below (``git archive HEAD`` of ecd258c with PYTHONPATH), at load 13–22: end to end per
CPU-second 10,818, 9,824 and 10,863 (0.60x, 0.55x and 0.65x VADER) against 8,768 and 8,616
(0.49x and 0.57x VADER), about 1.15–1.25x; best wall 3,782 against 2,782. In four more
alternating pairs of the batch path alone (best of two each): 8,142 / 8,310 /
9,178 / 8,841 against 7,783 / 7,701 / 8,172 / 7,715 per CPU-second (1.05–1.15x), wall
1,983 / 2,159 / 2,186 / 2,256 against 1,250 / 1,809 / 1,937 / 1,856. All results are identical:
analyse_many, analyse with hints and polarity on all 17,658 airline + SENTIPOLC texts, and each
query document equals prepare()'s (tests/nlp/test_fast_paths.py, tests/listening/
test_ingest_values.py).

The goal of 10,000 posts/s wall is NOT demonstrated: on this machine at load 13–22 the best
end-to-end run is 3,782 posts/s wall; per CPU-second of the process it is 9,824–10,863. The
ratios to VADER fall with the load too (the code before these changes: 0.55–0.58x at load 3.4
this morning, 0.49–0.57x at load 14–20 now), so at 1.15–1.25x that code an idle machine (VADER
26,412 posts/s on 2026-11-23) would give about 16,000–19,000 posts per CPU-second, which for
one process on an idle core is also about its wall rate — a projection, not a measurement.

Where a post's time went before (cProfile by CPU time, batch path, load 2): analyse_many 56 %
(language identification by the model for the ~13 % of posts the function words leave unsure
is the largest single part), the query document 7 % and the 100 queries 7 %, the store 18 %
(converting values 7 %, the posted_at conversion alone 4.5 %; executemany 4 %; commit 3 %;
reading the new ids back and the duplicate check 4 %), the rest glue. What changed:

- the store (``listening/store.py``): rows as tuples, converted column by column (``map``/``zip``
  in C; a repeated value, e.g. a topics list serialised to JSON, once per batch), the driver's
  own ``executemany`` on the session's connection, the new ids without reading them back
  (SQLite: ``last_insert_rowid()`` and the consecutive ids of one executemany in the write
  transaction, checked at both ends against the unique key; PostgreSQL: ``INSERT … RETURNING
  id`` through psycopg's ``executemany(returning=True)``);
- the duplicate check and any read-back name the channels too, so each key is one look-up in
  the unique (workspace, channel, remote id) index — before, the condition used only the
  workspace and scanned all of its mentions for every 500 keys (a cost growing with the table);
- one normalised form: analyse_many hands out each text's lower-cased form and tokens, and the
  query document takes its words from them (``nlp.text.word_runs``) instead of lower-casing and
  scanning the text again, wherever cleaning left the text unchanged and no emoticon splits a
  word (11,106 of the 14,000 posts here; the others are read again);
- the sentiment scorer finds the tokens its rules may act on with one set look-up each instead
  of a dictionary look-up per token and four further tests.

The per-batch Incoming objects (a frozen dataclass, ~4 µs a post) are built by the caller and
counted here. Earlier: 2026-12-06 at 08:07 UTC at load 3.4 (a bare SQLite engine: rollback
journal, synchronous=FULL, no foreign keys), batch path 7,296 posts/s wall, 8,434 per
CPU-second, VADER 12,858 and 14,540; a second process for analyse_many was tried then and gave
no gain while the other core is busy. 2026-11-23 at load 1.4: end to end 9,422 posts/s wall,
VADER 26,412.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.core.config import Settings
from dialogo.core.db import Base, make_engine
from dialogo.db import models  # noqa: F401 - every table
from dialogo.listening.models import ListeningQuery, Mention, MentionMatch, MentionSource
from dialogo.listening.query import QuerySet, prepare
from dialogo.listening.service import Incoming, ingest
from dialogo.nlp import Analysis, analyse, analyse_many, cues

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EN = DATA / "airline_sentiment" / "train.csv"
IT = DATA / "sentipolc2016" / "train.csv"


def load_texts(n: int) -> tuple[list[str], list[str]]:
    en = [r["text"] for r in csv.DictReader(EN.open(encoding="utf-8"))]
    it = [r["text"] for r in csv.DictReader(IT.open(encoding="utf-8"))]
    # Never more posts than distinct texts: analyse_many analyses a repeated text once, so
    # repeats would flatter the figures.
    n = min(n, 2 * min(len(en), len(it)))
    mixed: list[str] = []
    i = 0
    while len(mixed) < n:
        mixed.append(en[i % len(en)])
        mixed.append(it[i % len(it)])
        i += 1
    return mixed[:n], en


def make_queries(texts: list[str], k: int = 100) -> dict[int, str]:
    """100 deterministic queries of every shape over the texts' frequent words (ids 1-100)."""
    counts = Counter(
        w for t in texts[:5000] for w in t.lower().split() if w.isalpha() and len(w) > 4
    )
    words = [w for w, _ in counts.most_common(400)][100:]  # frequent, not the commonest
    tags = _names(texts, "#")
    people = _names(texts, "@")
    shapes = [
        lambda a, b, c: f"{a}",
        lambda a, b, c: f"{a} OR {b}",
        lambda a, b, c: f"{a} AND {b}",
        lambda a, b, c: f"({a} OR {b}) NOT {c}",
        lambda a, b, c: f'"{a} {b}" OR {c}',
        lambda a, b, c: f"{a[:4]}* AND lang:en",
        lambda a, b, c: f"{a} lang:it",
    ]
    queries: dict[int, str] = {}
    i = 0
    while len(queries) < k - len(tags[:10]) - len(people[:10]):
        a, b, c = (
            words[(3 * i) % len(words)],
            words[(3 * i + 1) % len(words)],
            words[(3 * i + 2) % len(words)],
        )
        queries[len(queries) + 1] = shapes[i % len(shapes)](a, b, c)
        i += 1
    for tag in tags[:10]:
        queries[len(queries) + 1] = f"{tag} OR {words[len(queries) % len(words)]}"
    for person in people[:10]:
        queries[len(queries) + 1] = f"{person} NOT {words[len(queries) % len(words)]}"
    return queries


def _names(texts: list[str], sigil: str) -> list[str]:
    found = Counter(
        w.lower().strip(".,!?:;") for t in texts[:5000] for w in t.split() if w.startswith(sigil)
    )
    return [w for w, _ in found.most_common(40) if re.fullmatch(r"[#@]\w+", w)][:20]


def fresh_store(tmp: str, queries: dict[int, str]) -> Engine:
    """A SQLite file as the default install makes it: the app's own engine (WAL journal,
    synchronous=NORMAL, foreign keys on, its JSON serialiser), every table, one workspace
    (id 1) and the queries stored under their ids (the matches' foreign keys)."""
    engine = make_engine(Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/b.sqlite3"))
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Workspace(id=1, name="bench", slug="bench"))
        session.flush()
        session.add_all(
            ListeningQuery(id=qid, workspace_id=1, name=f"q{qid}", query=text, kind="topic")
            for qid, text in queries.items()
        )
        session.commit()
    return engine


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}"


T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _incoming(texts: list[str], offset: int) -> list[Incoming]:
    # Each post its own time (as from a network), one second apart.
    return [
        Incoming(
            channel="bench",
            remote_id=str(offset + i),
            text=t,
            posted_at=T0 + dt.timedelta(seconds=offset + i),
        )
        for i, t in enumerate(texts)
    ]


def per_post_path(
    engine: Engine, texts: list[str], qs: QuerySet, batch: int
) -> tuple[float, float]:
    """The path as it was first written: one analyse() per post and ORM objects."""
    start, cpu = time.perf_counter(), time.process_time()
    with Session(engine) as session:
        for lo in range(0, len(texts), batch):
            pending = []
            for item in _incoming(texts[lo : lo + batch], 10_000_000 + lo):
                a = analyse(item.text)
                m = qs.match(prepare(item.text, lang=a.language, channels=("bench",)))
                mention = Mention(
                    workspace_id=1,
                    channel=item.channel,
                    remote_id=item.remote_id,
                    source="file",
                    text=item.text,
                    posted_at=item.posted_at,
                    language=a.language,
                    sentiment=a.sentiment,
                    label=a.label,
                    is_question=a.is_question,
                    is_complaint=a.is_complaint,
                    topics=list(a.topics),
                )
                pending.append((mention, m))
            session.add_all([p for p, _ in pending])
            session.flush()
            for mention, m in pending:
                session.add_all(MentionMatch(mention_id=mention.id, query_id=q) for q in m)
            session.commit()
    return time.perf_counter() - start, time.process_time() - cpu


def batch_path(engine: Engine, texts: list[str], qs: QuerySet, batch: int) -> tuple[float, float]:
    """The real service: ``listening.service.ingest`` (duplicate check, analyse_many, the 100
    queries through one shared term index, mentions and matches by driver-level executemany),
    one transaction per batch."""
    start, cpu = time.perf_counter(), time.process_time()
    with Session(engine) as session:
        for lo in range(0, len(texts), batch):
            ingest(
                session,
                1,
                _incoming(texts[lo : lo + batch], lo),
                source=MentionSource.file,
                keep_unmatched=True,
                queries=qs,
            )
            session.commit()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=14_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of end to end and VADER, alternating"
    )
    args = parser.parse_args()
    if not (EN.exists() and IT.exists()):
        print(f"skip: the data sets are absent ({EN}, {IT})")
        return
    texts, en_texts = load_texts(args.posts)
    queries = make_queries(texts)
    qs = QuerySet(queries)
    # Warm up: one untimed pass (loads the models and lexicons, and settles the interpreter;
    # without it whichever stage runs first looks slower).
    analyse_many(texts)

    def timed(fn: Callable[[], object]) -> tuple[float, float]:
        cues._word_topic.clear()  # every stage starts with a cold word cache
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - wall, time.process_time() - cpu

    # Stages alone.
    results: list[Analysis] = []
    t_analyse = timed(lambda: results.extend(analyse(x) for x in texts))
    batch_results: list[Analysis] = []
    t_analyse_many = timed(lambda: batch_results.extend(analyse_many(texts)))
    assert batch_results == results, "analyse_many must equal analyse"
    docs = [prepare(x, lang=r.language) for x, r in zip(texts, results, strict=True)]
    t_parse = timed(
        lambda: [prepare(x, lang=r.language) for x, r in zip(texts, results, strict=True)]
    )
    matched: list[list[int]] = []
    t_match = timed(lambda: matched.extend(qs.match_many(docs)))
    hits = sum(len(m) for m in matched)

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    sample = en_texts[: len(texts)]

    def best(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        return min(a[0], b[0]), min(a[1], b[1])

    # End to end, with the store (a fresh SQLite file each run, like the default install),
    # alternating with the VADER baseline so both see the same machine; the best of the runs.
    inf = (float("inf"), float("inf"))
    t_old, t_e2e, t_vader = inf, inf, inf
    for rep in range(max(1, args.repeat)):
        with tempfile.TemporaryDirectory() as tmp:
            engine = fresh_store(tmp, queries)
            if rep == 0:
                cues._word_topic.clear()
                t_old = per_post_path(engine, texts, qs, args.batch)
            cues._word_topic.clear()
            t_e2e = best(t_e2e, batch_path(engine, texts, qs, args.batch))
            engine.dispose()
        t_vader = best(t_vader, timed(lambda: [vader.polarity_scores(x) for x in sample]))
    load = os.getloadavg()[0]
    langs = Counter(r.language for r in results)
    n = len(texts)

    print(
        f"{n:,} posts ({len(set(texts)):,} distinct, it/en interleaved), {len(queries)} "
        f"queries, {hits:,} matches; languages {dict(langs)}; load average {load:.1f} on "
        f"{os.cpu_count()} cores"
    )
    print()
    print("| what | posts/s (wall) | posts per CPU-second |")
    print("|---|---|---|")
    rows = [
        (
            "**end to end, batch path**: service.ingest (analyse_many + parse + 100 queries "
            "+ bulk executemany, SQLite)",
            t_e2e,
            n,
        ),
        ("end to end, per-post path: analyse() one by one + ORM objects (SQLite)", t_old, n),
        ("analyse_many alone (language, sentiment, cues, topics)", t_analyse_many, n),
        ("analyse alone, one call per post", t_analyse, n),
        ("parse alone (query document)", t_parse, n),
        ("100 queries alone (QuerySet.match_many)", t_match, n),
        ("**baseline: VADER polarity_scores alone, English texts**", t_vader, len(sample)),
    ]
    for what, (wall, cpu), count in rows:
        print(f"| {what} | {rate(count, wall)} | {rate(count, cpu)} |")
    print()
    e2e_cpu = n / t_e2e[1]
    vader_cpu = len(sample) / t_vader[1]
    print(
        f"End to end against the VADER baseline, per CPU-second (the load-independent ratio): "
        f"{e2e_cpu / vader_cpu:.2f}x VADER's rate while doing language, cues, topics, 100 "
        "queries and the store as well."
    )
    print(
        "Goal: >= 10,000 posts/s end to end. On a shared machine the wall figures fall with "
        "the load; CPU-seconds are what this process itself spent."
    )


if __name__ == "__main__":
    main()
