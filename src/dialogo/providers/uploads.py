"""Media uploads that outlive a lease: the part budget and the checkpoint of a resumable upload.

A large video on a slow link cannot be sent within one request deadline (two thirds of the
dispatcher's lease, :mod:`dialogo.providers.deadline`). X's chunked upload (``APPEND`` of a
``segment_index``) and LinkedIn's Videos API (a ``PUT`` per part's upload URL, its ``ETag``
kept) both let an upload pause and go on later: X documents that "uploads can be paused and
resumed" and "file chunks can be retried individually"; a LinkedIn part is a ``PUT`` to its own
URL, which replaces whatever was sent there. So a provider sends parts while
:class:`PartBudget` says the next one fits, and then answers an ``uploading`` result whose
state is the *checkpoint*: the network's upload session and the next part. The dispatcher
stores it on the variant (``pending_state``), releases the lease without counting an attempt,
and the next lease calls :meth:`~dialogo.providers.base.Provider.resume_upload` with it.

- A part sent but not recorded (the worker died after sending it, before the lease's outcome
  was written) is sent again from the checkpoint: both networks take a part twice.
- A lease that sends nothing (not even the first part fits, or only the final request was
  left and it does not fit) raises :class:`TransientError`, which *does* count as an attempt:
  an upload that makes no progress ends by the retry budget, never loops for ever.
- A provider error in the middle of an upload carries the checkpoint (``details["upload"]``,
  :func:`keep`), so a 429 or a 5xx costs its wait and an attempt but not the parts sent.
- The post is still created only by ``finalise``: an upload never posts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from dialogo.providers import deadline as deadlines
from dialogo.providers.errors import InvalidPayload, ProviderError, TransientError

log = logging.getLogger("dialogo.providers")
T = TypeVar("T")

#: What the last requests of an upload need after its parts (X's ``FINALIZE``, LinkedIn's
#: ``finalizeUpload``): a part is only started with this much left after it.
FINAL_RESERVE = 3.0
#: A part is only started with at least this long left for it (before any part was timed).
MIN_PART_SECONDS = 2.0
#: A part is assumed to take up to this many times the slowest part of this lease.
SAFETY = 1.25
#: A network's upload session this close to its expiry is not resumed: a new one is begun.
EXPIRY_MARGIN = dt.timedelta(minutes=10)
#: The key of the checkpoint in a provider error's details.
DETAIL = "upload"


class PartBudget:
    """Whether another part of an upload fits before the current request deadline.

    Each part is timed by the deadline's own clock (:func:`deadline.remaining` before and
    after), so the guess follows the link's real speed in this lease."""

    def __init__(self) -> None:
        self.sent = 0
        self.slowest = 0.0

    def fits(self, *, final: bool = False) -> bool:
        """Whether a part (``final``: only the closing request) can start now."""
        left = deadlines.remaining()
        if left is None:
            return True
        if final:
            return left >= FINAL_RESERVE
        return left >= max(self.slowest * SAFETY, MIN_PART_SECONDS) + FINAL_RESERVE

    @contextlib.contextmanager
    def part(self) -> Iterator[None]:
        before = deadlines.remaining()
        yield
        after = deadlines.remaining()
        if before is not None and after is not None:
            self.slowest = max(self.slowest, before - after)
        self.sent += 1

    def pause(self, network: str, checkpoint: Mapping[str, str]) -> None:
        """The lease ends here: fine after some progress; after none, an error that counts."""
        if self.sent == 0:
            error = TransientError(
                f"no part of the video could be sent to {network} before this attempt's "
                "deadline (the link is too slow for one part, or the attempt started late)",
                network=network,
            )
            keep(error, checkpoint)
            raise error


def keep(exc: ProviderError, checkpoint: Mapping[str, str]) -> None:
    """Attach the upload's checkpoint to an error raised in its middle (see the module)."""
    exc.details.setdefault(DETAIL, dict(checkpoint))


def checkpoint_of(exc: ProviderError) -> dict[str, str] | None:
    found: Any = exc.details.get(DETAIL)
    if not isinstance(found, dict):
        return None
    return {str(k): str(v) for k, v in found.items()}


def expires_at(seconds: float | None, *, now: dt.datetime | None = None) -> str:
    """The moment a session lasting ``seconds`` from now ends (ISO), ``""`` when unknown."""
    if seconds is None:
        return ""
    return ((now or dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=seconds)).isoformat()


def usable(
    checkpoint: Mapping[str, str] | None,
    *,
    key: str,
    size: int,
    now: dt.datetime | None = None,
) -> bool:
    """Whether ``checkpoint`` is an upload session (``key`` set) for a file of ``size`` bytes
    that does not expire within :data:`EXPIRY_MARGIN`."""
    if not checkpoint or not checkpoint.get(key) or checkpoint.get("total_bytes") != str(size):
        return False
    ends = checkpoint.get("expires_at") or ""
    if not ends:
        return True
    try:
        moment = dt.datetime.fromisoformat(ends)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment - EXPIRY_MARGIN > (now or dt.datetime.now(dt.UTC))


def resume(
    checkpoint: Mapping[str, str] | None,
    *,
    network: str,
    key: str,
    size: int,
    begin: Callable[[], dict[str, str]],
    send: Callable[[dict[str, str], PartBudget], T],
) -> tuple[dict[str, str], T]:
    """Run an upload from ``checkpoint`` when it is :func:`usable` (else from a session
    ``begin`` opens): ``send`` sends the parts left while they fit and closes the upload, and
    may change the session in place (it is the next checkpoint). A resumed session the
    network refuses (:class:`InvalidPayload`: it expired, or the network lost it) is begun
    again once; any other provider error carries the checkpoint (:func:`keep`)."""
    resumed = usable(checkpoint, key=key, size=size)
    session = dict(checkpoint) if resumed and checkpoint else begin()
    budget = PartBudget()
    while True:
        try:
            return session, send(session, budget)
        except InvalidPayload as exc:
            if not resumed:
                raise
            log.info(
                "%s: upload %s refused on resume (%s): begun again", network, session.get(key), exc
            )
            resumed = False
            session = begin()
        except ProviderError as exc:
            keep(exc, session)
            raise
