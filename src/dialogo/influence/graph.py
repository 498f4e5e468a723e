"""Directed influence graphs as arrays, and reading them from edge-list files.

An arc ``u → v`` with probability ``p`` means: when ``u`` becomes active it activates ``v`` with
probability ``p`` (independent cascade), or ``p`` is the weight of ``u`` in ``v``'s threshold
(linear threshold; the weights into one node must sum to at most 1). The graph keeps two CSR
indexes: the in-arcs of each node (for reverse-reachable sets) and the out-arcs (for forward
simulation). Everything here is pure: no session, no network.
"""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


class GraphFormatError(ValueError):
    """A malformed graph file, with the 1-based line number of the first problem."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclasses.dataclass(frozen=True, eq=False)
class InfluenceGraph:
    """Arcs with probabilities and two CSR indexes.

    In-arcs of ``v``: ``in_src[in_indptr[v]:in_indptr[v+1]]`` with ``in_p`` alongside;
    ``in_uniform[v]`` is the common probability of all in-arcs of ``v`` when they share one
    (weighted cascade does), else -1. Out-arcs of ``u``: ``out_dst[out_indptr[u]:...]``, ``out_p``.
    """

    n: int
    in_indptr: NDArray[np.int64]
    in_src: NDArray[np.int32]
    in_p: NDArray[np.float64]
    in_uniform: NDArray[np.float64]
    out_indptr: NDArray[np.int64]
    out_dst: NDArray[np.int32]
    out_p: NDArray[np.float64]

    @property
    def m(self) -> int:
        return int(self.in_src.shape[0])

    @classmethod
    def from_arcs(
        cls,
        n: int,
        src: NDArray[np.integer],
        dst: NDArray[np.integer],
        p: NDArray[np.floating] | None = None,
    ) -> InfluenceGraph:
        """Build from parallel arrays; ``p=None`` means weighted cascade (1 / in-degree).
        Self-loops are dropped; duplicate arcs are kept only once (the first probability)."""
        s = np.asarray(src, dtype=np.int64)
        d = np.asarray(dst, dtype=np.int64)
        if s.shape != d.shape:
            raise ValueError("src and dst must have the same length")
        if s.size and (min(s.min(), d.min()) < 0 or max(s.max(), d.max()) >= n):
            raise ValueError("arc endpoint out of range")
        probs = None if p is None else np.asarray(p, dtype=np.float64)
        if probs is not None:
            if probs.shape != s.shape:
                raise ValueError("one probability per arc is needed")
            if probs.size and (np.isnan(probs).any() or probs.min() < 0 or probs.max() > 1):
                raise ValueError("probabilities must lie in [0, 1]")
        keep = s != d
        s, d = s[keep], d[keep]
        if probs is not None:
            probs = probs[keep]
        keys = d * n + s
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        first = np.ones(keys.size, dtype=np.bool_)
        if keys.size:
            first[1:] = keys[1:] != keys[:-1]
        order = order[first]
        s, d = s[order], d[order]
        in_degree = np.bincount(d, minlength=n)
        arc_p = 1.0 / in_degree[d] if probs is None else probs[order]
        in_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(in_degree, out=in_indptr[1:])
        # A node's in-arcs share one probability: min == max over its slice.
        uniform = np.full(n, -1.0)
        has = in_degree > 0
        if arc_p.size:
            starts = in_indptr[:-1][has]
            lo = np.minimum.reduceat(arc_p, starts)
            hi = np.maximum.reduceat(arc_p, starts)
            uniform[has] = np.where(lo == hi, lo, -1.0)
        out_order = np.argsort(s * n + d, kind="stable")
        out_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(s, minlength=n), out=out_indptr[1:])
        return cls(
            n=n,
            in_indptr=in_indptr,
            in_src=s.astype(np.int32),
            in_p=arc_p.astype(np.float64),
            in_uniform=uniform,
            out_indptr=out_indptr,
            out_dst=d[out_order].astype(np.int32),
            out_p=arc_p[out_order].astype(np.float64),
        )

    def in_degree(self) -> NDArray[np.int64]:
        return np.diff(self.in_indptr)

    def out_degree(self) -> NDArray[np.int64]:
        return np.diff(self.out_indptr)

    def arcs(self) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float64]]:
        """``(src, dst, p)`` in out-arc order."""
        src = np.repeat(np.arange(self.n, dtype=np.int32), self.out_degree())
        return src, self.out_dst, self.out_p

    def with_probabilities(self, p_in_order: NDArray[np.floating]) -> InfluenceGraph:
        """The same arcs with new probabilities given in in-arc order."""
        dst = np.repeat(np.arange(self.n, dtype=np.int64), self.in_degree())
        return InfluenceGraph.from_arcs(self.n, self.in_src, dst, p_in_order)


def parse_edge_list(data: bytes, *, weighted: bool = False) -> InfluenceGraph:
    """Parse ``n m`` then ``m`` lines ``u v`` (or ``u v p`` when ``weighted``), 0-based.

    Blank lines and lines starting with ``#`` are ignored. The first malformed line raises
    :class:`GraphFormatError` with its number; nothing is returned half-read.
    """
    columns = 3 if weighted else 2
    lines = data.split(b"\n")
    header_at = -1
    for index, raw in enumerate(lines):
        stripped = raw.strip()
        if stripped and not stripped.startswith(b"#"):
            header_at = index
            break
    if header_at < 0:
        raise GraphFormatError(1, "empty graph file: expected a header line 'n m'")
    header = lines[header_at].split()
    try:
        if len(header) != 2:
            raise ValueError
        n, m = int(header[0]), int(header[1])
        if n <= 0 or m < 0:
            raise ValueError
    except ValueError:
        raise GraphFormatError(
            header_at + 1, "the header must be two non-negative integers 'n m' with n > 0"
        ) from None
    body: list[bytes] = []
    line_numbers: list[int] = []
    for index in range(header_at + 1, len(lines)):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        if len(stripped.split()) != columns:
            raise GraphFormatError(
                index + 1, f"expected {columns} fields ('u v{' p' if weighted else ''}')"
            )
        body.append(stripped)
        line_numbers.append(index + 1)
    if len(body) != m:
        # Too many: the first arc beyond m; too few: the line where the next arc was due.
        at = line_numbers[m] if len(body) > m else (line_numbers or [header_at + 1])[-1] + 1
        raise GraphFormatError(at, f"the header announces {m} arcs, the file has {len(body)}")
    tokens = b" ".join(body).split()
    try:
        values = np.array(tokens, dtype=np.float64 if weighted else np.int64).reshape(-1, columns)
    except ValueError:
        for number, line in zip(line_numbers, body, strict=True):
            try:
                np.array(line.split(), dtype=np.float64 if weighted else np.int64)
            except ValueError:
                raise GraphFormatError(number, "fields must be numbers") from None
        raise  # pragma: no cover - the loop always finds the culprit
    ends = values[:, :2]
    if weighted and not np.array_equal(ends, np.floor(ends)):
        bad = int(np.flatnonzero((ends != np.floor(ends)).any(axis=1))[0])
        raise GraphFormatError(line_numbers[bad], "node ids must be integers")
    ids: NDArray[np.int64] = ends.astype(np.int64)
    out_of_range = ((ids < 0) | (ids >= n)).any(axis=1)
    if out_of_range.any():
        bad = int(np.flatnonzero(out_of_range)[0])
        raise GraphFormatError(line_numbers[bad], f"node id outside 0 … {n - 1}")
    probs: NDArray[np.float64] | None = None
    if weighted:
        probs = values[:, 2].astype(np.float64)
        wrong = ~((probs >= 0) & (probs <= 1))
        if wrong.any():
            bad = int(np.flatnonzero(wrong)[0])
            raise GraphFormatError(line_numbers[bad], "probability outside [0, 1]")
    return InfluenceGraph.from_arcs(n, ids[:, 0], ids[:, 1], probs)


def load_edge_list(path: str | Path, *, weighted: bool = False) -> InfluenceGraph:
    """Read a graph file (``.gz`` decompressed on the fly); see :func:`parse_edge_list`.
    Without a probability column the arcs get weighted-cascade probabilities."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    return parse_edge_list(data, weighted=weighted)
