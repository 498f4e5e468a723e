"""Deadlines that stretch with the machine's load, for tests that wait on other processes.

On a loaded machine (CI runs the SQLite and PostgreSQL passes side by side, other jobs share
the cores) a worker subprocess takes many times longer to start than on an idle one, and a
fixed wait fails although nothing is wrong. A :class:`Deadline` counts time as an idle machine
would: each wall-clock second counts ``1 / slowness()`` of a second, where ``slowness`` is the
1-minute load average per CPU (at least 1). The waits still poll (they return as soon as what
they wait for happens) and still fail: the budget is spent at the idle machine's pace on an
idle machine, and never takes more than ``cap`` times its length in wall-clock time.

Imported by the worker processes too (``tests.worker_tasks``): standard library only.
"""

from __future__ import annotations

import os
import time

#: A wait never lasts longer than this many times its budget in wall-clock time.
CAP = 10.0


def slowness() -> float:
    """How many times slower than on an idle machine a process runs now: the 1-minute load
    average per CPU, at least 1 (1 where the platform has no load average)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not on Linux or macOS
        return 1.0
    return max(1.0, load / (os.cpu_count() or 1))


class Deadline:
    """``seconds`` of an idle machine's time from now (see the module's docstring)."""

    def __init__(self, seconds: float, *, cap: float = CAP) -> None:
        self.seconds = seconds
        self.started = self._last = time.monotonic()
        self._left = seconds
        self._hard = self.started + seconds * cap

    def expired(self) -> bool:
        now = time.monotonic()
        self._left -= (now - self._last) / slowness()
        self._last = now
        return self._left <= 0 or now >= self._hard

    def elapsed(self) -> float:
        """Wall-clock seconds since the deadline was set."""
        return time.monotonic() - self.started

    def describe(self) -> str:
        return (
            f"{self.elapsed():.1f} s (a budget of {self.seconds:g} s at an idle machine's pace;"
            f" load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
