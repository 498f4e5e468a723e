"""Messages a network pushed (a signed webhook) into the inbox, whichever network sent them.

The webhook parsers (``providers/*/webhook.py``) give the messages, each with the account it is
addressed to, and the parts they could not read. The messages addressed to the channel go
through the same ingest as polling (one row per remote message, so a message that also comes
by the next poll is stored once); the others, and every unreadable part, go to the quarantine
with the reason, so nothing is dropped silently. The ingest cursor is not touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy.orm import Session

from dialogo.channels.models import Channel
from dialogo.inbox import ingest
from dialogo.providers.base import InboundMessage


class Problem(Protocol):
    @property
    def where(self) -> str: ...

    @property
    def reason(self) -> str: ...


def store_pushed(
    session: Session,
    channel: Channel,
    messages: Sequence[tuple[str, InboundMessage]],
    problems: Sequence[Problem],
    *,
    accepts: Callable[[str], bool],
    foreign: Callable[[str], str],
    source: str,
    now: dt.datetime,
    prepare: Callable[[list[InboundMessage]], list[InboundMessage]] | None = None,
) -> ingest.IngestReport:
    """Store the ``(addressee, message)`` pairs ``accepts`` takes; quarantine the others with
    ``foreign(addressee)`` as the reason, and each problem as "``source``, where: reason".
    ``prepare`` may rework the accepted messages (threading) before they are stored. Flushes;
    the caller commits."""
    ours = []
    for to, message in messages:
        if accepts(to):
            ours.append(message)
        else:
            ingest.quarantine(session, channel, message, foreign(to), now=now)
    for problem in problems:
        reason = f"{source}, {problem.where}: {problem.reason}"
        ingest.quarantine(session, channel, problem, reason, now=now)
    report = ingest.store_messages(session, channel, prepare(ours) if prepare else ours, now=now)
    report.quarantined += len(problems) + (len(messages) - len(ours))
    session.flush()
    return report
