"""What a boundary needs, built once from the settings and passed in: engine, sessions, clock."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dialogo.core.clock import Clock, SystemClock
from dialogo.core.config import Settings
from dialogo.core.db import make_engine, make_session_factory


@dataclasses.dataclass
class AppContext:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> AppContext:
        engine = make_engine(settings)
        return cls(settings, engine, make_session_factory(engine), clock or SystemClock())

    def dispose(self) -> None:
        self.engine.dispose()
