"""Listening throughput, end to end: parse → language → sentiment → 100 queries → store.

    .venv/bin/python benchmarks/listening.py [--posts 14000] [--batch 1000] [--repeat 3]
                                             [--workers N]

Texts: the English airline tweets and the Italian SENTIPOLC tweets from ../shared/data
(interleaved; read, never copied), each post with its own time. Without them, the run stops with
a message. The store is a SQLite file made as the default install makes it (the app's engine:
WAL journal, synchronous=NORMAL, foreign keys on), every table, one workspace and the 100 queries
stored, one transaction per batch of 1,000.

Two end-to-end rows, both the real ``listening.service.ingest``, alternating run by run:

- **pool path** (the headline, what a large batch does by default): each batch's enrichment
  (language, sentiment, cues, topics, the 100 queries) in ``--workers`` worker processes
  (``listening.parallel``; default: the cores, as ``DIALOGO_LISTENING_WORKERS``), in chunks of
  250 handed back in input order; this process stores chunk k while the workers enrich the
  next ones. The pool is started (and its models loaded) before the clock starts, as in a
  long-running server; its CPU seconds (from /proc) are counted with this process's.
- **single process**: ``DIALOGO_LISTENING_WORKERS=1``, everything in this process.

Named speed baseline: VADER (``vaderSentiment``'s ``polarity_scores``) on the same English
texts — sentiment alone, no language, no queries, no store, one process. The table also shows
each stage alone and the 1-minute load average over the runs (the figures are only comparable
on an idle machine: the wall rates fall with the load, and so, less, do the CPU rates).

Measured on 2026-12-06 at 14:38 UTC, 14,000 posts, ``--repeat 3`` (the end-to-end rows and
VADER: the best of three alternating runs; the others one run), 1-minute load average 0.4–0.8
during the runs on the 2-core machine (a quiet window between the engineers' work):

| what | posts/s (wall) | posts per CPU-second | CPU µs per post |
|---|---|---|---|
| **end to end, pool path (2 workers)** | **12,191** | 7,745 | 129 |
| end to end, single process | 6,932 | 7,546 | 133 |
| end to end, per-post path | 2,921 | 2,930 | 341 |
| analyse_many alone | 14,675 | 14,679 | 68 |
| analyse alone, one call per post | 12,406 | 12,408 | 81 |
| parse alone | 33,653 | 33,660 | 30 |
| 100 queries alone | 100,552 | 100,548 | 10 |
| baseline: VADER alone | 14,578 | 14,579 | 69 |

**The goal of 10,000 posts/s end to end holds on the idle machine: 12,191 posts/s wall** with
the pool (0.84x VADER's wall rate while doing language, cues, topics, 100 queries and the store
as well), 1.76x the single process in the same run. Again on the committed tree at 15:28 UTC
(load 0.3-0.5): pool 16,942 posts/s wall (10,944 per CPU-second), one process 10,977, VADER
18,758 — the machine was faster then; the ratios are what carries over.

Per CPU-second the pool path costs about the same as one process (7,745 against 7,546: the
pickling and the per-chunk store are paid for by the batched language identification below).

The same benchmark at load 24–28 (14:09 UTC, eight engineers' tests running) gave 1,952 posts/s
wall with the pool and 1,621 in one process (1.16–1.20x; every process gets a fraction of a
core), 126 and 108 µs of CPU per post; the CPU rates of this virtual machine also vary by
1.5–2.5x between runs (VADER: 10,816 per CPU-second at 13:2x UTC today, 14,579 at 14:38,
26,412 on 2026-11-23), so compare rows of one run only.

Identical results: the pool path stores exactly what the single process stores — every
mention's id, language, sentiment, label, cues, topics and matches, in input order (on
PostgreSQL in key order, both paths) — tests/listening/test_parallel.py on SQLite and
PostgreSQL, and this benchmark, which compares the stored rows and matches of every run.
The batched language model (``nlp.language.identify_many``: py3langid's byte n-gram walk
per text, then the naive-Bayes sums and the softmax for the whole batch in numpy) gives the
language py3langid's ``classify`` gives on all 17,658 airline + SENTIPOLC tweets (confidence
within 3e-6; tests/nlp/test_fast_paths.py), ``benchmarks/language.py``'s accuracy table is
unchanged, and analyse_many's output equals the previous tree's on all 17,658 (compared with
``git archive HEAD`` on PYTHONPATH).

Where a post's time goes (cProfile by CPU time, batch path): analyse_many about 60 % —
sentiment scoring 16 %, topics 9 %, the token and cue regular expressions 10 %, language
identification 9 % (the model on the ~13 % of posts the function words leave unsure: about
70–95 µs each with py3langid's classify at this load, a third of it its pure-Python byte
walk, the rest its numpy calls per text and the text preparation; identify_many, one set of
numpy calls for the batch, takes 35–45 % less: 45–60 µs, also in chunks of 32 unsure posts) —,
the query document 5 % and the 100 queries 8 %, the store 11 %, the rest glue.

Earlier: 2026-12-06 at 11:12 UTC at load 13.3 (single process only), batch path 3,782 posts/s
wall, 10,863 per CPU-second, VADER 5,691 and 16,717; 2026-12-06 at 08:07 UTC at load 3.4,
7,296 posts/s wall, VADER 12,858; 2026-11-23 at load 1.4: 9,422 posts/s wall, VADER 26,412.
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
from dialogo.listening import parallel
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


def workers_cpu() -> float:
    """CPU seconds the enrichment pool's worker processes have used so far (Linux /proc;
    0 without a pool)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in parallel.worker_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def batch_path(
    engine: Engine, texts: list[str], qs: QuerySet, batch: int, workers: int = 1
) -> tuple[float, float]:
    """The real service: ``listening.service.ingest`` (duplicate check, analyse_many, the 100
    queries through one shared term index, mentions and matches by driver-level executemany),
    one transaction per batch; with ``workers`` of 2 or more, the enrichment of each batch in
    the worker pool (listening.parallel), started beforehand. The CPU time counts the
    workers' too."""
    parallel.configure(workers)
    parallel.warm()
    start, cpu = time.perf_counter(), time.process_time() + workers_cpu()
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
    return time.perf_counter() - start, time.process_time() + workers_cpu() - cpu


def stored_rows(engine: Engine) -> list[object]:
    """Every stored mention (id, key and enrichment) and match, to compare runs."""
    with engine.connect() as conn:
        mentions = conn.exec_driver_sql(
            "SELECT id, channel, remote_id, posted_at, language, sentiment, label, is_question, "
            "is_complaint, topics FROM mentions ORDER BY id"
        ).all()
        matches = conn.exec_driver_sql(
            "SELECT mention_id, query_id FROM mention_matches ORDER BY mention_id, query_id"
        ).all()
    return [*mentions, *matches]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=14_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of end to end and VADER, alternating"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=parallel.default_workers(),
        help="enrichment worker processes of the pool path (default: the cores)",
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
    t_old, t_e2e, t_pool, t_vader = inf, inf, inf, inf
    loads = [os.getloadavg()[0]]
    reference: list[object] | None = None
    for rep in range(max(1, args.repeat)):
        for workers in (args.workers, 1):
            if rep == 0 and workers == 1:
                with tempfile.TemporaryDirectory() as tmp:
                    engine = fresh_store(tmp, queries)
                    cues._word_topic.clear()
                    t_old = per_post_path(engine, texts, qs, args.batch)
                    engine.dispose()
            with tempfile.TemporaryDirectory() as tmp:
                engine = fresh_store(tmp, queries)
                cues._word_topic.clear()
                timing = batch_path(engine, texts, qs, args.batch, workers)
                stored = stored_rows(engine)
                if reference is None:
                    reference = stored
                assert stored == reference, "the pool path must store what one process stores"
                if workers == 1:
                    t_e2e = best(t_e2e, timing)
                else:
                    t_pool = best(t_pool, timing)
                engine.dispose()
        t_vader = best(t_vader, timed(lambda: [vader.polarity_scores(x) for x in sample]))
        loads.append(os.getloadavg()[0])
    parallel.shutdown()
    load = max(loads)
    langs = Counter(r.language for r in results)
    n = len(texts)

    print(
        f"{n:,} posts ({len(set(texts)):,} distinct, it/en interleaved), {len(queries)} "
        f"queries, {hits:,} matches; languages {dict(langs)}; load average (1 min) "
        f"{min(loads):.1f}-{load:.1f} during the runs on {os.cpu_count()} cores"
    )
    print()
    print("| what | posts/s (wall) | posts per CPU-second | CPU µs per post |")
    print("|---|---|---|---|")
    rows = [
        (
            f"**end to end, pool path**: service.ingest, enrichment in {args.workers} worker "
            "processes, the store in this one (SQLite); CPU of all the processes",
            t_pool,
            n,
        ),
        (
            "end to end, single process: service.ingest (analyse_many + parse + 100 queries "
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
        print(f"| {what} | {rate(count, wall)} | {rate(count, cpu)} | {cpu / count * 1e6:.0f} |")
    print()
    e2e_cpu = n / t_e2e[1]
    vader_cpu = len(sample) / t_vader[1]
    vader_wall = len(sample) / t_vader[0]
    print(
        f"End to end against the VADER baseline: pool path {n / t_pool[0] / vader_wall:.2f}x and "
        f"single process {n / t_e2e[0] / vader_wall:.2f}x VADER's wall rate; per CPU-second "
        f"single process {e2e_cpu / vader_cpu:.2f}x and pool path "
        f"{n / t_pool[1] / vader_cpu:.2f}x, while doing language, cues, topics, 100 queries "
        "and the store as well. Pool path against single process, wall: "
        f"{t_e2e[0] / t_pool[0]:.2f}x."
    )
    print(
        "Goal: >= 10,000 posts/s end to end. On a shared machine the wall figures fall with "
        "the load; CPU-seconds are what this process spent (the pool path: with its workers')."
    )


if __name__ == "__main__":
    main()
