"""Ground truth on disk: the files ``dialogo sandbox truth --out DIR`` writes, and a reader.

The evaluation of segments, best time, advocates and sentiment reads these files (with
:func:`read_truth` or any CSV/JSON reader) and compares what Dialogo found with what is true.
People and messages are named by the ids the sandbox provider hands to the application
(``Author.remote_id`` = ``u<person>``, ``InboundMessage.remote_id`` = the message id), so rows
stored by the inbox or the audience domain can be joined to the truth directly.

Files (CSV with a header row, UTF-8; see :data:`README`):

``world.json``
    :func:`dialogo.simulation.truth.ground_truth` without the graph: configuration, segments
    (planted receptiveness, expected like rates, online probability by local hour of week),
    brands, follow-up behaviour.
``receptive_segments.csv``
    ``topic, rank, segment, expected_like_rate, receptiveness, receptive``: for each topic the
    segments from the most to the least receptive (rank 1 = most); ``receptive`` is 1 when the
    planted multiplier is above 1 (the segment really responds more to that topic).
``best_hours.csv``
    ``segment, weekday, best_post_hour, peak_online_hour, timezone``: per segment and day of
    the week (0 = Monday), the local hour at which a post reaches most of the segment, and the
    local hour with most members online.
``people.csv``
    ``person, remote_id, handle, segment, age_band, sex, region, place, country, followers``.
``influence_edges.csv``
    ``source, target, source_remote_id, target_remote_id, p``: the follower graph with the true
    independent-cascade probability that ``target`` reshares what ``source`` shared (``target``
    follows ``source``).
``messages.csv``
    ``id, at, author, author_remote_id, kind, brand, language, sentiment, sentiment_score,
    topic, intent, aspect, expects_answer, followup, conversation_id, in_reply_to``: every
    message of the simulated history (people's posts, mentions, comments, direct messages,
    replies) with its true labels; ``sentiment`` is ``neg``/``neu``/``pos``,
    ``sentiment_score`` -1/0/1. Follow-ups after the history's end depend on how the team
    answers, so they are not in the file (the sandbox gives them in ``raw["truth"]``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.events import Message
from dialogo.simulation.rhythms import best_post_hours
from dialogo.simulation.taxonomy import AGE_BANDS, PLACES, SEXES
from dialogo.simulation.truth import expected_like_rates, ground_truth

if TYPE_CHECKING:
    from dialogo.simulation.world import World

FILES = (
    "README.md",
    "world.json",
    "receptive_segments.csv",
    "best_hours.csv",
    "people.csv",
    "influence_edges.csv",
    "messages.csv",
)
MESSAGE_COLUMNS = (
    "id",
    "at",
    "author",
    "author_remote_id",
    "kind",
    "brand",
    "language",
    "sentiment",
    "sentiment_score",
    "topic",
    "intent",
    "aspect",
    "expects_answer",
    "followup",
    "conversation_id",
    "in_reply_to",
)
_SCORE = {"neg": -1, "neu": 0, "pos": 1}
README = (__doc__ or "").split("Files (", 1)[1].split("\n", 1)[1]


def _write_csv(path: Path, header: tuple[str, ...], rows: Any) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def export_truth(world: World, out: Path, *, end: dt.datetime | None = None) -> dict[str, int]:
    """Write the files of the module docstring into ``out`` (created if needed; files of
    the same names are replaced). Messages cover ``[config.start, end)`` (default the end of
    the history). Returns the number of rows written per file."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = world.config
    pop = world.population
    counts: dict[str, int] = {}
    (out / "README.md").write_text(
        f"# Ground truth of the sandbox world (seed {cfg.seed}, {pop.size} people)\n\n"
        f"History {cfg.start.isoformat()} to {cfg.end.isoformat()}, time zone {cfg.timezone}.\n\n"
        + README,
        encoding="utf-8",
    )
    truth = ground_truth(world, influence=False)
    (out / "world.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    counts["world.json"] = 1

    keys = [s.key for s in cfg.segments]
    rates = expected_like_rates(world)
    topics = truth["topics"]

    def receptive_rows() -> Any:
        for t, topic in enumerate(topics):
            for rank, s in enumerate(np.argsort(-rates[:, t], kind="stable"), start=1):
                multiplier = cfg.segments[s].receptiveness_of(topic)
                yield (topic, rank, keys[s], f"{rates[s, t]:.6f}", multiplier, int(multiplier > 1))

    counts["receptive_segments.csv"] = _write_csv(
        out / "receptive_segments.csv",
        ("topic", "rank", "segment", "expected_like_rate", "receptiveness", "receptive"),
        receptive_rows(),
    )
    best = best_post_hours(
        world.online, cfg.behaviour.feed_decay_hours, cfg.behaviour.engagement_horizon_hours
    )
    by_day = world.online.reshape(len(keys), 7, 24).argmax(axis=2)
    counts["best_hours.csv"] = _write_csv(
        out / "best_hours.csv",
        ("segment", "weekday", "best_post_hour", "peak_online_hour", "timezone"),
        (
            (keys[s], d, int(best[s, d]), int(by_day[s, d]), cfg.timezone)
            for s in range(len(keys))
            for d in range(7)
        ),
    )
    followers = world.graph.out_degree()
    counts["people.csv"] = _write_csv(
        out / "people.csv",
        (
            "person",
            "remote_id",
            "handle",
            "segment",
            "age_band",
            "sex",
            "region",
            "place",
            "country",
            "followers",
        ),
        (
            (
                i,
                pop.remote_id(i),
                pop.handle(i),
                keys[int(pop.segment[i])],
                AGE_BANDS[int(pop.age_band[i])],
                SEXES[int(pop.sex[i])],
                PLACES[int(pop.place[i])].region,
                PLACES[int(pop.place[i])].name,
                PLACES[int(pop.place[i])].country,
                int(followers[i]),
            )
            for i in range(pop.size)
        ),
    )
    src, dst = world.graph.src, world.graph.dst
    p = world.influence
    counts["influence_edges.csv"] = _write_csv(
        out / "influence_edges.csv",
        ("source", "target", "source_remote_id", "target_remote_id", "p"),
        (
            (int(a), int(b), f"u{int(a)}", f"u{int(b)}", f"{float(q):.6g}")
            for a, b, q in zip(src, dst, p, strict=True)
        ),
    )

    def message_rows() -> Any:
        for event in world.events(cfg.start, end or cfg.end):
            if not isinstance(event, Message):
                continue
            yield (
                event.id,
                event.at.isoformat(),
                event.author,
                pop.remote_id(event.author),
                event.kind,
                event.brand or "",
                event.language,
                event.sentiment,
                _SCORE[event.sentiment],
                event.topic,
                event.intent,
                event.aspect or "",
                int(event.expects_answer),
                event.followup or "",
                event.conversation_id,
                event.in_reply_to or "",
            )

    counts["messages.csv"] = _write_csv(out / "messages.csv", MESSAGE_COLUMNS, message_rows())
    return counts


# --- reading back ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TruthFiles:
    world: dict[str, Any]
    receptive: dict[str, list[str]]  # topic → segment keys, most receptive first
    receptive_pairs: frozenset[tuple[str, str]]  # (topic, segment) with a planted lift
    best_hours: dict[str, list[int]]  # segment → best local posting hour per weekday (Mon=0)
    people: list[dict[str, str]]
    segment_of: dict[str, str]  # remote id → segment key
    edges_source: NDArray[np.int64]
    edges_target: NDArray[np.int64]
    edges_p: NDArray[np.float64]
    messages: list[dict[str, str]]

    def sentiment_of(self) -> dict[str, int]:
        """Message remote id → true sentiment score (-1, 0, 1)."""
        return {m["id"]: int(m["sentiment_score"]) for m in self.messages}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def read_truth(directory: Path) -> TruthFiles:
    """Read the files :func:`export_truth` wrote (``FileNotFoundError`` naming a missing one)."""
    for name in FILES:
        if not (directory / name).exists():
            raise FileNotFoundError(f"{directory / name} is missing: not a ground-truth folder")
    receptive: dict[str, list[str]] = {}
    pairs = set()
    for row in sorted(
        _read_csv(directory / "receptive_segments.csv"), key=lambda r: int(r["rank"])
    ):
        receptive.setdefault(row["topic"], []).append(row["segment"])
        if row["receptive"] == "1":
            pairs.add((row["topic"], row["segment"]))
    best: dict[str, list[int]] = {}
    for row in sorted(_read_csv(directory / "best_hours.csv"), key=lambda r: int(r["weekday"])):
        best.setdefault(row["segment"], []).append(int(row["best_post_hour"]))
    people = _read_csv(directory / "people.csv")
    edges = _read_csv(directory / "influence_edges.csv")
    return TruthFiles(
        world=json.loads((directory / "world.json").read_text(encoding="utf-8")),
        receptive=receptive,
        receptive_pairs=frozenset(pairs),
        best_hours=best,
        people=people,
        segment_of={p["remote_id"]: p["segment"] for p in people},
        edges_source=np.array([int(e["source"]) for e in edges], dtype=np.int64),
        edges_target=np.array([int(e["target"]) for e in edges], dtype=np.int64),
        edges_p=np.array([float(e["p"]) for e in edges], dtype=np.float64),
        messages=_read_csv(directory / "messages.csv"),
    )
