"""``World.keeping_days``: a reader that goes over a long stretch several times (the demo's
build) generates each day once while the block runs, gets the same events, and the cache goes
back to its usual bound afterwards."""

from __future__ import annotations

import datetime as dt

import pytest

from dialogo.simulation import World, WorldConfig, event_to_dict

START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
STRETCH = dt.timedelta(days=12)


def _counting(world: World, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    generated: list[int] = []
    original = world._generate_day

    def counted(day: int) -> object:
        generated.append(day)
        return original(day)

    monkeypatch.setattr(world, "_generate_day", counted)
    return generated


def _read(world: World) -> list[dict[str, object]]:
    """The stretch read the way a search cursor reads it: two-day pages."""
    out: list[dict[str, object]] = []
    at = START
    while at < START + STRETCH:
        out.extend(event_to_dict(e) for e in world.events(at, at + dt.timedelta(days=2)))
        at += dt.timedelta(days=2)
    return out


def test_keeping_days_generates_each_day_once_and_then_trims(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(WorldConfig(seed=3, population=1_500), cache_days=4)
    generated = _counting(world, monkeypatch)
    first = _read(world)
    once = len(generated)
    assert once == len(set(generated))  # consecutive pages share their days in a small cache
    assert _read(world) == first
    assert len(generated) > once  # a second pass regenerates what the small cache dropped

    generated.clear()
    with world.keeping_days(30):
        assert _read(world) == first
        assert len(generated) == len(set(generated))  # each day at most once
        again = len(generated)
        assert _read(world) == first  # second and third passes: nothing generated
        assert _read(world) == first
        assert len(generated) == again
    assert len(world._cache) == 4  # back to the usual bound


def test_nested_holds_keep_the_largest_until_the_last_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(WorldConfig(seed=3, population=1_500), cache_days=4)
    generated = _counting(world, monkeypatch)
    with world.keeping_days(30):
        with world.keeping_days(5):
            first = _read(world)
        count = len(generated)
        assert len(world._cache) > 5  # the outer hold still keeps everything
        assert _read(world) == first
        assert len(generated) == count
    assert len(world._cache) == 4
