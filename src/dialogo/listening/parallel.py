"""The enrichment of ingested mentions (language, sentiment, cues, topics and the matching
queries), in process or, for large batches, in a pool of worker processes on every core.

Enrichment is a pure function of a mention's text, language hint, channel and author, and of
the workspace's queries, so a chunk of a batch can be enriched anywhere: :func:`enrich_chunks`
hands the chunks to the workers and gives their results back in input order as each arrives,
so the caller stores chunk k (in its one process and transaction) while the workers enrich the
chunks after it. The results are those of :func:`enrich` in this process, value for value.

- When: batches of at least :data:`POOL_MIN_POSTS` fresh mentions, and only with two workers
  or more (``DIALOGO_LISTENING_WORKERS``; default: the cores this process may use; 1: off).
  Smaller batches are enriched in process: starting a chunk in another process costs more
  than it saves there.
- The pool: one per process, started at its first large batch and reused (``spawn``: each
  worker is a fresh interpreter that loads the language and sentiment models itself, so no
  lock, thread or numba/sklearn state of the parent is copied into it).
- Failure: when a worker dies (killed, out of memory) or fails, that chunk and the ones after
  it are enriched in process instead, the broken pool is dropped and the next large batch
  starts a new one; nothing of the batch is lost and nothing is stored twice (the caller
  stores each chunk once, in order).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Final

from dialogo.listening.query import Document, QuerySet, prepare
from dialogo.nlp import analyse_many
from dialogo.nlp.text import word_runs

log = logging.getLogger("dialogo.listening")

POOL_MIN_POSTS: Final = 1_000  # fresh mentions in one batch before the pool is used
CHUNK_POSTS: Final = 250  # mentions per task: small enough to overlap with the store

#: What enrichment reads of a mention: text, language hint, channel, channel id, author handle.
Item = tuple[str, "str | None", str, "int | None", str]
#: What it gives: language, sentiment, label, is_question, is_complaint, topics, matched ids.
Enriched = tuple[str, float, str, bool, bool, tuple[str, ...], list[int]]


def document(
    text: str,
    language: str,
    channel: str,
    channel_id: int | None,
    author: str,
    normalised: tuple[str, list[str]] | None = None,
) -> Document:
    """The query document of a mention: ``prepare`` of its text, from the lowered text and
    tokens analyse_many handed out (``normalised``) where they give the same."""
    channels = [channel] + ([str(channel_id)] if channel_id else [])
    words = word_runs(normalised[1]) if normalised is not None else None
    return prepare(
        text,
        lang=language,
        author=author,
        channels=channels,
        lowered=normalised[0] if normalised is not None and words is not None else None,
        words=words,
    )


def enrich(items: Sequence[Item], queries: QuerySet) -> list[Enriched]:
    """Every item's analysis and the ids of the ``queries`` it matches, in this process."""
    # One normalised form per text: analyse_many's lower-cased text and tokens also give the
    # query document's words where nothing was cleaned away (word_runs; otherwise prepare
    # reads the text again), so the text is lower-cased and scanned once, not twice.
    normalised: list[tuple[str, list[str]] | None] = []
    analyses = analyse_many([i[0] for i in items], [i[1] for i in items], normalised=normalised)
    match = queries.match
    return [
        (
            a.language,
            a.sentiment,
            a.label,
            a.is_question,
            a.is_complaint,
            a.topics,
            match(document(text, a.language, channel, channel_id, author, norm)),
        )
        for (text, _, channel, channel_id, author), a, norm in zip(
            items, analyses, normalised, strict=True
        )
    ]


# --- the pool --------------------------------------------------------------------------------

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_ready: Any = None  # released by each worker once it has loaded the models
_warmed: ProcessPoolExecutor | None = None  # the pool warm() saw ready
_configured: int | None = None


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def workers() -> int:
    """How many worker processes a large batch uses: :func:`configure`'s value, else the
    ``DIALOGO_LISTENING_WORKERS`` setting, else :func:`default_workers`; below 2: no pool."""
    if _configured is not None:
        return _configured
    from dialogo.core.config import Settings

    setting = Settings().listening_workers
    return default_workers() if setting is None else setting


def configure(count: int | None) -> None:
    """Set the number of workers (None: back to the setting); a running pool of another size
    is shut down (the next large batch starts one of the new size)."""
    global _configured
    with _lock:
        _configured = count
        if _pool is not None and _pool_size != workers():
            _drop(_pool)


def shutdown() -> None:
    """Stop the pool's workers (a new pool starts at the next large batch)."""
    with _lock:
        if _pool is not None:
            _drop(_pool)


def _drop(pool: ProcessPoolExecutor) -> None:
    global _pool
    if _pool is pool:
        _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _get_pool() -> ProcessPoolExecutor | None:
    global _pool, _pool_size, _ready
    count = workers()
    if count < 2:
        return None
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")
            _ready = context.Semaphore(0)
            _pool = ProcessPoolExecutor(
                max_workers=count,
                mp_context=context,
                initializer=_warm_worker,
                initargs=(_ready,),
            )
            _pool_size = count
        return _pool


def warm(timeout: float = 120.0) -> int:
    """Start the pool now and wait until each worker has loaded the models (at most
    ``timeout`` seconds); return the number of workers (0: no pool)."""
    pool = _get_pool()
    if pool is None:
        return 0
    global _warmed
    if _warmed is not pool:
        for _ in range(_pool_size):  # each task may start a worker, up to the pool's size
            pool.submit(os.getpid)
        for _ in range(_pool_size):
            if _ready is None or not _ready.acquire(timeout=timeout):
                raise TimeoutError("the listening workers did not start")
        _warmed = pool
    return _pool_size


def worker_pids() -> list[int]:
    """The process ids of the running pool's workers (empty: none running)."""
    pool = _pool
    processes: dict[int, Any] = getattr(pool, "_processes", None) or {}
    return sorted(processes)


# --- in the workers --------------------------------------------------------------------------

_worker_sets: dict[tuple[tuple[int, str], ...], QuerySet] = {}


def _warm_worker(ready: Any) -> None:
    analyse_many(["warm up: the models load once per worker", "scaldare i modelli"])
    ready.release()


def _enrich_in_worker(items: Sequence[Item], sources: tuple[tuple[int, str], ...]) -> Any:
    queries = _worker_sets.get(sources)
    if queries is None:
        if len(_worker_sets) >= 8:  # a long-lived worker serves many workspaces
            _worker_sets.clear()
        queries = _worker_sets[sources] = QuerySet(dict(sources))
    return enrich(items, queries)


# --- batches ---------------------------------------------------------------------------------


def enrich_chunks(items: Sequence[Item], queries: QuerySet) -> Iterator[tuple[int, list[Enriched]]]:
    """``(offset, enrich(chunk))`` for consecutive chunks of ``items``, in order: one chunk
    in process for small batches, else :data:`CHUNK_POSTS` at a time from the pool (from the
    first chunk whose worker died or failed on, in process instead). A worker that hangs
    without dying is waited for (analysis is total and bounded: no I/O, at most
    ``nlp.text.MAX_CHARS`` of each text)."""
    pool = _get_pool() if len(items) >= POOL_MIN_POSTS else None
    if pool is None:
        yield 0, enrich(items, queries)
        return
    sources = queries.sources()
    starts = range(0, len(items), CHUNK_POSTS)
    futures: list[Future[Any]] = []
    try:
        for lo in starts:
            futures.append(pool.submit(_enrich_in_worker, items[lo : lo + CHUNK_POSTS], sources))
    except Exception as exc:  # a broken or shut-down pool refuses new work
        _fail(pool, exc)
    failed = len(futures) < len(starts)
    try:
        for k, lo in enumerate(starts):
            done: list[Enriched] | None = None
            if not failed:
                try:
                    done = futures[k].result()
                except Exception as exc:  # the worker died or failed: the rest in process
                    failed = True
                    _fail(pool, exc)
            yield lo, done if done is not None else enrich(items[lo : lo + CHUNK_POSTS], queries)
    finally:
        for f in futures:  # the caller stopped early (an error while storing), or a failure
            f.cancel()


def _fail(pool: ProcessPoolExecutor, exc: BaseException) -> None:
    log.warning("listening: the enrichment pool failed (%r); enriching in process", exc)
    with _lock:
        _drop(pool)
