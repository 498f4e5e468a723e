"""The bulk store of ingested mentions and their matches, at the DB-API driver.

SQLAlchemy's per-row parameter handling cost as much as the sentiment analysis, so the rows go
as tuples to the driver's ``executemany`` of one prepared INSERT per table and chunk, each value
converted by its column type's own bind processor for the dialect (stored exactly as through
the ORM); for the columns whose values repeat (flags, the batch's time, topics, emotions) each
distinct value is converted (a JSON list serialised) once per chunk.

A row another transaction stored meanwhile (two ingests of the same post at once: each saw it
missing before either stored it) is skipped, with its matches (that transaction links them),
rather than failing the whole batch on the unique (workspace, channel, remote id) key: the
INSERT says ``ON CONFLICT (workspace_id, channel, remote_id) DO NOTHING`` on SQLite and
PostgreSQL. On PostgreSQL the rows go in key order, so two transactions inserting overlapping
batches take the key's locks in the same order (one waits for the other, neither deadlocks).

The new mentions' ids come without reading the rows back where the backend allows:

- SQLite: an executemany inside the transaction (which holds the write lock from its first
  INSERT) gives each row the id one above the largest in use, in order (an INTEGER PRIMARY KEY
  without AUTOINCREMENT), so the ids are ``last_insert_rowid() - n + 1 … last_insert_rowid()``.
  The first and the last are checked against the unique (workspace, channel, remote id) key
  (two index look-ups); should either differ, the ids are read back. When the cursor's row
  count says some rows were skipped, the ids are read back for that chunk: the ``k`` rows
  inserted are those whose ids are the last ``k`` (``last_insert_rowid() - k + 1 …``), the
  others were there already.
- PostgreSQL (psycopg 3): ``INSERT … RETURNING id`` through ``executemany(returning=True)``,
  one result per row, in order (an empty one for a skipped row).
- Any other driver: a plain INSERT (no skipping), read back by the unique key, in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple, cast

from sqlalchemy import Connection, Dialect, Table, select
from sqlalchemy.orm import Session

from dialogo.listening.models import Mention, MentionMatch

INSERT_CHUNK: Final = 1_000  # rows per executemany

# The column order of the rows given to :func:`store_mentions`.
MENTION_COLUMNS: Final = (
    "workspace_id",
    "channel",
    "channel_id",
    "remote_id",
    "source",
    "author_handle",
    "author_name",
    "reach",
    "text",
    "url",
    "posted_at",
    "ingested_at",
    "language",
    "sentiment",
    "label",
    "is_question",
    "is_complaint",
    "topics",
    "emotions",
)
_CHANNEL: Final = MENTION_COLUMNS.index("channel")
_REMOTE_ID: Final = MENTION_COLUMNS.index("remote_id")
# Columns whose values repeat across a batch: converted once per distinct value.
_REPEATED: Final = frozenset({"ingested_at", "is_question", "is_complaint", "topics", "emotions"})
_LINK_COLUMNS: Final = ("mention_id", "query_id")

Rows = Sequence[Sequence[Any]]
# The unique key a concurrent ingest can collide on.
_KEY: Final = ("workspace_id", "channel", "remote_id")


class Stored(NamedTuple):
    mentions: int  # rows inserted (the others were stored meanwhile by another transaction)
    matches: int  # mention_matches rows inserted


def store_mentions(
    session: Session, workspace_id: int, rows: Rows, matches: Sequence[Sequence[int]]
) -> Stored:
    """Insert ``rows`` (tuples in :data:`MENTION_COLUMNS` order, all of ``workspace_id``, none
    stored as far as the caller saw) and a ``mention_matches`` row for each query id in
    ``matches[i]`` (row i's); a row another transaction stored meanwhile is skipped with its
    matches. Return how many mentions and matches were stored. In the session's transaction;
    nothing is committed."""
    if len(rows) != len(matches):
        raise ValueError(f"{len(rows)} mentions but {len(matches)} match lists")
    if not rows:
        return Stored(0, 0)
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name == "postgresql":
        # Key order: concurrent ingests of overlapping batches lock the key in the same order.
        order = sorted(range(len(rows)), key=lambda k: (rows[k][_CHANNEL], rows[k][_REMOTE_ID]))
        rows = [rows[k] for k in order]
        matches = [matches[k] for k in order]
    mentions = cast(Table, Mention.__table__)
    convert = _converter(mentions, MENTION_COLUMNS, dialect)
    insert = _insert_sql(mentions, MENTION_COLUMNS, dialect, skip_conflicts=_KEY)
    link = _insert_sql(cast(Table, MentionMatch.__table__), _LINK_COLUMNS, dialect)
    # The driver's own cursor, in the session's transaction (psycopg's executemany can return
    # rows; SQLAlchemy's would take tuples only and look at every row).
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    inserted = linked = 0
    try:
        for lo in range(0, len(rows), INSERT_CHUNK):
            part = rows[lo : lo + INSERT_CHUNK]
            ids = _insert_returning_ids(conn, cursor, insert, convert(part), workspace_id, part)
            pairs = [
                (mention_id, qid)
                for mention_id, matched in zip(ids, matches[lo : lo + INSERT_CHUNK], strict=True)
                if mention_id is not None
                for qid in matched
            ]
            if pairs:
                cursor.executemany(link, pairs)
            inserted += len(ids) - ids.count(None)
            linked += len(pairs)
    finally:
        cursor.close()
    return Stored(inserted, linked)


def _insert_returning_ids(
    conn: Connection,
    cursor: Any,
    sql: str,
    values: list[tuple[Any, ...]],
    workspace_id: int,
    rows: Rows,
) -> list[int | None]:
    """The ids of ``rows`` once inserted, in order; None for a row skipped (stored meanwhile)."""
    dialect = conn.dialect
    n = len(values)
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        cursor.executemany(sql + " RETURNING id", values, returning=True)
        ids: list[int | None] = []
        while True:
            found = cursor.fetchone()  # None: the row was skipped
            ids.append(None if found is None else int(found[0]))
            if not cursor.nextset():
                break
        if len(ids) != n:  # pragma: no cover - psycopg gives one result per parameter set
            raise RuntimeError(f"{n} mentions inserted but {len(ids)} results returned")
        return ids
    cursor.executemany(sql, values)
    if dialect.name == "sqlite":
        inserted = cursor.rowcount  # the rows of the executemany that were not skipped
        cursor.execute("SELECT last_insert_rowid()")
        last = int(cursor.fetchone()[0])
        if inserted == n:
            first = last - n + 1
            if (
                _id_of(conn, workspace_id, rows[0]) == first
                and _id_of(conn, workspace_id, rows[-1]) == last
            ):
                return list(range(first, last + 1))
        elif 0 <= inserted < n:
            # Some rows were there already: the consecutive ids are those of the ``inserted``
            # new ones (the last ids given out); the skipped rows have older ones.
            first = last - inserted + 1
            return [i if first <= i <= last else None for i in _read_back(conn, workspace_id, rows)]
    return list(_read_back(conn, workspace_id, rows))


def _id_of(conn: Connection, workspace_id: int, row: Sequence[Any]) -> int | None:
    t = cast(Table, Mention.__table__)
    return conn.scalar(
        select(t.c.id).where(
            t.c.workspace_id == workspace_id,
            t.c.channel == row[_CHANNEL],
            t.c.remote_id == row[_REMOTE_ID],
        )
    )


def _read_back(conn: Connection, workspace_id: int, rows: Rows) -> list[int]:
    """The ids of the just-inserted ``rows`` by their unique key (channel in the condition,
    so the look-ups use the whole (workspace, channel, remote id) index)."""
    t = cast(Table, Mention.__table__)
    id_of: dict[tuple[str, str], int] = {}
    for lo in range(0, len(rows), 500):
        part = rows[lo : lo + 500]
        for i, c, r in conn.execute(
            select(t.c.id, t.c.channel, t.c.remote_id).where(
                t.c.workspace_id == workspace_id,
                t.c.channel.in_(sorted({row[_CHANNEL] for row in part})),
                t.c.remote_id.in_([row[_REMOTE_ID] for row in part]),
            )
        ):
            id_of[(c, r)] = i
    return [id_of[(row[_CHANNEL], row[_REMOTE_ID])] for row in rows]


def _insert_sql(
    table: Table, columns: Sequence[str], dialect: Dialect, skip_conflicts: Sequence[str] = ()
) -> str:
    """``INSERT INTO table (columns) VALUES (…)`` in the driver's parameter style; the
    identifiers come from the table's metadata, quoted by the dialect. With
    ``skip_conflicts`` (a unique key's columns), on SQLite and PostgreSQL a row whose key is
    taken is skipped (``ON CONFLICT (…) DO NOTHING``)."""
    quote = dialect.identifier_preparer.quote
    style = dialect.paramstyle
    if style == "qmark":
        marks = ["?"] * len(columns)
    elif style == "numeric":
        marks = [f":{n}" for n in range(1, len(columns) + 1)]
    elif style in ("format", "pyformat"):
        marks = ["%s"] * len(columns)
    else:  # pragma: no cover - no supported driver uses named parameters
        raise RuntimeError(f"unsupported DBAPI paramstyle {style!r}")
    names = ", ".join(quote(c) for c in columns)
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join(marks)})"  # noqa: S608
    if skip_conflicts and dialect.name in ("sqlite", "postgresql"):
        sql += f" ON CONFLICT ({', '.join(quote(c) for c in skip_conflicts)}) DO NOTHING"
    return sql


def _converter(
    table: Table, columns: Sequence[str], dialect: Dialect
) -> Callable[[Rows], list[tuple[Any, ...]]]:
    """Rows (in ``columns`` order) → the driver's parameter tuples: each value through its
    column type's bind processor for ``dialect``, as SQLAlchemy would convert it; for the
    :data:`_REPEATED` columns (converted by value only) once per distinct value. Column by
    column, so the loops over the rows run in C (``zip``, ``map``)."""
    procs = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    converted = [
        (k, proc, columns[k] in _REPEATED) for k, proc in enumerate(procs) if proc is not None
    ]

    def run(rows: Rows) -> list[tuple[Any, ...]]:
        cols: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for k, proc, repeated in converted:
            col = cols[k]
            if repeated:
                try:
                    distinct = {x: proc(x) for x in set(col)}
                except TypeError:  # an unhashable value (a list): convert each
                    cols[k] = list(map(proc, col))
                else:
                    cols[k] = list(map(distinct.__getitem__, col))
            else:
                cols[k] = list(map(proc, col))
        return list(zip(*cols, strict=True))

    return run
