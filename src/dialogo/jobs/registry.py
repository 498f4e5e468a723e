"""Tasks: domains register job handlers with the ``@task`` decorator in their ``tasks.py``.

Third-party packages add tasks through the ``dialogo.tasks`` entry-point group (a module to
import). A task may declare ``every=`` to run periodically; the worker keeps exactly one
occurrence queued per period.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from dialogo.core.clock import Clock
    from dialogo.core.config import Settings

# The domains' task modules; each registers its handlers on import.
BUILTIN_TASK_MODULES = (
    "dialogo.accounts.tasks",
    "dialogo.channels.tasks",
    "dialogo.publishing.tasks",
    "dialogo.publishing.automation",
    "dialogo.inbox.tasks",
    "dialogo.listening.tasks",
    "dialogo.analytics.tasks",
)


@dataclasses.dataclass
class JobContext:
    """What a handler gets besides its payload. ``session`` is the job's unit of work: it is
    committed together with the job's completion, or rolled back with it."""

    session: Session
    settings: Settings
    clock: Clock
    job_id: int
    attempt: int
    workspace_id: int | None


Handler = Callable[[JobContext, dict[str, Any]], dict[str, Any] | None]


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    name: str
    handler: Handler
    max_attempts: int | None = None
    every: dt.timedelta | None = None


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: dict[str, TaskSpec] = {}

    def task(
        self, name: str, *, max_attempts: int | None = None, every: dt.timedelta | None = None
    ) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            existing = self._tasks.get(name)
            if existing is not None and existing.handler is not handler:
                raise ValueError(f"task {name!r} is registered twice")
            self._tasks[name] = TaskSpec(name, handler, max_attempts, every)
            return handler

        return decorator

    def get(self, name: str) -> TaskSpec | None:
        return self._tasks.get(name)

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def periodic(self) -> list[TaskSpec]:
        return [spec for spec in self._tasks.values() if spec.every is not None]

    def load(self, extra_modules: Iterable[str] = ()) -> None:
        for module in (*BUILTIN_TASK_MODULES, *extra_modules):
            importlib.import_module(module)
        for ep in entry_points(group="dialogo.tasks"):
            importlib.import_module(ep.value)


registry = TaskRegistry()
task = registry.task
