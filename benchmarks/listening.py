"""Listening throughput, end to end: parse → language → sentiment → 100 queries → store.

    /work/venv/bin/python benchmarks/listening.py [--posts 14000] [--batch 1000] [--repeat 3]

Texts: the English airline tweets and the Italian SENTIPOLC tweets from ../shared/data
(interleaved; read, never copied). Without them, the run stops with a message. The store is a
SQLite file (the default backend), with the real ``mentions`` and ``mention_matches`` tables,
one transaction per batch.

Named speed baseline: VADER (``vaderSentiment``'s ``polarity_scores``) on the same English
texts — sentiment alone, no language, no queries, no store. The table also shows each stage
alone, and the machine's load average (the figures are only comparable on an idle machine).

Measured on 2026-12-06 at 08:07 UTC, 14,000 posts, ``--repeat 3`` (end to end and VADER: the
best of three alternating runs; the other rows one run), load average 3.4 on the 2-core machine
shared by about eight engineers (so the wall figures are low; per CPU-second of this process):

| what | posts/s (wall) | posts per CPU-second |
|---|---|---|
| end to end, batch path (service.ingest, SQLite) | 7,296 | 8,434 |
| end to end, per-post path | 2,463 | 3,850 |
| analyse_many alone | 18,795 | 18,799 |
| parse alone | 48,042 | 48,494 |
| 100 queries alone | 147,329 | 172,858 |
| baseline: VADER alone | 12,858 | 14,540 |

End to end is 0.58x VADER's rate per CPU-second in that run; in three before/after pairs run
alternately at load 3.4–4.1 it was 0.55, 0.55, 0.58 against 0.51, 0.48, 0.53 for the code of
the same morning without the changes below (about 10 % more per CPU-second; analyse_many's
results are identical on all 17,658 airline + SENTIPOLC texts). The goal of 10,000 posts/s wall
is NOT demonstrated: the best end-to-end run here is 7,296 posts/s wall, 8,434 per CPU-second.
CPU-second figures fall with the load too (VADER: 26,412 posts/s on the idle machine of
2026-11-23, 14,540 per CPU-second here); at 0.55–0.58x VADER an idle machine would give about
14,500–15,300 posts/s, a projection, not a measurement. What changed: the complaint pattern
is tried one first-letter group at a word start instead of every alternative (a third faster,
same yes/no); no hashtag scan of a text without "#"; the store converts repeated values (flags,
the batch's time, topics) once per batch and reads ids back as Core rows, not ORM rows. A second
process for analyse_many (a forkserver pool taking half of each batch) was tried and is not in
the code: at load 1.9–2.0 it gave 6,363 and 6,142 posts/s wall against 5,496 and 7,140 in
process, at load 3.7–4.1 4,593 and 4,320 against 5,023 and 4,931 (no gain while the other
core is busy). Earlier the same morning at load
13.1, with the shared query index and the driver-level store just added: 0.48–0.53x VADER per
CPU-second, against 0.34–0.47x for the code before them.
Earlier: 2026-11-23 at load 1.4, end to end 9,422 posts/s wall, VADER 26,412.
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

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from dialogo.core.db import Base
from dialogo.db import models  # noqa: F401 - every table
from dialogo.listening.models import Mention, MentionMatch, MentionSource
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
    """100 deterministic queries of every shape over the texts' frequent words."""
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
        queries[len(queries)] = shapes[i % len(shapes)](a, b, c)
        i += 1
    for tag in tags[:10]:
        queries[len(queries)] = f"{tag} OR {words[len(queries) % len(words)]}"
    for person in people[:10]:
        queries[len(queries)] = f"{person} NOT {words[len(queries) % len(words)]}"
    return queries


def _names(texts: list[str], sigil: str) -> list[str]:
    found = Counter(
        w.lower().strip(".,!?:;") for t in texts[:5000] for w in t.split() if w.startswith(sigil)
    )
    return [w for w, _ in found.most_common(40) if re.fullmatch(r"[#@]\w+", w)][:20]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}"


def _incoming(texts: list[str], offset: int) -> list[Incoming]:
    now = dt.datetime.now(dt.UTC)
    return [
        Incoming(channel="bench", remote_id=str(offset + i), text=t, posted_at=now)
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
            engine = create_engine(f"sqlite:///{tmp}/bench.sqlite3")
            Base.metadata.create_all(engine, tables=[Mention.__table__, MentionMatch.__table__])
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
