"""The dispatcher: due variants are claimed in batches, published, and recorded in batches.

How a variant travels (every state is on the variant row, so nothing depends on a process):

- ``scheduled`` with ``due_at`` passed, ``queued`` (a retry after a transient error) or
  ``unconfirmed`` (a check is due) with ``next_attempt_at`` passed are *claimable*. A worker's
  lane claims up to :data:`PUBLISH_BATCH` of them in one short transaction (on PostgreSQL the
  claims' lock, then one statement: picks ``FOR UPDATE SKIP LOCKED``, caps, leases and the
  channels' rows, :data:`_CLAIM_PG`; on SQLite picks, then one guarded ``UPDATE``): they become
  ``unconfirmed`` with a lease (``lease_until``) and the claim's id (``claimed_by``). From then
  on the outcome *is* unknown until recorded, so a person cannot cancel a post mid-send.
- The provider calls happen with no transaction open. The outcomes of the whole batch are then
  recorded in one transaction, each row guarded by ``claimed_by`` (a claim that lost its lease
  records nothing), and the batch's posts are rolled up (post rows locked first, then
  variants, the service's order). On PostgreSQL that is two statements whatever the batch's
  size (posts locked and variants written from one JSON document, every status of the batch's
  posts read back, in one; posts and their audit entries written together), and id lists are
  bound as one array (``= ANY``), so every batch reuses the same SQL text. That transaction
  commits asynchronously on PostgreSQL (a crash that loses it leaves the claim's lease: the
  reconciliation path, :data:`_ASYNC_COMMIT`); the claim's commit stays synchronous.
- A worker that dies mid-send leaves variants ``unconfirmed`` with an expired lease. Claiming
  such a variant sets ``needs_check``: the network is asked for the account's recent posts
  (matching by the idempotency key it echoes, or by text) before anything is published again.
  The same happens after a lost answer (``OutcomeUnknown``), after :data:`RECONCILE_DELAY`.
  Networks that cannot list recent posts leave the variant ``unconfirmed`` for a person.
  A lane starts no send once a third of the lease has passed (the rest of its batch is
  released), and no request may outlive two thirds of it: every provider call runs under a
  request deadline (:mod:`dialogo.providers.deadline`) that refuses to start a request after
  it and caps each of a request's timeouts at the time left, so a live worker's lease never
  runs out while one of its requests is out, however slow the network or long the client's
  own HTTP timeout (a request held past the deadline is a lost answer, reconciled). The
  deadline is checked again just before the request's first byte is written, and a claim
  holds its variants a :data:`TAKEOVER_FENCE` longer than the lane's lease before another
  worker may take them over, so a worker frozen between its last check and its request
  cannot be overtaken by the takeover's check (the exact guarantee is at the constant).
- **Nothing lost.** A channel that needs re-authorisation is flagged and its variants wait in
  ``waiting_channel``; each tick moves them back to ``scheduled`` once the channel is OK.
  Invalid content fails with the network's reason and a notification; transient errors are
  retried (``queued``) after the network's ``Retry-After`` or an exponential backoff, up to
  :data:`PUBLISH_MAX_ATTEMPTS` attempts, then fail with a notification. A 429 closes a
  window on that channel: the rest of the lane's batch for it waits until the window ends
  (other lanes learn it from their own 429).
- **Per-app limits.** A network that says the *app* (the client id several channels share)
  is limited, or is nearly so (usage headers at 95 % and more), closes a window on the app:
  the rest of the batch's variants on the app's channels wait, the window is stored in
  ``app_rate_limits`` with the batch's outcomes, and every lane's claim skips the app's
  channels until it ends (:mod:`dialogo.channels.app_limits`). Nothing is failed or counted
  as an attempt for it.
- **Per-network cap.** At most ``caps[network]`` (default :data:`DEFAULT_NETWORK_CAP`)
  variants of one network are being sent at once (leased). On PostgreSQL claims take a
  transaction-level advisory lock so two lanes cannot both fill the last places; SQLite has
  one writer at a time anyway.
- **Media** are resolved when a batch is claimed (their rows, not their bytes) and read one
  variant at a time just before its publish (:class:`~dialogo.publishing.media.MediaSource`),
  each with a public signed URL for networks that fetch files themselves.
- **Slow media.** A publish that answers ``pending`` (a container still processing) leaves the
  variant ``queued`` with the network's state in ``pending_state`` — deliberately reusing
  ``queued``: nothing is on the network yet, so the post is ``publishing`` and may still be
  cancelled. Later passes call ``check_status`` (every :data:`PROCESSING_POLL` … doubling up
  to :data:`PROCESSING_POLL_CAP`; polls do not count as attempts) and, once ready,
  ``finalise``; the same container is resumed after a lost answer or a dead worker, never a
  second one made. ``InvalidPayload`` from the check fails the variant with the network's
  reason; a container still processing after :data:`PROCESSING_LIMIT` fails with that reason.
- **Uploads longer than a lease.** A provider whose media upload does not fit before the
  request deadline answers ``uploading`` with a checkpoint (the network's upload session and
  how far it got, :mod:`dialogo.providers.uploads`): the variant goes back to ``queued`` with
  it in ``pending_state`` (``uploading: true``), due at once and no attempt counted, and the
  next claim reads the media again and calls ``resume_upload`` from the checkpoint. A worker
  that dies mid-upload leaves the last recorded checkpoint: the parts it sent after it are
  sent again (both networks take a part twice). An error mid-upload keeps the checkpoint too.
  The post is still only made by ``finalise``.
- Posts whose status the batch changed get their webhook events
  (:func:`dialogo.publishing.webhooks.emit_status_changes`) in the same transaction.
- ``dispatch_round`` counts the variant's *rounds*: it moves on when an attempt's outcome
  became unknown (a lost answer, an expired lease) or when the variant resumes after its
  channel was fixed.

The job table runs it: the periodic ``publishing.dispatch`` tick resumes waiting variants and
keeps :data:`LANES` ``publishing.publish`` lane jobs queued when something is claimable
before the next tick; a lane publishes batches until nothing is claimable or its time budget
is spent (then it queues its successor).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import json
import logging
import time
import types
import typing
from collections import defaultdict
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring as _encode_string
from typing import Any, cast

import httpx
import psycopg
from sqlalchemy import (
    BigInteger,
    Boolean,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from dialogo.accounts.audit import get_actor
from dialogo.accounts.models import AuditEntry
from dialogo.channels import app_limits
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.clock import ensure_aware
from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job, JobStatus
from dialogo.notifications import service as notifications
from dialogo.providers import deadline as deadlines
from dialogo.providers import uploads
from dialogo.providers.base import (
    Credentials,
    Provider,
    PublishResult,
    RecentPosts,
    RemoteRef,
    made_at,
    new_http_client,
    takes_since,
)
from dialogo.providers.base import Draft as ProviderDraft
from dialogo.providers.base import Media as ProviderMedia
from dialogo.providers.errors import (
    Disconnected,
    InsufficientScopes,
    InvalidPayload,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
)
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing import webhooks
from dialogo.publishing.media import MediaFile, MediaSource, MissingMedia, files_for
from dialogo.publishing.models import Post, PostVariant, VariantStatus, WebhookEndpoint
from dialogo.publishing.service import post_status, refresh_post_status

log = logging.getLogger("dialogo.publishing")

PUBLISH_TASK = "publishing.publish"  # a lane: claims and publishes batches
DISPATCH_TASK = "publishing.dispatch"
#: Attempts (sends and checks) after which a variant fails (transient errors) or is left to a
#: person (unknown outcomes).
PUBLISH_MAX_ATTEMPTS = 8
#: A lane's own retries; its variants are protected by their leases, not by the job.
JOB_MAX_ATTEMPTS = 3
DEFAULT_NETWORK_CAP = 1000
#: Waiting variants one tick resumes at most.
DISPATCH_BATCH = 2000
#: Variants claimed, sent and recorded together. Larger batches were not faster (4 workers
#: on PostgreSQL, 20,000 posts, load average 17: 693 posts/s at 200, 491 at 500, 451 at
#: 1,000), and a batch must be sent within a third of the lease on a real network.
PUBLISH_BATCH = 200
#: Lane jobs kept queued while something is due (one per worker process is enough).
LANES = 4
#: A lane stops after this long and queues its successor, so other jobs get their turn.
LANE_BUDGET = dt.timedelta(seconds=20)
#: A lane that finds nothing due queues its successor for the next due variant if it is this
#: close (a steady stream of posts is not left to the next tick).
LOOKAHEAD = dt.timedelta(seconds=1)
#: The pause of a lane whose due variants are all held back (caps, rate-limit windows).
IDLE_PAUSE = dt.timedelta(milliseconds=250)
#: How long to wait before asking the network about a publish whose answer was lost (some
#: networks list a new post after a short delay).
RECONCILE_DELAY = dt.timedelta(seconds=5)
#: The takeover fence, in leases. A lane works within its lease (``worker_lease_seconds``):
#: it starts no send after a third of it and no request after two thirds (the request
#: deadline, checked last just before the request's first byte is written, with every phase's
#: timeout capped at the time left: :mod:`dialogo.providers.deadline`). Its claim, though,
#: holds the variants this many leases longer (:func:`claim_lease`): only then may another
#: worker take them over and ask the network (``needs_check``), so any request the first
#: worker started has landed on the network, or died, before that check looks.
#:
#: The guarantee, exactly: a post is published twice only if a worker is frozen
#: (descheduled, stopped, swapped out, a VM paused) for more than ``(1/3 + TAKEOVER_FENCE) ×
#: the lease`` between its request's last deadline check and the moment the network makes
#: the post (80 s with the default 60-s lease; 4 s in the chaos test's 3-s lease); the code
#: between that check and the first byte does no I/O and takes no lock. Clock skew between
#: the workers' hosts counts against it. The price: a dead worker's variants wait one lease
#: more before they are taken over (a live worker records within its lease, as before).
#: Before the fence a takeover asked the network as soon as the lease ended, a third of a
#: lease after the deadline; a worker stalled that long after its check (a load of 32 on
#: SQLite) published a post twice (the chaos test, ``chaos-225``; reproduced without load by
#: ``test_a_worker_frozen_after_its_last_check_past_its_lease_is_not_followed_by_a_repost``).
TAKEOVER_FENCE = 1.0
#: The posts a check first asks a provider for when it cannot ask back to a time (one
#: installed from elsewhere whose ``recent_posts`` takes no ``since``); then four times more.
RECENT_POSTS_LIMIT = 50
#: The most recent posts a check reads: asked at once, with ``since``, of a provider that
#: takes it (its paging stops at the attempt, or the skew before it), else the last of the
#: growing askings (:func:`_find_on_network`).
RECENT_POSTS_MAX = 1000
#: A post found on the network up to this long before the first attempt still matches.
CLOCK_SKEW = dt.timedelta(minutes=5)
#: Slow media: the first check of a pending container after this long, doubling up to the cap.
PROCESSING_POLL = dt.timedelta(seconds=10)
PROCESSING_POLL_CAP = dt.timedelta(minutes=5)
#: A container still processing after this long fails (Instagram's expire after 24 hours).
PROCESSING_LIMIT = dt.timedelta(hours=24)
# pg_advisory_xact_lock key of the claims. Kept: without it the caps could be overrun, and
# claims without it were no faster (4 workers, batches of 200, load average 17: 663 posts/s
# without, 693 with; the claim transaction is short, the rows' writes dominate).
_CLAIM_LOCK = 7_301_923_451

_QUEUED = VariantStatus.queued.value
_UNCONFIRMED = VariantStatus.unconfirmed.value
_SCHEDULED = VariantStatus.scheduled.value


def claim_lease(lease: dt.timedelta) -> dt.timedelta:
    """How long a lane's claim holds its variants: the lane's ``lease`` and the takeover
    fence after it (:data:`TAKEOVER_FENCE`)."""
    return lease * (1 + TAKEOVER_FENCE)


def _const(value: str) -> Any:
    """A status as an SQL literal, not a bound parameter: the claims' conditions must imply
    the partial indexes' predicates (migration 0018) in every plan, generic ones included (a
    prepared statement's generic plan cannot prove ``status = $1`` implies ``status =
    'scheduled'``)."""
    return literal_column(f"'{value}'")


# The partial indexes' predicates (``publishing.models``), as the claims write them.
_IS_SCHEDULED = PostVariant.status == _const(_SCHEDULED)
_IS_RETRY = and_(
    PostVariant.status.in_([_const(_QUEUED), _const(_UNCONFIRMED)]),
    PostVariant.lease_until.is_(None),
)
_IS_LEASED = and_(PostVariant.status == _const(_UNCONFIRMED), PostVariant.lease_until.is_not(None))
_claims = itertools.count(1)


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _json_text(column: Any, empty: str) -> Any:
    """A JSON column as its text, NULL when it is ``empty`` (most rows: nothing to decode)."""
    return func.nullif(sql_cast(column, Text), empty)


def _id_in(column: Any, ids: Sequence[int], pg: bool) -> Any:
    """``column IN (ids)``; on PostgreSQL ``column = ANY(:array)``: one bound array, so the
    statement's text is the same for every batch (no 200 placeholders compiled, sent and
    parsed each time: about a tenth of a lane's time in a profile on PostgreSQL)."""
    if pg:
        return column == any_(literal(list(ids), ARRAY(BigInteger)))
    return column.in_(list(ids))


@dataclasses.dataclass
class DispatchReport:
    resumed: int = 0
    lanes: int = 0  # lane jobs queued by this tick
    next_due: dt.datetime | None = None  # the earliest moment a variant becomes claimable

    def as_dict(self) -> dict[str, Any]:
        return {
            "resumed": self.resumed,
            "lanes": self.lanes,
            "next_due": self.next_due.isoformat() if self.next_due else None,
        }


# --- the periodic tick --------------------------------------------------------------------------


def dispatch_due(session: Session, *, now: dt.datetime, limit: int | None = None) -> DispatchReport:
    """Resume variants whose channel is OK again and say when the next claimable variant is
    due (the caller queues lanes for it)."""
    limit = DISPATCH_BATCH if limit is None else limit
    report = DispatchReport()
    waiting = session.scalars(
        select(PostVariant)
        .join(Channel, Channel.id == PostVariant.channel_id)
        .where(
            PostVariant.status == VariantStatus.waiting_channel.value,
            Channel.status == ChannelStatus.ok.value,
        )
        .with_for_update(of=PostVariant, skip_locked=True)
        .limit(limit)
    ).all()
    touched: set[int] = set()
    for variant in waiting:
        variant.status = _SCHEDULED
        variant.dispatch_round += 1
        variant.due_at = min(ensure_aware(variant.due_at or now), now)
        variant.updated_at = now
        touched.add(variant.post_id)
        report.resumed += 1
    session.flush()
    for post_id in sorted(touched):  # posts locked by others are rolled up by them
        post = session.scalar(
            select(Post)
            .where(Post.id == post_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if post is not None:
            _rollup(session, [post])
    report.next_due = next_due(session, now=now)
    session.flush()
    return report


def next_due(session: Session, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """The earliest moment a variant becomes claimable (three index look-ups). With ``now``,
    variants whose channel's app waits count from the end of the app's window (so lanes do
    not spin on posts held back for hours by an app limit)."""
    held: list[Any] = []
    window_end = app_limits.earliest_window_end(session, now) if now is not None else None
    if now is not None and window_end is not None:
        held.append(
            or_(
                PostVariant.channel_id.is_(None),
                PostVariant.channel_id.not_in(app_limits.limited_channels(now)),
            )
        )
    candidates = [
        session.scalar(select(func.min(PostVariant.due_at)).where(_IS_SCHEDULED, *held)),
        session.scalar(select(func.min(PostVariant.next_attempt_at)).where(_IS_RETRY, *held)),
        window_end,
        session.scalar(select(func.min(PostVariant.lease_until)).where(_IS_LEASED)),
    ]
    found = [ensure_aware(c) for c in candidates if c is not None]
    return min(found) if found else None


def lanes_to_start(session: Session, lanes: int) -> int:
    active = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(
            Job.task == PUBLISH_TASK,
            Job.status.in_((JobStatus.queued.value, JobStatus.running.value)),
        )
    )
    return max(0, lanes - int(active or 0))


def enqueue_lane(session: Session, run_at: dt.datetime) -> None:
    jobs.enqueue(session, PUBLISH_TASK, {}, run_at=run_at, max_attempts=JOB_MAX_ATTEMPTS)


# --- claiming -----------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Claimed:
    """A claimed variant and, once sent, its outcome (plain data: sent with no session;
    slotted: made for every variant claimed, its fields read and set all along a batch)."""

    id: int
    post_id: int
    workspace_id: int
    channel_id: int | None
    network: str
    text: str
    thread: list[Any]
    first_comment: str | None
    idempotency_key: str
    dispatch_round: int
    attempts: int
    needs_check: bool
    first_attempt_at: dt.datetime | None
    previous_status: str
    media: list[Any] = dataclasses.field(default_factory=list)  # library refs
    pending_state: dict[str, Any] | None = None  # slow media: the network's processing state
    files: list[MediaFile] = dataclasses.field(default_factory=list)  # set by attach_media
    media_error: str | None = None  # set by attach_media: why the media cannot be sent
    # the outcome
    status: str = "release"
    remote_id: str | None = None
    url: str | None = None
    thread_ids: list[Any] = dataclasses.field(default_factory=list)
    last_error: str | None = None
    # its type and the parameters of its sentence (``dialogo.publishing.reasons``)
    last_error_code: str | None = None
    last_error_params: dict[str, Any] | None = None
    next_attempt_at: dt.datetime | None = None
    published_at: dt.datetime | None = None
    notify: str | None = None  # notification kind to send when recorded
    comment_error: str | None = None

    def draft(self, media: Sequence[ProviderMedia] = ()) -> ProviderDraft:
        return ProviderDraft(
            text=self.text,
            media=tuple(media) if media else (),
            thread=tuple(ProviderDraft(text=str(t)) for t in self.thread) if self.thread else (),
            idempotency_key=self.idempotency_key,
        )


@dataclasses.dataclass
class Batch:
    claim_id: str
    variants: list[Claimed]
    # Filled by ``send``: channels to flag, credentials renewed while sending.
    channel_errors: dict[int, ProviderError] = dataclasses.field(default_factory=dict)
    renewed: dict[int, Credentials] = dataclasses.field(default_factory=dict)
    # The encrypted credentials each channel was sent with (what a renewal is swapped against).
    read: dict[int, str] = dataclasses.field(default_factory=dict)
    # What the networks said about the apps' limits (stored by ``record`` for every worker).
    app_notes: list[app_limits.Note] = dataclasses.field(default_factory=list)
    # The claimed variants' channels, when the claim read them (PostgreSQL).
    infos: dict[int, ChannelInfo] | None = None


def _claimable(now: dt.datetime) -> Any:
    v = PostVariant
    return or_(
        and_(v.status == _SCHEDULED, v.due_at <= now),
        and_(
            v.status.in_((_QUEUED, _UNCONFIRMED)),
            v.lease_until.is_(None),
            v.next_attempt_at <= now,
        ),
        and_(v.status == _UNCONFIRMED, v.lease_until < now),
    )


def claim_batch(
    session: Session,
    worker_id: str,
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int = PUBLISH_BATCH,
    caps: Mapping[str, int] | None = None,
    default_cap: int = DEFAULT_NETWORK_CAP,
    skip_channels: Sequence[int] = (),
    job_id: int | None = None,
    commit: bool = False,
) -> Batch:
    """Claim up to ``limit`` claimable variants (retries and checks first, then the earliest
    due), within the per-network caps. The claim must be committed before sending: by the
    caller, or here with ``commit`` (the session's transaction is committed with it; on
    PostgreSQL the claims' lock is then held only while the server runs the claim, see
    :func:`_claim_pg`)."""
    v = PostVariant
    pg = _is_pg(session)
    if pg:
        return _claim_pg(
            session,
            f"{worker_id}:{next(_claims)}"[-100:],
            now=now,
            lease=lease,
            limit=limit,
            caps=caps,
            default_cap=default_cap,
            skip_channels=skip_channels,
            job_id=job_id,
            commit=commit,
        )
    # Channels whose app is waiting (a network said the app is limited): one query.
    skip_channels = sorted({*skip_channels, *app_limits.limited_channel_ids(session, now)})
    in_flight = dict(
        session.execute(
            select(v.network, func.count())
            .where(_IS_LEASED, v.lease_until >= now)
            .group_by(v.network)
        ).all()
    )
    room = {n: (caps or {}).get(n, default_cap) - int(c) for n, c in in_flight.items()}
    full = [n for n, left in room.items() if left <= 0]

    def pick(where: list[Any], order: list[Any], n: int) -> list[Any]:
        if n <= 0:
            return []
        query = select(v.id, v.network, v.status).where(*where)
        if full:
            query = query.where(v.network.not_in(full))
        if skip_channels:
            query = query.where(v.channel_id.not_in(list(skip_channels)))
        query = query.order_by(*order).limit(n)
        if pg:
            query = query.with_for_update(skip_locked=True)
        return list(session.execute(query).all())

    rows = pick([_IS_RETRY, v.next_attempt_at <= now], [v.next_attempt_at, v.id], limit)
    rows += pick([_IS_LEASED, v.lease_until < now], [v.lease_until, v.id], limit - len(rows))
    rows += pick([_IS_SCHEDULED, v.due_at <= now], [v.due_at, v.id], limit - len(rows))
    chosen: dict[int, str] = {}
    for row in rows:
        left = room.get(row.network, (caps or {}).get(row.network, default_cap))
        if left <= 0 or row.id in chosen:
            continue
        room[row.network] = left - 1
        chosen[row.id] = row.status
    claim_id = f"{worker_id}:{next(_claims)}"[-100:]
    if not chosen:
        return Batch(claim_id, [])
    lost = v.lease_until.is_not(None)  # a previous claimant died: it may have sent
    # On PostgreSQL the picks locked the rows (``FOR UPDATE``, which re-checks their
    # conditions on the row's latest version), so the ids alone are the guard: with the
    # claimable conditions repeated here the planner matched them to the partial indexes and
    # read the whole due backlog's index for 200 ids (216 ms against 2 ms by primary key).
    guard = [] if pg else [_claimable(now)]
    stmt = (
        update(v)
        .where(_id_in(v.id, list(chosen), pg), *guard)
        .values(
            status=_UNCONFIRMED,
            lease_until=now + lease,
            claimed_by=claim_id,
            job_id=job_id,
            needs_check=case((lost, True), else_=v.needs_check),
            dispatch_round=case((lost, v.dispatch_round + 1), else_=v.dispatch_round),
            first_attempt_at=func.coalesce(v.first_attempt_at, now),
            updated_at=now,
        )
        .returning(
            v.id,
            v.post_id,
            v.workspace_id,
            v.channel_id,
            v.network,
            v.text,
            _json_text(v.thread, "[]").label("thread"),
            v.first_comment,
            v.idempotency_key,
            v.dispatch_round,
            v.attempts,
            v.needs_check,
            v.first_attempt_at,
            _json_text(v.media, "[]").label("media"),
            _json_text(v.pending_state, "null").label("pending_state"),
        )
        .execution_options(synchronize_session=False)
    )
    claimed = [
        Claimed(
            id=r.id,
            post_id=r.post_id,
            workspace_id=r.workspace_id,
            channel_id=r.channel_id,
            network=r.network,
            text=r.text,
            thread=json.loads(r.thread) if r.thread else [],
            first_comment=r.first_comment,
            idempotency_key=r.idempotency_key,
            dispatch_round=r.dispatch_round,
            attempts=r.attempts,
            needs_check=bool(r.needs_check),
            first_attempt_at=ensure_aware(r.first_attempt_at) if r.first_attempt_at else None,
            previous_status=chosen[r.id],
            media=json.loads(r.media) if r.media else [],
            pending_state=json.loads(r.pending_state) if r.pending_state else None,
        )
        # Core, not the ORM's bulk update (nothing in the session to synchronise).
        for r in session.connection().execute(stmt).all()
    ]
    claimed.sort(key=lambda c: c.id)
    if commit:
        session.commit()
    return Batch(claim_id, claimed)


# PostgreSQL: the claim in one statement after the claims' lock (which must be its own
# statement: a statement's snapshot is taken before it runs, so counting the variants in
# flight in the statement that waited for the lock would miss a claim committed meanwhile).
# The channels whose app waits, the variants in flight per network, the three picks (``FOR
# UPDATE SKIP LOCKED``, read lazily: a later pick is read only for the places the earlier
# ones left), the per-network caps (``row_number`` per network against the room left), the
# leases, and the claimed variants' channel rows: one round trip instead of eight (the lock,
# the app windows, the count in flight, three picks, the update, the channels). The channel
# rows are read in the claim's transaction as before, so a channel flagged meanwhile is seen.
# Plan traps found with ``EXPLAIN ANALYZE`` (20,000 due): the update joined to the picks was
# a nested loop reading 100 rows by primary key per pick (the picks' size is estimated as 1),
# so it reads ``v.id = ANY(ARRAY(SELECT …))`` alone (one index look-up per id); and the
# picks' exclusions written as ``network <> ALL(…)`` were estimated to keep no row (one
# network in the table), so the scheduled pick sorted the whole backlog instead of reading
# its index: they are one ``CASE … IS NOT NULL`` (estimated to keep nearly every row).
# It runs on its generic plan (:data:`_CLAIM_LOCK_SQL`), checked against both traps. Its
# update by ``ctid`` from the picks instead of by id (0.3 ms of a 4-ms claim, the primary
# key's look-ups) was left: a row updated after the statement's snapshot would be skipped by
# the TID scan, where the look-up by id follows the row's update chain to the locked version.
_PICK = (
    " SELECT v.id, v.network, v.status, {k} AS k, v.{at} AS at FROM post_variants AS v"
    " WHERE {where} AND (CASE WHEN v.channel_id = ANY(CAST((SELECT ids FROM skip) AS bigint[]))"
    " OR v.network = ANY(CAST((SELECT nets FROM full_nets) AS text[])) THEN NULL ELSE 1 END)"
    " IS NOT NULL"
    " ORDER BY v.{at}, v.id LIMIT :n FOR UPDATE OF v SKIP LOCKED"
)
_CAP = "coalesce(CAST(CAST(:caps AS jsonb) ->> {0}.network AS integer), :cap)"
_CLAIM_PG = text(
    "WITH skip AS MATERIALIZED (SELECT ARRAY(SELECT c.id FROM channels AS c"  # noqa: S608 - constants only
    " JOIN app_rate_limits AS a ON a.network = c.network AND a.app_id = c.app_key"
    " WHERE a.until > :now) || CAST(:skip AS bigint[]) AS ids),"
    " flight AS MATERIALIZED (SELECT f.network, count(*) AS n FROM post_variants AS f"
    " WHERE f.status = 'unconfirmed' AND f.lease_until IS NOT NULL"  # LEASED_WHERE
    " AND f.lease_until >= :now GROUP BY f.network),"
    f" full_nets AS MATERIALIZED (SELECT ARRAY(SELECT f.network FROM flight AS f"
    f" WHERE f.n >= {_CAP.format('f')}) AS nets),"
    " r AS ("
    + _PICK.format(
        k=0,
        at="next_attempt_at",
        where="v.status IN ('queued', 'unconfirmed') AND v.lease_until IS NULL"
        " AND v.next_attempt_at <= :now",
    )
    + "), l AS ("
    + _PICK.format(
        k=1,
        at="lease_until",
        where="v.status = 'unconfirmed' AND v.lease_until IS NOT NULL AND v.lease_until < :now",
    )
    + "), s AS ("
    + _PICK.format(k=2, at="due_at", where="v.status = 'scheduled' AND v.due_at <= :now")
    + "), picked AS (SELECT * FROM r UNION ALL SELECT * FROM l UNION ALL SELECT * FROM s"  # noqa: S608
    " LIMIT :n),"
    " chosen AS MATERIALIZED (SELECT p.id, p.status FROM (SELECT p.id, p.status,"
    " row_number() OVER (PARTITION BY p.network ORDER BY p.k, p.at, p.id) AS rn,"
    f" {_CAP.format('p')} - coalesce(f.n, 0) AS room"
    " FROM picked AS p LEFT JOIN flight AS f ON f.network = p.network) AS p"
    " WHERE p.rn <= p.room),"
    " upd AS (UPDATE post_variants AS v SET status = 'unconfirmed', lease_until = :until,"
    " claimed_by = :claim, job_id = :job,"
    " needs_check = v.needs_check OR v.lease_until IS NOT NULL,"
    " dispatch_round = v.dispatch_round + CASE WHEN v.lease_until IS NULL THEN 0 ELSE 1 END,"
    " first_attempt_at = coalesce(v.first_attempt_at, :now), updated_at = :now"
    " WHERE v.id = ANY(ARRAY(SELECT id FROM chosen))"
    " RETURNING v.id, v.post_id, v.workspace_id, v.channel_id, v.network, v.text,"
    " nullif(CAST(v.thread AS text), '[]') AS thread, v.first_comment, v.idempotency_key,"
    " v.dispatch_round, v.attempts, v.needs_check, v.first_attempt_at,"
    " nullif(CAST(v.media AS text), '[]') AS media,"
    " nullif(CAST(v.pending_state AS text), 'null') AS pending_state)"
    " SELECT upd.*, chosen.status AS previous_status, ch.network AS ch_network,"
    " ch.status AS ch_status, ch.status_reason AS ch_reason, ch.credentials AS ch_credentials,"
    " nullif(CAST(ch.config AS text), '{}') AS ch_config"  # most channels: nothing to decode
    " FROM upd JOIN chosen ON chosen.id = upd.id"
    " LEFT JOIN channels AS ch ON ch.id = upd.channel_id ORDER BY upd.id"
).bindparams(
    bindparam("skip", type_=ARRAY(BigInteger)),
    bindparam("job", type_=BigInteger),
)


# The claims' lock, and the claim's generic plan for this transaction only (``set_config``
# local: the connection's other statements keep the server's choice). psycopg prepares the
# claim after 5 executions, but the server kept planning it anew for each (custom plans: the
# generic one's estimates, a third of the due rows and a tenth of them for the ``LIMIT``, cost
# more than 200 rows), 0.8-1.7 ms per claim inside the claims' lock, more once ``:now`` lay
# beyond the histogram and the planner read the partial indexes' ends (dead entries of
# claimed rows). With ``pg_stat_statements`` (50,000 posts, 4 workers): 258 plans for 254
# claims before, 24 after (a connection's first executions, before psycopg prepares), 0.06 ms
# each. ``EXPLAIN EXECUTE`` of the generic plan, 100,000 due at one moment and 100 due (the
# rest due the next day, analysed): the picks read their partial indexes in order under their
# ``LIMIT`` (no sort of the backlog), the update reads the ids by primary key, as the custom
# plans do (2026-12-07, task "pubplan"). A generic plan is built again when the tables are
# analysed. The same statement on both paths below.
_CLAIM_LOCK_SQL = (
    "SELECT pg_advisory_xact_lock(%(k)s), set_config('plan_cache_mode', 'force_generic_plan', true)"
)


@functools.cache
def _claim_pg_sql(dialect: Dialect) -> str:
    """:data:`_CLAIM_PG` in psycopg's own parameter style, for the driver's pipeline."""
    return str(_CLAIM_PG.compile(dialect=dialect))


def _utc(value: dt.datetime) -> dt.datetime:
    """A timestamp read by the driver itself (in the connection's time zone) in UTC."""
    return ensure_aware(value).astimezone(dt.UTC)


def _claim_pg(
    session: Session,
    claim_id: str,
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
    caps: Mapping[str, int] | None,
    default_cap: int,
    skip_channels: Sequence[int],
    job_id: int | None,
    commit: bool,
) -> Batch:
    params = {
        "now": now,
        "until": now + lease,
        "claim": claim_id,
        "job": job_id,
        "n": limit,
        "caps": _json(dict(caps or {})),
        "cap": default_cap,
        "skip": sorted(set(skip_channels)),
    }
    connection = session.connection()
    raw = connection.connection.driver_connection
    rows: Sequence[Sequence[Any]]
    # Not inside a savepoint (a test's outer transaction): the driver's commit would end it.
    if commit and isinstance(raw, psycopg.Connection) and not connection.in_nested_transaction():
        session.flush()  # anything pending goes with the claim's commit, as it would have
        # Every lane waits for the claims' lock, held until the claim commits: sent as one
        # pipeline (the lock, the claim, the commit; one round trip), the lock is held while
        # the server runs the claim only, not also while this process is scheduled again
        # to read the rows and send the commit (on a loaded machine, milliseconds). Backends
        # waiting for it, sampled from ``pg_stat_activity`` (benchmarks/publishing.py, 50,000
        # posts, 4 workers, load 3-6): 0.30 on average before, 0.06-0.11 with the pipeline.
        # Transaction-level lock, so the commit ends it.
        sql = _claim_pg_sql(connection.dialect)
        try:
            with raw.pipeline():
                raw.execute(_CLAIM_LOCK_SQL, {"k": _CLAIM_LOCK})
                cursor = raw.execute(sql, params)
                raw.commit()
            rows = cursor.fetchall()
        except psycopg.Error as exc:  # as SQLAlchemy would raise it, a lost connection dropped
            if raw.broken:
                connection.invalidate(exc)
            raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc
        session.commit()  # the session's transaction ends with it (nothing left to send)
    else:
        connection.exec_driver_sql(_CLAIM_LOCK_SQL, {"k": _CLAIM_LOCK})
        rows = connection.execute(_CLAIM_PG, params).all()
        if commit:
            session.commit()
    claimed: list[Claimed] = []
    infos: dict[int, ChannelInfo] = {}
    loads = json.loads
    # A fresh claim's first attempts are all the claim's ``now``: each distinct timestamp is
    # converted once (``_utc`` per row was 14 % of the claim's Python time in a profile).
    stamps: dict[dt.datetime, dt.datetime] = {}
    for r in rows:
        (
            id_,
            post_id,
            workspace_id,
            channel_id,
            network,
            text_,
            thread,
            first_comment,
            key,
            round_,
            attempts,
            needs_check,
            first_attempt_at,
            media,
            pending,
            previous,
            ch_network,
            ch_status,
            ch_reason,
            ch_credentials,
            ch_config,
        ) = r
        first = None
        if first_attempt_at is not None:
            first = stamps.get(first_attempt_at)
            if first is None:
                first = stamps[first_attempt_at] = _utc(first_attempt_at)
        claimed.append(
            Claimed(
                id=id_,
                post_id=post_id,
                workspace_id=workspace_id,
                channel_id=channel_id,
                network=network,
                text=text_,
                thread=loads(thread) if thread else [],
                first_comment=first_comment,
                idempotency_key=key,
                dispatch_round=round_,
                attempts=attempts,
                needs_check=bool(needs_check),
                first_attempt_at=first,
                previous_status=previous,
                media=loads(media) if media else [],
                pending_state=loads(pending) if pending else None,
            )
        )
        if ch_network is not None and channel_id not in infos:
            infos[channel_id] = ChannelInfo(
                channel_id,
                ch_network,
                ch_status,
                ch_reason,
                ch_credentials,
                dict(loads(ch_config) or {}) if ch_config else {},
            )
    return Batch(claim_id, claimed, infos=infos)


# --- sending (no transaction open) --------------------------------------------------------------


class ChannelInfo(typing.NamedTuple):
    """A claimed variant's channel, as the claim read it (a tuple: one is made for nearly
    every variant of a batch over many channels, and a frozen dataclass's ``__init__`` sets
    each field through ``object.__setattr__``)."""

    id: int
    network: str
    status: str
    status_reason: str | None
    credentials: str
    config: dict[str, Any]


def channel_infos(session: Session, batch: Batch) -> dict[int, ChannelInfo]:
    if batch.infos is not None:  # read by the claim, in this transaction
        return batch.infos
    ids = sorted({c.channel_id for c in batch.variants if c.channel_id is not None})
    if not ids:
        return {}
    rows = session.execute(
        select(
            Channel.id,
            Channel.network,
            Channel.status,
            Channel.status_reason,
            Channel.credentials,
            Channel.config,
        ).where(_id_in(Channel.id, ids, _is_pg(session)))
    ).all()
    return {
        r.id: ChannelInfo(
            r.id, r.network, r.status, r.status_reason, r.credentials, dict(r.config or {})
        )
        for r in rows
    }


def attach_media(session: Session, batch: Batch) -> None:
    """Resolve the batch's attachments to their files (one query; no bytes are read here).
    A variant whose media left the library is failed by ``send`` with the reason."""
    wanted = {
        c.id: (c.workspace_id, c.media)
        for c in batch.variants
        # A pending container has its media already; an upload left off needs them again.
        if c.media and (c.pending_state is None or c.pending_state.get("uploading"))
    }
    if not wanted:
        return
    found = files_for(session, wanted)
    for c in batch.variants:
        if c.id in found:
            files = found[c.id]
            if isinstance(files, str):
                c.media_error = files
            else:
                c.files = files


class CredentialCache:
    """Decrypted credentials by encrypted value, for one lane (decrypting is not free)."""

    def __init__(self, cipher: CredentialCipher) -> None:
        self.cipher = cipher
        self._plain: dict[str, Credentials] = {}

    def get(self, encrypted: str) -> Credentials:
        found = self._plain.get(encrypted)
        if found is None:
            found = self.cipher.decrypt(encrypted)
            if len(self._plain) > 10_000:
                self._plain.clear()
            self._plain[encrypted] = found
        return found


class HttpClients:
    """One HTTP client per channel, kept across the lanes of a worker (``publishing.tasks``).

    Each channel keeps its own client (its own cookies: one account's session must never
    reach another's), but it is no longer built again for every batch that has a variant on
    that channel (with 1,000 channels nearly every variant of a batch has its own).
    """

    LIMIT = 5000

    def __init__(self, registry: ProviderRegistry | None = None) -> None:
        self._by_channel: dict[int, httpx.Client] = {}
        # The registry's client enforces the outbound address policy (redirects included).
        self._registry = registry

    def get(self, channel_id: int) -> httpx.Client:
        client = self._by_channel.get(channel_id)
        if client is None:
            if len(self._by_channel) >= self.LIMIT:
                self.close()
            guarded = self._registry.http_client() if self._registry is not None else None
            client = guarded or new_http_client()
            self._by_channel[channel_id] = deadlines.enforce(client)
        return client

    def close(self) -> None:
        clients, self._by_channel = list(self._by_channel.values()), {}
        for client in clients:
            client.close()


def send(
    batch: Batch,
    infos: Mapping[int, ChannelInfo],
    *,
    registry: ProviderRegistry,
    credentials: CredentialCache,
    now: dt.datetime,
    deadline: float,
    backoff_base: float,
    backoff_cap: float,
    http: httpx.Client | None = None,
    media: MediaSource | None = None,
    clients: HttpClients | None = None,
    request_deadline: float | None = None,
) -> dict[int, dt.datetime]:
    """Publish (or check) every variant of the batch; sets each one's outcome. Returns the
    rate-limit windows learnt (channel id → when the channel may be tried again). Variants
    not started before ``deadline`` (``time.monotonic()``) are released, and every request
    is over by ``request_deadline`` (:mod:`dialogo.providers.deadline`): set it before the
    leases end, so no request can outlive its variant's lease.

    ``http``: one client for every provider (fakes); else ``clients`` gives each channel its
    own, reused across batches; with neither, each provider makes (and closes) its own."""
    windows: dict[int, dt.datetime] = {}
    apps: dict[tuple[str, str], dt.datetime] = {}  # (network, app id) → waiting until
    by_channel: dict[int | None, list[Claimed]] = defaultdict(list)
    for claimed in batch.variants:
        by_channel[claimed.channel_id].append(claimed)
    if http is not None:
        deadlines.enforce(http)
    # Every request of the batch is over by ``request_deadline``: set once for the batch (per
    # variant, the context manager was ~7 % of sending's Python time in a profile).
    with deadlines.request_deadline(request_deadline):
        for channel_id, group in by_channel.items():
            info = infos.get(channel_id) if channel_id is not None else None
            if info is None:
                for c in group:
                    _failed(
                        c, "the channel was removed before the post went out", "channel_removed"
                    )
                continue
            if info.network not in registry:
                for c in group:
                    reason = f"no provider for {info.network!r} is installed"
                    _failed(c, reason, "provider_missing", {"network": info.network})
                continue
            if info.status != ChannelStatus.ok.value:
                for c in group:
                    reason = info.status_reason or f"the channel is {info.status}"
                    # the channel's status is the provider error that flagged it (a code)
                    _waiting(c, reason, info.status, {"detail": info.status_reason})
                continue
            before = credentials.get(info.credentials)
            batch.read[info.id] = info.credentials
            # ``HttpClients`` enforces the deadline on the clients it makes; ``http`` above.
            client = http or (clients.get(info.id) if clients is not None else None)
            provider = registry.get(info.network)(before, http=client, config=info.config)
            app = app_limits.app_id_of(info.config)
            try:
                for c in group:
                    if time.monotonic() > deadline:
                        continue  # released: its lease must not run out while we work
                    if info.id in batch.channel_errors:
                        flagged = batch.channel_errors[info.id]
                        _waiting(c, flagged.message, flagged.code, {"detail": flagged.message})
                        continue
                    if app is not None and (info.network, app) in apps:
                        reason = "waiting for the rate limit of the channel's app"
                        _retry(
                            c, apps[(info.network, app)], reason, "app_rate_limit_wait", count=False
                        )
                        continue
                    if info.id in windows:
                        reason = "waiting for the network's rate limit"
                        _retry(c, windows[info.id], reason, "rate_limit_wait", count=False)
                        continue
                    seen = len(provider.app_signals)
                    error = _send_one(provider, c, now, backoff_base, backoff_cap, media)
                    if isinstance(error, _CHANNEL_ERRORS):
                        batch.channel_errors[info.id] = error
                    elif isinstance(error, RateLimited):
                        windows[info.id] = now + dt.timedelta(seconds=max(1.0, error.retry_after))
                    signals = provider.app_signals
                    if len(signals) == seen and not isinstance(error, RateLimited):
                        continue  # nothing said about the limits (``notes_for`` would find none)
                    notes, own = app_limits.notes_for(
                        info.network, info.config, signals[seen:], now=now, error=error
                    )
                    if own is not None:  # the account's own usage is near its limit: slow down
                        windows[info.id] = max(windows.get(info.id, own), own)
                    for n in notes:
                        batch.app_notes.append(n)
                        if n.until is not None:
                            key = (n.network, n.app_id)
                            apps[key] = max(apps.get(key, n.until), n.until)
            finally:
                if provider.credentials is not before and provider.credentials != before:
                    batch.renewed[info.id] = before.merged(provider.credentials)
                if client is None:
                    provider.close()
    return windows


#: The errors that flag a channel (its variants wait for it to be fixed).
_CHANNEL_ERRORS = (ReauthRequired, InsufficientScopes, Disconnected)


def _send_one(
    provider: Provider,
    c: Claimed,
    now: dt.datetime,
    backoff_base: float,
    backoff_cap: float,
    media: MediaSource | None = None,
) -> ProviderError | None:
    try:
        if c.needs_check:
            found = _find_on_network(provider, c)
            if found is not None:
                _published(c, found, now)
                return None
            c.needs_check = False
        checkpoint = _upload_checkpoint(c)
        if c.pending_state is not None and checkpoint is None:
            _check_pending(provider, c, now)  # slow media: the same container, never a new one
            return None
        if c.media_error:
            _failed(c, c.media_error, "media_unavailable", {"detail": c.media_error})
            return None
        if c.files and media is None:
            reason = "this worker cannot read the media library (no media source)"
            _failed(c, reason, "media_source_missing")
            return None
        try:
            # Read now, for this variant only: a batch's media are never all in memory.
            attachments = media.media(c.files) if c.files and media is not None else []
        except MissingMedia as exc:
            _failed(c, str(exc), "media_unavailable", {"detail": str(exc)})
            return None
        draft = c.draft(attachments)
        if checkpoint is not None:  # an upload left off in an earlier lease: go on from there
            result = provider.resume_upload(checkpoint, draft)
        else:
            result = provider.publish(draft)
        del attachments, draft
        if result.uploading:
            _upload_paused(c, dict(result.state), now)
            return None
        if result.pending:
            _processing(c, result, now, since=now, checks=0)
            return None
        _published(c, result, now)
        _first_comment(provider, c, result)
        return None
    except NotImplementedError:  # the network cannot list recent posts
        _give_up(
            c,
            f"{c.network} cannot list recent posts, so whether the post went out is "
            "unknown: look at the account and publish again by hand if it is not there",
            "cannot_list_recent",
            {"network": c.network},
        )
        return None
    except _CannotTell as exc:
        _give_up(
            c,
            f"{exc.reason}, so whether it went out is unknown: look at the account and "
            "publish again by hand if it is not there",
            exc.code,
            {"network": c.network, **exc.params},
        )
        return None
    except (ReauthRequired, InsufficientScopes, Disconnected) as exc:
        _keep_upload(c, exc, now)
        _waiting(c, exc.message, exc.code, {"detail": exc.message})
        return exc
    except InvalidPayload as exc:
        reason = exc.message + (f" ({'; '.join(exc.issues)})" if exc.issues else "")
        _failed(c, reason, exc.code, {"detail": reason})
        return None
    except OutcomeUnknown as exc:
        _keep_upload(c, exc, now)
        _unknown(c, exc.message, now)
        return None
    except ProviderError as exc:
        _keep_upload(c, exc, now)
        attempt = c.attempts + 1
        detail = {"detail": exc.message}
        if not exc.transient:
            _failed(c, exc.message, exc.code, detail)
        elif attempt >= PUBLISH_MAX_ATTEMPTS:
            reason = f"gave up after {attempt} attempts: {exc.message}"
            _failed(
                c, reason, "attempts_exhausted", {**detail, "attempts": attempt, "error": exc.code}
            )
        else:
            if isinstance(exc, RateLimited):
                delay = max(1.0, float(exc.retry_after))
            else:
                delay = jobs.backoff_delay(attempt, base=backoff_base, cap=backoff_cap)
                # A server error may come after the post was made: check before retrying.
                c.needs_check = True
            reason = f"{c.network}: {exc.message}"
            _retry(c, now + dt.timedelta(seconds=delay), reason, exc.code, detail)
        return exc


def _upload_checkpoint(c: Claimed) -> PublishResult | None:
    """The checkpoint of an upload an earlier lease left off (``None``: none)."""
    pending = c.pending_state or {}
    if not pending.get("uploading"):
        return None
    state = {str(k): str(v) for k, v in (pending.get("state") or {}).items()}
    return PublishResult(remote_id=None, pending=True, uploading=True, state=state)


def _upload_paused(c: Claimed, checkpoint: dict[str, str], now: dt.datetime) -> None:
    """The upload did not fit in this lease: keep its checkpoint and go on at once, in the
    next claim (not an error, not an attempt: an upload making no progress raises instead,
    :mod:`dialogo.providers.uploads`)."""
    previous = c.pending_state or {}
    leases = int(previous.get("leases") or 0) + 1 if previous.get("uploading") else 1
    since = _parse_time(previous.get("since")) if previous.get("uploading") else None
    c.status = _QUEUED
    c.pending_state = {
        "uploading": True,
        "state": checkpoint,
        "since": (since or now).isoformat(),
        "leases": leases,
    }
    c.next_attempt_at = now
    reason = f"{c.network}: the video is being uploaded (it carries on in the next run)"
    _error(c, reason, "uploading", {"network": c.network})


def _keep_upload(c: Claimed, exc: ProviderError, now: dt.datetime) -> None:
    """An error in the middle of an upload: its checkpoint is kept, so the next attempt goes
    on from the parts already sent instead of starting again."""
    checkpoint = uploads.checkpoint_of(exc)
    if checkpoint is not None:
        _upload_paused(c, checkpoint, now)


def _check_pending(provider: Provider, c: Claimed, now: dt.datetime) -> None:
    """Ask the network about a container it was processing; finalise it once ready."""
    pending = c.pending_state or {}
    since = _parse_time(pending.get("since")) or now
    checks = int(pending.get("checks") or 0)
    if now - since > PROCESSING_LIMIT:
        hours = PROCESSING_LIMIT.total_seconds() / 3600
        _failed(
            c,
            f"{c.network} was still processing the media {hours:g} hours after the post was "
            "sent, so it was not published: check the file (format, length) and schedule again",
            "processing_timeout",
            {"network": c.network, "hours": round(hours)},
        )
        return
    state = {str(k): str(v) for k, v in (pending.get("state") or {}).items()}
    checked = provider.check_status(
        PublishResult(remote_id=pending.get("remote_id"), pending=True, state=state)
    )
    if checked.pending:
        _processing(c, checked, now, since=since, checks=checks + 1)
        return
    result = provider.finalise(checked)
    if result.pending:  # finalising started more processing
        _processing(c, result, now, since=since, checks=checks + 1)
        return
    _published(c, result, now)
    _first_comment(provider, c, result)


def _processing(
    c: Claimed, result: PublishResult, now: dt.datetime, *, since: dt.datetime, checks: int
) -> None:
    """The network is still processing the media: check again later (not an attempt)."""
    c.status = _QUEUED
    c.pending_state = {
        "state": dict(result.state),
        "remote_id": result.remote_id,
        "since": since.isoformat(),
        "checks": checks,
    }
    wait = min(PROCESSING_POLL * (2**checks), PROCESSING_POLL_CAP)
    c.next_attempt_at = now + wait
    _error(c, f"{c.network} is processing the media", "processing", {"network": c.network})
    if checks == 0:
        c.attempts += 1  # the publish itself


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return ensure_aware(dt.datetime.fromisoformat(value))
    except ValueError:
        return None


def _published(c: Claimed, result: PublishResult, now: dt.datetime) -> None:
    c.status = VariantStatus.published.value
    c.remote_id = result.remote_id
    c.url = result.url
    c.thread_ids = list(result.thread_ids)
    c.needs_check = False
    c.attempts += 1
    c.published_at = now
    _error(c, None, None)
    c.pending_state = None


def _error(
    c: Claimed, reason: str | None, code: str | None, params: dict[str, Any] | None = None
) -> None:
    """Set the variant's last error: the English ``reason``, its ``code`` (a provider error's
    or one of :data:`dialogo.publishing.reasons.REASONS`) and its sentence's ``params``."""
    c.last_error = reason
    c.last_error_code = code
    c.last_error_params = params


def _failed(c: Claimed, reason: str, code: str, params: dict[str, Any] | None = None) -> None:
    c.status = VariantStatus.failed.value
    _error(c, reason, code, params)
    c.notify = "post_failed"


def _waiting(c: Claimed, reason: str, code: str, params: dict[str, Any] | None = None) -> None:
    c.status = VariantStatus.waiting_channel.value
    _error(c, reason, code, params)


def _retry(
    c: Claimed,
    when: dt.datetime,
    reason: str,
    code: str,
    params: dict[str, Any] | None = None,
    *,
    count: bool = True,
) -> None:
    # A variant that may be on the network stays unconfirmed (nobody may cancel it meanwhile).
    c.status = _UNCONFIRMED if c.needs_check else _QUEUED
    c.next_attempt_at = when
    _error(c, reason, code, params)
    if count:
        c.attempts += 1


def _unknown(c: Claimed, reason: str, now: dt.datetime) -> None:
    """The request left and no answer came: check with the network later."""
    c.needs_check = True
    c.attempts += 1
    _error(c, f"outcome unknown: {reason}", "outcome_unknown", {"detail": reason})
    c.dispatch_round += 1
    if c.attempts >= PUBLISH_MAX_ATTEMPTS:
        params = {"attempts": c.attempts, "error": "outcome_unknown", "detail": reason}
        _give_up(
            c, f"{c.attempts} publishes had no answer: {reason}", "unanswered_exhausted", params
        )
        return
    c.status = _UNCONFIRMED
    c.next_attempt_at = now + RECONCILE_DELAY


def _give_up(c: Claimed, reason: str, code: str, params: dict[str, Any] | None = None) -> None:
    """Stop: a person has to look (unconfirmed with nothing scheduled)."""
    c.status = _UNCONFIRMED
    c.needs_check = True
    c.next_attempt_at = None
    _error(c, reason, code, params)
    c.notify = "post_unconfirmed"


def matches(variant: PostVariant | Claimed, found: PublishResult) -> bool:
    """Whether a post listed by the network is this variant's: by the idempotency key the
    network echoes (our own key, or a Matrix transaction id made from it), else by text."""
    key = variant.idempotency_key
    state = found.state or {}
    if state.get("idempotency_key") == key:
        return True
    if state.get("transaction_id", "").startswith(f"dialogo.{key}."):
        return True
    if state.get("idempotency_key") or state.get("transaction_id", "").startswith("dialogo."):
        return False  # another post's key: the same text is not enough (found by chaos test)
    text_ = state.get("text")
    if text_ is None or text_.strip() != variant.text.strip():
        return False
    created = state.get("created_at")
    if created and variant.first_attempt_at is not None:
        try:
            when = ensure_aware(dt.datetime.fromisoformat(created.replace("Z", "+00:00")))
        except ValueError:
            return True
        return when >= ensure_aware(variant.first_attempt_at) - CLOCK_SKEW
    return True


class _CannotTell(Exception):
    """The network's listing does not reach back to the variant's first attempt; ``reason``
    says why, for the person who looks (it begins the variant's ``last_error``), ``code``
    and ``params`` word it in the reader's language (:data:`~dialogo.publishing.reasons.
    REASONS`: ``reconcile_no_times``, ``reconcile_stopped_short``, ``reconcile_too_many``;
    the network is added by the caller)."""

    def __init__(self, reason: str, code: str, params: Mapping[str, int] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.params = dict(params or {})


def _find_on_network(provider: Provider, c: Claimed) -> PublishResult | None:
    """The variant's post among the account's recent posts, ``None`` when it is not there.

    Absent only when the listing is known complete back to the first attempt (less the clock
    skew): the network said the account has nothing older (``RecentPosts.exhausted``), or
    the oldest post listed was made before the attempt. A provider that takes ``since`` is
    asked for up to :data:`RECENT_POSTS_MAX` posts back to the attempt (its paging stops at
    the first page reaching before it, each page read once: a post made then is there), and
    only when that listing ends inside the clock skew before the attempt (the account posted
    in those minutes, so it proves nothing yet), once more back to the attempt less the skew.
    The decisions are those of one asking back to the attempt less the skew, the first
    listing being the start of that one; asking first to the attempt spares the pages of the
    skew when the post is found before them (the chaos test: 500 posts an account in well
    under the skew, ``benchmarks/reconcile.py``), for the pages up to the attempt read twice
    when it is not. A provider whose ``recent_posts`` takes no ``since`` (installed from
    elsewhere, written before it; :func:`~dialogo.providers.base.takes_since` reads its
    signature once per class, rather than catching a ``TypeError`` that its own code could
    raise too, after requests were spent) is asked for :data:`RECENT_POSTS_LIMIT`, then
    four times more up to the maximum, while the listing is all newer than the attempt (an
    account busier than that since, as in the chaos test, where a check 6 s late missed a
    post and sent it again). The provider pages the network's capped pages (X 100,
    Mastodon 40): fewer posts than asked, not exhausted, means the network would not list
    further back, and a listing whose oldest post has no creation time cannot say how far
    back it reaches: then, as past the maximum, :class:`_CannotTell` (a person looks; never
    a repost). A provider answering a plain list (not :class:`RecentPosts`) is never taken
    as exhausted."""
    attempt = ensure_aware(c.first_attempt_at) if c.first_attempt_at else None
    since = attempt - CLOCK_SKEW if attempt is not None else None
    # with since: back to the attempt first, then, only if that proves nothing, to the skew
    backs: list[dt.datetime] = []
    if attempt is not None and since is not None and takes_since(provider):
        backs = [attempt, since]
    limit = RECENT_POSTS_MAX if backs else RECENT_POSTS_LIMIT
    while True:
        back = backs.pop(0) if backs else None
        if back is not None:
            listing = provider.recent_posts(limit=limit, since=back)
        else:
            listing = provider.recent_posts(limit=limit)
        listed = tuple(listing)
        for found in listed:
            if matches(c, found):
                return found
        if isinstance(listing, RecentPosts) and listing.exhausted:
            return None
        oldest = made_at(listed[-1]) if listed else None
        if oldest is not None and since is not None and oldest < since:
            return None
        if listed and oldest is None:
            raise _CannotTell(
                f"{c.network} lists the account's posts without the time they were made",
                "reconcile_no_times",
            )
        if backs and back is not None and oldest is not None and oldest < back:
            continue  # back to the attempt, not to the skew before it: on to there
        if len(listed) < limit:
            count = len(listed)
            raise _CannotTell(
                f"{c.network} would not list the account's posts back to when this post was "
                f"sent (it stopped after {count} post{'' if count == 1 else 's'})",
                "reconcile_stopped_short",
                {"count": count},
            )
        if limit >= RECENT_POSTS_MAX:
            raise _CannotTell(
                f"the account posted more than {RECENT_POSTS_MAX} times on {c.network} since "
                "this post was sent",
                "reconcile_too_many",
                {"limit": RECENT_POSTS_MAX},
            )
        limit = min(limit * 4, RECENT_POSTS_MAX)


def _first_comment(provider: Provider, c: Claimed, result: PublishResult) -> None:
    """The first comment follows the post. It is attempted once: a failure is recorded and
    notified, never retried (the post itself must not be published again)."""
    if not c.first_comment or not result.remote_id:
        return
    try:
        provider.reply(
            RemoteRef(remote_id=result.remote_id, extra=dict(result.state)),
            ProviderDraft(text=c.first_comment, idempotency_key=f"{c.idempotency_key}-c1"),
        )
    except (ProviderError, NotImplementedError) as exc:
        c.comment_error = str(exc)
        error = exc.code if isinstance(exc, ProviderError) else "not_supported"
        reason = f"the post is out, but its first comment failed: {exc}"
        _error(c, reason, "first_comment_failed", {"error": error, "detail": str(exc)})


# --- recording ----------------------------------------------------------------------------------

#: The outcomes' transaction commits asynchronously on PostgreSQL (``SET LOCAL``: that
#: transaction only; the claim's commit, and every other, stays synchronous). Why it is safe:
#: a server crash can lose the last moments of asynchronous commits (never part of one, and
#: never one a later synchronous commit has flushed), and all that is lost is this whole
#: transaction: the variants' outcomes with the posts' roll-up, audit entries, notifications,
#: webhook events, channel flags and app windows. The variants are then as their claim
#: (committed synchronously) left them: ``unconfirmed`` with its lease, so after the lease
#: another worker takes them over with ``needs_check`` and asks the network before anything
#: is sent again, the path of a lost answer: a post made is found and recorded published,
#: one not made (failed, rate-limited, waiting for its channel) is sent again and gets its
#: outcome again. Not when the batch renewed credentials: a rotated refresh token must never
#: be lost, and ``channels.save_renewal`` may have written it in this transaction. What a
#: reader saw of a lost transaction (a post shown published, a webhook delivered, a
#: notification) is seen again when the outcome is recorded again. It saves the WAL flush
#: of each batch's second commit (a lane waiting on the disk; with ``fsync = off``, as on
#: the dev server, there is next to nothing to save): ``benchmarks/publishing.py``.
#: Set by the outcomes' statement itself (:data:`_RECORD_PG`, ``:async``), not by a ``SET
#: LOCAL`` of its own before it: that was a round trip per batch, 85-110 µs of the worker's
#: CPU through the session and 15-30 µs of the backend's (3,000 transactions each way, load
#: 2-3; 2026-12-07, task "pubplan"); ``tests/publishing/test_dispatcher_commit.py``.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"

_t = cast(Table, PostVariant.__table__)
_RECORD = (
    update(_t)
    .where(_t.c.id == bindparam("b_id"), _t.c.claimed_by == bindparam("b_claim"))
    .values(
        status=bindparam("b_status"),
        remote_id=bindparam("b_remote_id"),
        url=bindparam("b_url"),
        thread_ids=bindparam("b_thread_ids"),
        needs_check=bindparam("b_needs_check"),
        attempts=bindparam("b_attempts"),
        dispatch_round=bindparam("b_round"),
        last_error=bindparam("b_last_error"),
        last_error_code=bindparam("b_last_error_code"),
        last_error_params=bindparam("b_last_error_params"),
        next_attempt_at=bindparam("b_next"),
        published_at=bindparam("b_published_at"),
        pending_state=bindparam("b_pending"),
        updated_at=bindparam("b_now"),
        lease_until=None,
        claimed_by=None,
    )
)


def record(
    session: Session, batch: Batch, *, now: dt.datetime, cipher: CredentialCipher
) -> dict[str, int]:
    """Record the batch's outcomes in the session's transaction (the caller commits).
    Renewed credentials are stored first, each at once in a transaction of its own
    (:func:`channels.save_renewal`): a record that fails later loses no rotated token."""
    if not batch.variants:
        return {}
    for channel_id, renewed in sorted(batch.renewed.items()):
        channels.save_renewal(session, channel_id, cipher, renewed, read=batch.read[channel_id])
    pg = _is_pg(session)
    post_ids = sorted({c.post_id for c in batch.variants})
    counts: dict[str, int] = defaultdict(int)
    for c in batch.variants:
        counts[c.status] += 1
        if c.status == "release":  # not sent: back to where it was, a check still pending
            c.next_attempt_at = now
    # PostgreSQL: the posts are rolled up (with their audit entries) by the outcomes'
    # statement itself, which returns the posts whose status changed.
    changed: list[tuple[int, str, bool]] | None = None
    posts: Sequence[Any] = ()
    if pg:
        changed = _record_pg(session, batch, post_ids, now, asynchronous=not batch.renewed)
    else:
        # Posts first (the service's lock order), then the variants; with each post, whether
        # its workspace has an active webhook endpoint (only those posts' events are looked at).
        hooked = (
            select(WebhookEndpoint.id)
            .where(
                WebhookEndpoint.workspace_id == Post.workspace_id,
                WebhookEndpoint.active.is_(True),
            )
            .exists()
        )
        posts = session.execute(
            select(Post.id, Post.workspace_id, Post.status, hooked.label("hooked"))
            .where(Post.id.in_(post_ids))
            .order_by(Post.id)
            .with_for_update(of=Post)
        ).all()
        session.connection().execute(
            _RECORD,
            [
                {
                    "b_id": c.id,
                    "b_claim": batch.claim_id,
                    "b_status": _outcome_status(c),
                    "b_remote_id": c.remote_id,
                    "b_url": c.url,
                    "b_thread_ids": c.thread_ids,
                    "b_needs_check": c.needs_check,
                    "b_attempts": c.attempts,
                    "b_round": c.dispatch_round,
                    "b_last_error": c.last_error,
                    "b_last_error_code": c.last_error_code,
                    "b_last_error_params": c.last_error_params,
                    "b_next": c.next_attempt_at,
                    "b_published_at": c.published_at,
                    "b_pending": c.pending_state,
                    "b_now": now,
                }
                for c in batch.variants
            ],
        )
    if batch.channel_errors:
        _record_channels(session, batch, cipher)
    app_limits.note(session, batch.app_notes, now=now)
    for c in batch.variants:
        if c.notify:
            _notify(session, c)
        if c.comment_error:
            notifications.notify(
                session,
                c.workspace_id,
                kind="first_comment_failed",
                params={  # the body worded from the comment's error type (``_first_comment``)
                    "network": c.network,
                    "reason_code": (c.last_error_params or {}).get("error"),
                    "reason_params": {"detail": c.comment_error},
                },
                body=c.comment_error,
                link=f"/w/{c.workspace_id}/posts/{c.post_id}",
                dedupe_key=f"variant-comment:{c.id}",
            )
    if changed is None:
        _rollup_rows(session, posts, now)
    else:  # as ``_rollup_rows`` does after its update: the changes' webhook events
        webhooks.emit_status_changes(session, [(i, new) for i, new, hooked in changed if hooked])
    return dict(counts)


# PostgreSQL: a batch is recorded in one statement whatever its size: the posts locked, the
# variants written (their outcomes sent as one JSON document read by ``json_to_recordset``),
# every variant status of the batch's posts read back, each post's new status worked out
# (:data:`_POST_STATUS_SQL`, :func:`post_status` in SQL), the posts whose status changed
# updated and their audit entries inserted; it returns those posts. The SQL text never
# changes. The posts are locked first (the service's lock order): the variants' update waits
# for the locking pick of the posts (its scalar sub-select runs before the update's first
# row). Measured against the previous forms (one ``unnest`` array per column; separate
# statements to lock the posts, read the states, update the posts and insert the audit
# entries): psycopg dumps Python lists into array literals in Python (escaping each string),
# which was the largest Python cost of a lane, and each statement is a round trip. The roll-up
# was a second statement until 2026-12-07 (its own JSON document built, sent and
# parsed, the statuses worked out in Python): ``benchmarks/publishing.py``.
_RECORD_PG_COLUMNS = (
    ("status", "text"),
    ("remote_id", "text"),
    ("url", "text"),
    ("thread_ids", "json"),
    ("needs_check", "boolean"),
    ("attempts", "integer"),
    ("dispatch_round", "integer"),
    ("last_error", "text"),
    ("last_error_code", "text"),
    ("last_error_params", "json"),
    ("next_attempt_at", "timestamptz"),
    ("published_at", "timestamptz"),
    ("pending_state", "json"),
)
#: :func:`dialogo.publishing.service.post_status` as an aggregate over ``{st}`` (the post's
#: variant statuses, one row each) with ``{current}`` the post's status now; checked against
#: the Python function for every combination in ``tests/publishing/test_record_rollup.py``.
_POST_STATUS_SQL = (
    "CASE WHEN bool_and({st} = 'cancelled') THEN 'cancelled'"
    " WHEN bool_or({st} IN ('queued', 'waiting_channel')) THEN 'publishing'"
    " WHEN bool_or({st} = 'scheduled') THEN CASE"
    " WHEN bool_or({st} IN ('published', 'failed', 'unconfirmed')) THEN 'publishing'"
    " ELSE 'scheduled' END"
    " WHEN bool_or({st} = 'unconfirmed') THEN 'unconfirmed'"
    " WHEN bool_or({st} = 'failed') THEN 'failed'"
    " WHEN bool_or({st} = 'draft') THEN {current}"
    " ELSE 'published' END"
)
_RECORD_PG = text(
    "WITH p AS MATERIALIZED (SELECT posts.id, posts.workspace_id, posts.status,"  # noqa: S608 - constants only
    " EXISTS (SELECT 1 FROM webhook_endpoints AS e WHERE e.workspace_id = posts.workspace_id"
    " AND e.active) AS hooked FROM posts WHERE posts.id = ANY(:posts) ORDER BY posts.id"
    " FOR UPDATE OF posts),"
    " u AS (SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS u(id bigint, "
    + ", ".join(f"{name} {type_}" for name, type_ in _RECORD_PG_COLUMNS)
    + ")), w AS (UPDATE post_variants AS v SET "
    + ", ".join(f"{name} = u.{name}" for name, _ in _RECORD_PG_COLUMNS)
    + ", updated_at = :now, lease_until = NULL, claimed_by = NULL FROM u"
    " WHERE v.id = u.id AND v.claimed_by = :claim AND (SELECT count(*) FROM p) >= 0"
    # The outcomes' commit made asynchronous (:data:`_ASYNC_COMMIT`) when ``:async``; like the
    # posts' lock above, a condition on no row, evaluated once before the update's first row.
    " AND (SELECT CASE WHEN :async THEN "
    + _ASYNC_COMMIT
    + " ELSE '' END) IS NOT NULL RETURNING v.id, v.status),"
    # The statuses written, as one map read once: joined to ``w`` (estimated at one row) the
    # plan was a nested loop scanning all of ``w`` for every variant (200 × 200 rows; the
    # statement took 6.4 ms per batch of 200, 4.3 ms as written then).
    " m AS (SELECT jsonb_object_agg(w.id, w.status) AS m FROM w),"
    # Materialised: inlined, each of ``_POST_STATUS_SQL``'s seven mentions of the status was
    # its own copy of the expression, and the map above was aggregated again for each one
    # (``EXPLAIN ANALYZE``: seven aggregations of ``w`` per batch instead of one).
    " s AS MATERIALIZED (SELECT pv.post_id,"
    " coalesce((SELECT m.m FROM m) ->> CAST(pv.id AS text), pv.status) AS st"
    " FROM post_variants AS pv"
    " WHERE pv.post_id = ANY(:posts)),"  # by index: a join to ``p`` alone was a table scan
    " n AS MATERIALIZED (SELECT p.id, p.workspace_id, p.status AS before, p.hooked, "
    + _POST_STATUS_SQL.format(st="s.st", current="p.status")
    + " AS after FROM p JOIN s ON s.post_id = p.id"
    " GROUP BY p.id, p.workspace_id, p.status, p.hooked),"
    " c AS MATERIALIZED (SELECT * FROM n WHERE n.after <> n.before),"
    # The posts were locked by ``p`` in this statement: updating them here is allowed (the
    # lock is this transaction's), and a post changed meanwhile was re-read by ``p``'s lock.
    " up AS (UPDATE posts SET status = c.after, updated_at = :now FROM c WHERE posts.id = c.id),"
    # The audit entries, as the audit hook writes them (these updates bypass the ORM).
    " au AS (INSERT INTO audit_log (workspace_id, actor_user_id, actor_token_id, actor_label,"
    " action, entity_type, entity_id, before, after, at)"
    " SELECT c.workspace_id, :user_id, :token_id, :label, 'update', 'posts', CAST(c.id AS text),"
    " json_build_object('status', c.before), json_build_object('status', c.after), :now"
    " FROM c ORDER BY c.id)"
    " SELECT c.id, c.after, c.hooked FROM c ORDER BY c.id"
).bindparams(
    bindparam("posts", type_=ARRAY(BigInteger)),
    bindparam("async", type_=Boolean),
    bindparam("user_id", type_=BigInteger),
    bindparam("token_id", type_=BigInteger),
)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _outcome_status(c: Claimed) -> str:
    return c.previous_status if c.status == "release" else c.status


def _json_value(value: Any) -> str:
    """``value`` as :func:`_json` writes it; a string straight through the C encoder's string
    escaping (``_json`` makes an encoder object for every call: ~1 µs)."""
    return _encode_string(value) if type(value) is str else _json(value)


def _outcomes_document(variants: Sequence[Claimed]) -> str:
    """The outcomes as the JSON document :data:`_RECORD_PG` reads with ``json_to_recordset``
    (its columns: :data:`_RECORD_PG_COLUMNS`).

    A key left out reads as NULL there, exactly as a JSON ``null`` does (``json`` columns
    included), so the fields an outcome leaves empty are left out: a published outcome has 8
    of the 14 keys. Each timestamp is formatted once per batch (``published_at`` is the
    batch's ``now``), not by the encoder's ``default`` for every row. Encoding the document
    was 6-9 µs per post (9 % of a worker's profile), then ~3 µs, and it is ~40 % shorter for
    PostgreSQL to parse (``tests/publishing/test_record_document.py``).

    Each row is written as text, not as a dict given to the encoder: the document of 200
    published outcomes, 1.9-2.2 → 1.4-1.6 µs per row (the least of 40 runs each; medians
    3.6-3.8 → 2.6-2.8), the two versions alternately in one process at load 5 (task "pubcpu",
    2026-12-07). The same JSON as ``_json`` of the dicts, strings escaped by the
    same encoder, the nested values (thread ids, parameters, pending state) still by
    ``_json`` (``test_the_document_is_the_encoders_json_of_the_same_rows``)."""
    times: dict[dt.datetime, str] = {}
    rows: list[str] = []
    for c in variants:
        thread_ids = c.thread_ids
        row = (
            f'{{"id":{c.id:d},"status":{_json_value(_outcome_status(c))},'
            f'"thread_ids":{"[]" if thread_ids == [] else _json(thread_ids)},'
            f'"needs_check":{"true" if c.needs_check else "false"},'
            f'"attempts":{c.attempts:d},"dispatch_round":{c.dispatch_round:d}'
        )
        for key, value in (
            ("remote_id", c.remote_id),
            ("url", c.url),
            ("last_error", c.last_error),
            ("last_error_code", c.last_error_code),
            ("last_error_params", c.last_error_params),
            ("pending_state", c.pending_state),
        ):
            if value is not None:
                row += f',"{key}":{_json_value(value)}'
        for key, when in (("next_attempt_at", c.next_attempt_at), ("published_at", c.published_at)):
            if when is not None:
                text_ = times.get(when)
                if text_ is None:  # digits, signs, colons and a "T": nothing to escape
                    text_ = times[when] = f'"{when.isoformat()}"'
                row += f',"{key}":{text_}'
        rows.append(row + "}")
    return f"[{','.join(rows)}]"


def _record_pg(
    session: Session,
    batch: Batch,
    post_ids: Sequence[int],
    now: dt.datetime,
    *,
    asynchronous: bool,
) -> list[tuple[int, str, bool]]:
    """Lock the batch's posts, write its outcomes (each guarded by the claim), roll the posts
    up with their audit entries (:data:`_RECORD_PG`), and return the posts whose status
    changed: ``(post id, new status, whether its workspace has an active webhook endpoint)``.

    Shape changed on 2026-12-07: this returned every variant status
    of the batch's posts and ``_rollup_rows`` rolled them up in a second statement; now the
    statement also takes the actor (``user_id``, ``token_id``, ``label``) for the audit
    entries and returns only the changed posts. The outcomes' JSON document is unchanged."""
    document = _outcomes_document(batch.variants)
    actor = get_actor(session)
    result = session.connection().execute(
        _RECORD_PG,
        {
            "rows": document,
            "claim": batch.claim_id,
            "now": now,
            "posts": post_ids,
            "async": asynchronous,
            "user_id": actor.user_id,
            "token_id": actor.token_id,
            "label": actor.label,
        },
    )
    return [(post_id, status, bool(hooked)) for post_id, status, hooked in result]


_POST_STATUS = (
    update(cast(Table, Post.__table__))
    .where(Post.__table__.c.id == bindparam("b_id"))
    .values(status=bindparam("b_status"), updated_at=bindparam("b_now"))
)


@functools.lru_cache(maxsize=1024)
def _post_status(current: str, states: tuple[str, ...]) -> str:
    """:func:`post_status` remembered: a batch's posts repeat a few combinations (6 % of a
    worker's time in a profile went to working them out again)."""
    return post_status(current, states)


def _rollup_rows(session: Session, posts: Sequence[Any], now: dt.datetime) -> None:
    """The batch's posts rolled up, with their audit entries (written here as the audit hook
    would, since these updates bypass the ORM). SQLite only: on PostgreSQL the outcomes'
    statement rolls the posts up itself (:data:`_RECORD_PG`)."""
    if not posts:
        return
    states: dict[int, list[str]] = defaultdict(list)
    for post_id, status in session.execute(
        select(PostVariant.post_id, PostVariant.status).where(
            PostVariant.post_id.in_([p.id for p in posts])
        )
    ):
        states[post_id].append(status)
    changed = []
    for row in posts:
        status = _post_status(row.status, tuple(states.get(row.id, ())))
        if status != row.status:
            changed.append((row, status))
    if not changed:
        return
    actor = get_actor(session)
    connection = session.connection()
    connection.execute(
        _POST_STATUS, [{"b_id": row.id, "b_status": new, "b_now": now} for row, new in changed]
    )
    connection.execute(
        insert(AuditEntry),
        [
            {
                "workspace_id": row.workspace_id,
                "actor_user_id": actor.user_id,
                "actor_token_id": actor.token_id,
                "actor_label": actor.label,
                "action": "update",
                "entity_type": Post.__tablename__,
                "entity_id": str(row.id),
                "before": {"status": row.status},
                "after": {"status": new},
                "at": now,
            }
            for row, new in changed
        ],
    )
    # The flush hook cannot see bulk updates: the events are recorded here, in the same
    # transaction (a batch that rolls back emits nothing); only for posts whose workspace has
    # an active endpoint, when the caller knows it.
    webhooks.emit_status_changes(
        session,
        [(row.id, new) for row, new in changed if getattr(row, "hooked", True)],
    )


def _record_channels(session: Session, batch: Batch, cipher: CredentialCipher) -> None:
    ids = sorted(batch.channel_errors)
    for channel in session.scalars(
        select(Channel)
        .where(Channel.id.in_(ids))
        .order_by(Channel.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ):
        error = batch.channel_errors[channel.id]
        if (
            isinstance(error, ReauthRequired)
            and channel.id not in batch.renewed
            and channel.id in batch.read
            and channels.renewed_elsewhere(cipher, batch.read[channel.id], channel.credentials)
        ):
            # Refused a token another worker has renewed meanwhile (a rotated single-use
            # refresh token): not flagged; the variants wait for the next tick, which sends
            # them with the stored credentials.
            continue
        channels.flag_channel(session, channel, error)


def _notify(session: Session, c: Claimed) -> None:
    # "post_failed" or "post_unconfirmed" (may or may not have been published)
    notifications.notify(
        session,
        c.workspace_id,
        kind=c.notify or "post_failed",
        severity="error",
        # the body is worded from the reason's code in each reader's language
        params={
            "network": c.network,
            "reason_code": c.last_error_code,
            "reason_params": c.last_error_params,
        },
        body=c.last_error or "",
        link=f"/w/{c.workspace_id}/posts/{c.post_id}",
        dedupe_key=f"variant:{c.id}",
    )


def _rollup(session: Session, posts: Sequence[Post]) -> None:
    """Roll the variants' states up to their posts (whose row locks the caller holds)."""
    if not posts:
        return
    session.flush()
    states: dict[int, list[Any]] = defaultdict(list)
    for post_id, status in session.execute(
        select(PostVariant.post_id, PostVariant.status).where(
            PostVariant.post_id.in_([p.id for p in posts])
        )
    ):
        states[post_id].append(types.SimpleNamespace(status=status))
    for post in posts:
        refresh_post_status(post, cast(list[PostVariant], states[post.id]))
    session.flush()
