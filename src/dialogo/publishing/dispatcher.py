"""The dispatcher: due variants become publish jobs; a publish job publishes one variant.

Guarantees, and how they are kept:

- **Never two jobs for one variant at a time.** A variant gets a job for its current
  ``dispatch_round``, with the unique key ``publish:<idempotency key>:<round>``; the job table
  keeps unique keys forever, so enqueueing the same round twice (two dispatcher ticks, two
  workers) returns the first job. The round only moves on when the variant's previous job has
  finished with it (outcome unknown, channel back, job lost), and a job whose round is not the
  variant's current one does nothing.
- **Never reposted blindly.** Whenever a previous attempt may have reached the network (an
  answer lost: ``OutcomeUnknown``; a worker killed mid-call, seen as a retried job; a job lost
  to an expired lease) the variant is marked ``needs_check`` and the job first asks the network
  for the account's recent posts, matching by idempotency key (as echoed by the network) or by
  text. Found: recorded as published. Not found: published now, exactly once more.
  Networks that cannot list recent posts leave the variant ``unconfirmed`` for a person.
- **Nothing lost.** A channel that needs re-authorisation is flagged (by ``open_provider``) and
  its variants wait in ``waiting_channel``; each dispatcher tick moves them back to
  ``scheduled`` once the channel is OK. Invalid content fails with the network's reason and a
  notification; transient errors are retried with the network's wait (``Retry-After``) or an
  exponential backoff, up to :data:`PUBLISH_MAX_ATTEMPTS`, then fail with a notification.
- **Per-network cap.** At most ``caps[network]`` (default :data:`DEFAULT_NETWORK_CAP`)
  variants of one network are ``queued`` or ``unconfirmed`` at once; the rest stay due and
  are enqueued by the next ticks. This bounds the jobs in the queue per network, not the
  requests per second (rate-limit windows are left to each network's 429 answers).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.service import open_provider
from dialogo.core.clock import ensure_aware
from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job, JobStatus
from dialogo.notifications import service as notifications
from dialogo.providers.base import Draft as ProviderDraft
from dialogo.providers.base import Provider, PublishResult, RemoteRef
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
from dialogo.publishing.models import IN_FLIGHT, Post, PostVariant, VariantStatus
from dialogo.publishing.service import draft_of, refresh_post_status

log = logging.getLogger("dialogo.publishing")

PUBLISH_TASK = "publishing.publish"
DISPATCH_TASK = "publishing.dispatch"
#: Publish attempts of one round (transient errors) before the variant fails for good; also
#: the number of unknown outcomes in a row after which a person is asked to look.
PUBLISH_MAX_ATTEMPTS = 8
#: The job's own limit is higher, so the handler, not the job table, decides the last attempt.
JOB_MAX_ATTEMPTS = PUBLISH_MAX_ATTEMPTS + 2
DEFAULT_NETWORK_CAP = 1000
#: Variants one tick enqueues at most; a tick that reaches it queues the next one at once.
DISPATCH_BATCH = 2000
#: How long to wait before asking the network about a publish whose answer was lost (some
#: networks list a new post after a short delay).
RECONCILE_DELAY = dt.timedelta(seconds=5)
RECENT_POSTS_LIMIT = 50
#: A post found on the network up to this long before the first attempt still matches.
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclasses.dataclass
class DispatchReport:
    resumed: int = 0
    enqueued: int = 0
    recovered: int = 0
    capped: int = 0
    more: bool = False  # the tick stopped at its limit: more variants are due

    def as_dict(self) -> dict[str, int | bool]:
        return dataclasses.asdict(self)


def job_key(variant: PostVariant) -> str:
    return f"publish:{variant.idempotency_key}:{variant.dispatch_round}"


def _enqueue(session: Session, variant: PostVariant, run_at: dt.datetime) -> None:
    job = jobs.enqueue(
        session,
        PUBLISH_TASK,
        {"variant_id": variant.id, "round": variant.dispatch_round},
        run_at=run_at,
        workspace_id=variant.workspace_id,
        unique_key=job_key(variant),
        max_attempts=JOB_MAX_ATTEMPTS,
    )
    variant.job_id = job.id


def _lock_post(session: Session, post_id: int, *, skip_locked: bool = False) -> Post | None:
    return session.scalar(
        select(Post)
        .where(Post.id == post_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )


def _refresh_posts(session: Session, post_ids: set[int], *, skip_locked: bool = False) -> None:
    """Roll the variants' states up to their posts, each post locked so that two jobs
    finishing variants of one post at the same moment cannot both miss the other's.

    Locks are taken post first, then variants (as the service does). The dispatcher tick,
    which holds variant locks already, skips posts locked by others: whoever holds the post
    rolls it up, and every variant's last transition is made by a job that does too."""
    session.flush()
    for post_id in sorted(post_ids):
        post = _lock_post(session, post_id, skip_locked=skip_locked)
        if post is not None:
            _refresh_post(session, post)
    session.flush()


def _refresh_post(session: Session, post: Post) -> None:
    """Roll up one post whose row lock the caller holds."""
    session.flush()
    variants = list(
        session.scalars(
            select(PostVariant)
            .where(PostVariant.post_id == post.id)
            .execution_options(populate_existing=True)
        )
    )
    refresh_post_status(post, variants)


# --- the periodic tick --------------------------------------------------------------------------


def dispatch_due(
    session: Session,
    *,
    now: dt.datetime,
    limit: int | None = None,
    caps: Mapping[str, int] | None = None,
    default_cap: int = DEFAULT_NETWORK_CAP,
) -> DispatchReport:
    """One tick: resume variants whose channel is OK again, recover variants whose job was
    lost, and enqueue one job per due variant (within the per-network caps)."""
    limit = DISPATCH_BATCH if limit is None else limit
    report = DispatchReport()
    touched: set[int] = set()

    # Channels back to OK: their waiting variants are due again (a new round).
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
    for variant in waiting:
        variant.status = VariantStatus.scheduled.value
        variant.dispatch_round += 1
        variant.due_at = min(ensure_aware(variant.due_at or now), now)
        variant.updated_at = now
        touched.add(variant.post_id)
        report.resumed += 1

    # Jobs that ended without finishing their variant (a lease expired on the last attempt):
    # the variant may be on the network, so it is checked before anything else.
    orphans = session.execute(
        select(PostVariant, Job.status)
        .join(Job, Job.id == PostVariant.job_id)
        .where(
            PostVariant.status.in_(IN_FLIGHT),
            Job.status.in_([JobStatus.failed.value, JobStatus.cancelled.value]),
        )
        .with_for_update(of=PostVariant, skip_locked=True)
        .limit(limit)
    ).all()
    for variant, _status in orphans:
        variant.dispatch_round += 1
        variant.needs_check = True
        variant.status = VariantStatus.unconfirmed.value
        variant.attempts += 1
        if variant.attempts >= PUBLISH_MAX_ATTEMPTS:
            _give_up(session, variant, "the publish job kept stopping; check the network")
        else:
            _enqueue(session, variant, now)
        touched.add(variant.post_id)
        report.recovered += 1
    session.flush()

    in_flight = dict(
        session.execute(
            select(PostVariant.network, func.count())
            .where(PostVariant.status.in_(IN_FLIGHT))
            .group_by(PostVariant.network)
        ).all()
    )
    room = {
        network: (caps or {}).get(network, default_cap) - int(count)
        for network, count in in_flight.items()
    }
    due = session.scalars(
        select(PostVariant)
        .where(
            PostVariant.status == VariantStatus.scheduled.value,
            PostVariant.due_at <= now,
        )
        .order_by(PostVariant.due_at, PostVariant.id)
        .with_for_update(skip_locked=True)
        .limit(limit)
    ).all()
    for variant in due:
        left = room.get(variant.network, (caps or {}).get(variant.network, default_cap))
        if left <= 0:
            report.capped += 1
            continue
        room[variant.network] = left - 1
        variant.status = VariantStatus.queued.value
        variant.updated_at = now
        _enqueue(session, variant, now)
        touched.add(variant.post_id)
        report.enqueued += 1
    # Only when it made progress: variants held back by a cap wait for the next period.
    report.more = len(due) >= limit and report.enqueued > 0
    _refresh_posts(session, touched, skip_locked=True)
    return report


# --- one variant --------------------------------------------------------------------------------


def _notify_failure(session: Session, variant: PostVariant, reason: str) -> None:
    notifications.notify(
        session,
        variant.workspace_id,
        kind="post_failed",
        severity="error",
        title=f"A post to {variant.network} was not published",
        body=reason,
        link=f"/w/{variant.workspace_id}/posts/{variant.post_id}",
        dedupe_key=f"variant:{variant.id}",
    )


def _fail(session: Session, variant: PostVariant, reason: str, now: dt.datetime) -> None:
    variant.status = VariantStatus.failed.value
    variant.last_error = reason
    variant.updated_at = now
    _notify_failure(session, variant, reason)


def _give_up(session: Session, variant: PostVariant, reason: str) -> None:
    """Stop retrying a variant whose outcome is unknown: a person has to look."""
    variant.status = VariantStatus.unconfirmed.value
    variant.last_error = reason
    notifications.notify(
        session,
        variant.workspace_id,
        kind="post_unconfirmed",
        severity="error",
        title=f"A post to {variant.network} may or may not have been published",
        body=reason,
        link=f"/w/{variant.workspace_id}/posts/{variant.post_id}",
        dedupe_key=f"variant:{variant.id}",
    )


def matches(variant: PostVariant, found: PublishResult) -> bool:
    """Whether a post listed by the network is this variant's: by the idempotency key the
    network echoes (our own key, or a Matrix transaction id made from it), else by text."""
    key = variant.idempotency_key
    state = found.state or {}
    if state.get("idempotency_key") == key:
        return True
    if state.get("transaction_id", "").startswith(f"dialogo.{key}."):
        return True
    text = state.get("text")
    if text is None or text.strip() != variant.text.strip():
        return False
    created = state.get("created_at")
    if created and variant.first_attempt_at is not None:
        try:
            when = ensure_aware(dt.datetime.fromisoformat(created.replace("Z", "+00:00")))
        except ValueError:
            return True
        return when >= ensure_aware(variant.first_attempt_at) - CLOCK_SKEW
    return True


def _published(variant: PostVariant, result: PublishResult, attempt: int, now: dt.datetime) -> None:
    variant.status = VariantStatus.published.value
    variant.remote_id = result.remote_id
    variant.url = result.url
    variant.thread_ids = list(result.thread_ids)
    variant.needs_check = False
    variant.attempts = max(variant.attempts, attempt)
    variant.published_at = now
    variant.updated_at = now


@dataclasses.dataclass(frozen=True)
class PublishOutcome:
    status: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail}


def publish_variant(
    session: Session,
    variant_id: int,
    round_: int,
    *,
    attempt: int,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    now: dt.datetime,
    backoff_base: float,
    backoff_cap: float,
    http: httpx.Client | None = None,
) -> PublishOutcome:
    """Publish one variant (the body of a publish job, in the job's unit of work).

    Raises ``RetryLater`` for transient errors; everything else ends in a recorded state.
    """
    post_id = session.scalar(select(PostVariant.post_id).where(PostVariant.id == variant_id))
    # Post first, then variant: the service's order.
    post = _lock_post(session, post_id) if post_id is not None else None
    variant = session.scalar(
        select(PostVariant)
        .where(PostVariant.id == variant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if variant is None or post is None:
        return PublishOutcome("skipped", "the post was deleted")
    if variant.dispatch_round != round_ or variant.status not in IN_FLIGHT:
        return PublishOutcome("skipped", f"variant is {variant.status}, round {round_} is over")
    outcome = _publish(
        session,
        variant,
        attempt=attempt,
        registry=registry,
        cipher=cipher,
        now=now,
        backoff_base=backoff_base,
        backoff_cap=backoff_cap,
        http=http,
    )
    _refresh_post(session, post)
    session.flush()
    return outcome


def _publish(
    session: Session,
    variant: PostVariant,
    *,
    attempt: int,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    now: dt.datetime,
    backoff_base: float,
    backoff_cap: float,
    http: httpx.Client | None,
) -> PublishOutcome:
    channel = session.get(Channel, variant.channel_id) if variant.channel_id else None
    if channel is None:
        _fail(session, variant, "the channel was removed before the post went out", now)
        return PublishOutcome("failed", "channel removed")
    if channel.network not in registry:
        _fail(session, variant, f"no provider for {channel.network!r} is installed", now)
        return PublishOutcome("failed", "no provider")
    if channel.status != ChannelStatus.ok.value:
        variant.status = VariantStatus.waiting_channel.value
        variant.last_error = channel.status_reason or f"the channel is {channel.status}"
        variant.updated_at = now
        return PublishOutcome("waiting_channel", "channel needs attention")
    if variant.first_attempt_at is None:
        variant.first_attempt_at = now
    # A retried job (attempt > 1) may follow a worker killed after its request left.
    check_first = variant.needs_check or attempt > 1
    try:
        with open_provider(session, channel, registry=registry, cipher=cipher, http=http) as p:
            if check_first:
                found = _find_on_network(p, variant)
                if found is not None:
                    _published(variant, found, attempt, now)
                    return PublishOutcome("published", "found on the network")
                variant.needs_check = False
            result = p.publish(draft_of(variant))
            if result.pending:
                return _unconfirmed(session, variant, "the network is still processing", now)
            _published(variant, result, attempt, now)
            _first_comment(session, p, variant, result)
            return PublishOutcome("published")
    except NotImplementedError:  # the network cannot list recent posts
        _give_up(
            session,
            variant,
            f"{channel.network} cannot list recent posts, so whether the post went out is "
            "unknown: look at the account and publish again by hand if it is not there",
        )
        return PublishOutcome("unconfirmed", "cannot reconcile")
    except (ReauthRequired, InsufficientScopes, Disconnected) as exc:  # channel flagged
        variant.status = VariantStatus.waiting_channel.value
        variant.last_error = exc.message
        variant.updated_at = now
        return PublishOutcome("waiting_channel", exc.code)
    except InvalidPayload as exc:
        reason = exc.message + (f" ({'; '.join(exc.issues)})" if exc.issues else "")
        _fail(session, variant, reason, now)
        return PublishOutcome("failed", exc.code)
    except OutcomeUnknown as exc:
        return _unconfirmed(session, variant, exc.message, now)
    except ProviderError as exc:
        if not exc.transient:
            _fail(session, variant, exc.message, now)
            return PublishOutcome("failed", exc.code)
        if attempt >= PUBLISH_MAX_ATTEMPTS:
            _fail(session, variant, f"gave up after {attempt} attempts: {exc.message}", now)
            return PublishOutcome("failed", "attempts exhausted")
        if isinstance(exc, RateLimited):
            delay = max(1.0, float(exc.retry_after))
        else:
            delay = jobs.backoff_delay(attempt, base=backoff_base, cap=backoff_cap)
        raise jobs.RetryLater(f"{channel.network}: {exc.message}", delay=delay) from exc


def _unconfirmed(
    session: Session, variant: PostVariant, reason: str, now: dt.datetime
) -> PublishOutcome:
    """The request left and no answer came: check with the network later, in a new job."""
    variant.status = VariantStatus.unconfirmed.value
    variant.needs_check = True
    variant.last_error = f"outcome unknown: {reason}"
    variant.attempts += 1
    variant.updated_at = now
    if variant.attempts >= PUBLISH_MAX_ATTEMPTS:
        _give_up(session, variant, f"{variant.attempts} publishes had no answer: {reason}")
        return PublishOutcome("unconfirmed", "gave up")
    variant.dispatch_round += 1
    _enqueue(session, variant, now + RECONCILE_DELAY)
    return PublishOutcome("unconfirmed", reason)


def _find_on_network(provider: Provider, variant: PostVariant) -> PublishResult | None:
    for found in provider.recent_posts(limit=RECENT_POSTS_LIMIT):
        if matches(variant, found):
            return found
    return None


def _first_comment(
    session: Session, provider: Provider, variant: PostVariant, result: PublishResult
) -> None:
    """The first comment follows the post. It is attempted once: a failure is recorded and
    notified, never retried (the post itself must not be published again)."""
    if not variant.first_comment or not result.remote_id:
        return
    try:
        provider.reply(
            RemoteRef(remote_id=result.remote_id, extra=dict(result.state)),
            ProviderDraft(
                text=variant.first_comment, idempotency_key=f"{variant.idempotency_key}-c1"
            ),
        )
    except (ProviderError, NotImplementedError) as exc:
        variant.last_error = f"the post is out, but its first comment failed: {exc}"
        notifications.notify(
            session,
            variant.workspace_id,
            kind="first_comment_failed",
            title=f"The first comment of a post on {variant.network} was not published",
            body=str(exc),
            link=f"/w/{variant.workspace_id}/posts/{variant.post_id}",
            dedupe_key=f"variant-comment:{variant.id}",
        )
