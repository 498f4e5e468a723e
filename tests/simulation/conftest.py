"""Shared worlds for the simulation tests: small enough to build in well under a second.

These tests touch no database, so the PostgreSQL pass of ``scripts/test`` skips them (see
``tests/conftest.py``); the SQLite pass runs them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dialogo.simulation import Event, World, WorldConfig

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2] / "shared" / "data"
GRAPHS = DATA / "graphs"


@pytest.fixture(scope="session")
def world() -> World:
    return World(WorldConfig(seed=11, population=4_000))


@pytest.fixture(scope="session")
def week(world: World) -> list[Event]:
    start = world.config.start
    return list(world.events(start, start + dt.timedelta(days=7)))


def graph_file(name: str) -> Path:
    path = GRAPHS / f"{name}.txt.gz"
    if not path.exists():
        pytest.skip(f"{path} is absent (real data sets live in ../shared/data)")
    return path
