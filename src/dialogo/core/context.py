"""What a boundary needs, built once from the settings and passed in: engine, sessions, clock."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dialogo.core.clock import Clock, SystemClock
from dialogo.core.config import Settings
from dialogo.core.db import make_engine, make_session_factory
from dialogo.providers.registry import ProviderRegistry


@dataclasses.dataclass
class AppContext:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    providers: ProviderRegistry = dataclasses.field(default_factory=ProviderRegistry)

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> AppContext:
        engine = make_engine(settings)
        providers = ProviderRegistry.from_entry_points(
            allow=settings.providers_allow or None,
            deny=settings.providers_deny,
            outbound=settings.outbound_policy,
        )
        return cls(
            settings, engine, make_session_factory(engine), clock or SystemClock(), providers
        )

    def dispose(self) -> None:
        self.engine.dispose()
