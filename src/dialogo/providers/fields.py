"""Reading values out of a network's JSON answer defensively: a field of the wrong type or
missing is ``None`` (or empty), never an exception, so one odd item cannot break a page of
messages. Shared by the providers that parse JSON themselves (X and Meta's networks, LinkedIn).
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def text(value: Any) -> str | None:
    """A non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def integer(value: Any) -> int | None:
    """An integer (a JSON ``true`` is not one), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def identifier(value: Any) -> str | None:
    """An id: networks send them as strings, and sometimes as numbers."""
    number = integer(value)
    return str(number) if number is not None else text(value)


def mapping(value: Any) -> dict[str, Any]:
    """A JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def timestamp(value: Any) -> dt.datetime | None:
    """An aware UTC time from ISO 8601 (``…Z``) or Meta's ``2026-11-22T18:04:11+0000``."""
    raw = text(value)
    if raw is None:
        return None
    try:
        when = dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    return when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
