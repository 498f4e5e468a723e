"""``dialogo demo``: a workspace for an Italian coffee roaster, a sandbox channel over a simulated
world whose 90-day history ends now, the brand's past, scheduled and draft posts, and every
domain brought up to date (:data:`dialogo.demo.steps.DEMO_STEPS`).

Idempotent: the workspace is found by its address (:data:`DEMO_SLUG`); when it exists nothing is
created again, and only the domains' steps run (they bring a domain up to date, so running them
twice adds nothing that is already there).

Deterministic: everything is a function of ``(seed, population, end)``, where ``end`` is the
instant the history ends (default: the current hour, UTC). While the demo builds, the sandbox's
simulated clock stands still at ``end`` (the channel's ``sim_now``), so the steps see the same
world whatever the machine's speed; :func:`start_clock` then lets it run ``speed`` times faster
than real time, reading the wall-clock "now" at the moment it is called.

The brand's past posts: the simulated world's autopilot already published them (their comments,
likes and reposts are in the world's history), so they are *recorded* as published through the
publishing service with their sandbox remote ids (``sbxh1.…``), not published again: publishing
them through the dispatcher would give every one of them a twin with a second set of comments.
The scheduled posts go out through the real dispatcher, against the sandbox, when they are due.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.audit import Actor, set_actor
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.schemas import UserCreate, WorkspaceCreate
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.db import transaction
from dialogo.core.errors import InvalidInput, NotFound
from dialogo.providers.sandbox.provider import DEMO_TOKEN, NETWORK, history_post_id, world_for
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Post, PostStatus, PostVariant, VariantStatus
from dialogo.publishing.schemas import CampaignCreate, PostCreate, PublishingSettingsIn, VariantIn
from dialogo.simulation import MAX_LAG_DAYS, World
from dialogo.simulation.clock import to_seconds
from dialogo.simulation.rng import py_random, stream

if TYPE_CHECKING:
    from dialogo.core.context import AppContext

log = logging.getLogger("dialogo.demo")

DEMO_SLUG = "caffe-aurora"
DEMO_EMAIL = "demo@dialogo.local"
DEMO_PASSWORD = "dialogo-demo"  # noqa: S105 - the public demo login, printed on start
DEMO_TIMEZONE = "Europe/Rome"
DEMO_ACTOR = Actor(label="demo")
APPROVAL_STAGES = ("editor", "brand manager")
#: Simulated seconds per real second once the demo runs: a simulated hour every two minutes.
DEFAULT_SPEED = 30.0
DAY = 86_400
#: Days around the history that the steps also read (events land up to MAX_LAG_DAYS after the
#: day that caused them; follow-ups and comments are read a few days back).
HISTORY_MARGIN_DAYS = 4 * MAX_LAG_DAYS


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    seed: int = 42
    population: int = 20_000
    history_days: int = 90
    #: The instant the history ends (the sandbox's "now" while the demo builds); None: the
    #: current hour.
    end: dt.datetime | None = None
    speed: float = DEFAULT_SPEED
    email: str = DEMO_EMAIL
    password: str = DEMO_PASSWORD
    scheduled_posts: int = 8
    drafts: int = 4

    def __post_init__(self) -> None:
        if self.population < 200:
            raise InvalidInput("the demo needs at least 200 simulated people", code="bad_option")
        if not 7 <= self.history_days <= 365:
            raise InvalidInput("history_days must be between 7 and 365", code="bad_option")
        if self.speed <= 0:
            raise InvalidInput("speed must be positive", code="bad_option")
        if self.end is not None and self.end.tzinfo is None:
            raise InvalidInput("the end of the history needs a time zone", code="bad_option")

    def history_end(self) -> dt.datetime:
        if self.end is not None:
            return self.end.astimezone(dt.UTC).replace(microsecond=0)
        return dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)


@dataclasses.dataclass
class DemoResult:
    workspace_id: int
    workspace_slug: str
    email: str
    password: str | None  # None when the user existed already (its password is not known)
    created: bool
    channel_id: int
    history_end: dt.datetime
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)


def channel_config(options: DemoOptions, end: dt.datetime, ledger: Path) -> dict[str, str]:
    """The sandbox channel's settings: a world whose history ends at ``end``, the clock frozen
    there (``sim_now``) until :func:`start_clock`."""
    start = end - dt.timedelta(days=options.history_days)
    return {
        "seed": str(options.seed),
        "population": str(options.population),
        "start": start.isoformat(),
        "history_days": str(options.history_days),
        "speed": f"{options.speed:g}",
        "sim_now": end.isoformat(),
        "clock_start": end.isoformat(),
        "backfill_days": str(options.history_days),
        "ledger": str(ledger),
    }


def _world(config: dict[str, str]) -> World:
    return world_for(
        int(config["seed"]),
        int(config["population"]),
        dt.datetime.fromisoformat(config["start"]),
        int(config["history_days"]),
    )


def competitors(world: World) -> list[str]:
    """The workspace brand's competitors the simulation knows: brands of its category."""
    own = world.config.workspace_brand
    return [b.handle for b in world.brands[1:] if b.category == own.category]


# --- the build ------------------------------------------------------------------------------------


def _ensure_user(session: Session, options: DemoOptions) -> tuple[User, bool]:
    user = accounts.get_user_by_email(session, options.email)
    if user is not None:
        return user, False
    user = accounts.create_user(
        session,
        UserCreate(
            email=options.email,
            password=options.password,
            name="Giulia Demo",
            language="it",
            is_superuser=True,
        ),
    )
    return user, True


def _connect(
    ctx: AppContext,
    session: Session,
    principal: accounts.Principal,
    workspace_id: int,
    name: str,
    config: dict[str, str],
) -> Channel:
    return channels.connect_channel(
        session,
        principal,
        workspace_id,
        ChannelConnect(
            network=NETWORK,
            name=name,
            credentials=ChannelCredentialsIn(access_token=DEMO_TOKEN),
            config=config,
        ),
        registry=ctx.providers,
        cipher=CredentialCipher.from_settings(ctx.settings),
    )


def _history_posts(
    session: Session,
    principal: accounts.Principal,
    workspace_id: int,
    channel: Channel,
    world: World,
    end: dt.datetime,
) -> int:
    """Record the brand's posts of the simulated history as published (see the module
    docstring): created through the publishing service, then marked published with the
    sandbox remote id and the simulated time it went out."""
    brand = world.config.workspace_brand.handle
    start = world.config.start
    count = 0
    for day in range(to_seconds(start) // DAY, to_seconds(end) // DAY + 1):
        for _spec, event in world.scheduled_posts(day):
            if event.brand != brand or not start <= event.at < end:
                continue
            post = publishing.create_post(
                session,
                principal,
                workspace_id,
                PostCreate(variants=[VariantIn(channel_id=channel.id, text=event.text)]),
            )
            created = event.at - dt.timedelta(days=1, hours=2)
            post.created_at = created
            post.scheduled_at = event.at
            post.status = PostStatus.published.value
            post.updated_at = event.at
            variant: PostVariant = post.variants[0]
            variant.status = VariantStatus.published.value
            variant.due_at = event.at
            variant.first_attempt_at = event.at
            variant.attempts = 1
            variant.remote_id = history_post_id(event)
            variant.url = f"https://sandbox.dialogo.invalid/{brand}/{event.id}"
            variant.published_at = event.at
            variant.updated_at = event.at
            count += 1
    session.flush()
    return count


_FUTURE_TOPICS = ("coffee", "sustainability", "food", "family", "travel", "music", "running")


def _future_posts(
    session: Session,
    ctx: AppContext,
    principal: accounts.Principal,
    workspace_id: int,
    channel: Channel,
    world: World,
    end: dt.datetime,
    options: DemoOptions,
) -> tuple[int, int]:
    """Scheduled posts for the coming days (approved through both stages) and drafts: some
    waiting for approval, some still being written. Written by the simulation's own grammar,
    from a stream of their own, so they are the same for the same seed and end."""
    brand_index = 0
    brand = world.config.workspace_brand
    rng = stream(options.seed, "demo-future", to_seconds(end))
    rnd = py_random(rng)
    campaign = publishing.create_campaign(
        session,
        principal,
        workspace_id,
        CampaignCreate(
            name="Cold Brew d'estate",
            description="Il lancio del Cold Brew Aurora: ricette, eventi e un'offerta online.",
            goal="Vendite online del Cold Brew",
            starts_on=world.mapper.local_date(end),
            ends_on=world.mapper.local_date(end + dt.timedelta(days=21)),
            budget=300,
            currency="EUR",
            utm={"utm_source": "social", "utm_campaign": "coldbrew"},
        ),
    )
    hours = [h for h, _ in brand.post_hours]
    registry = ctx.providers
    cipher = CredentialCipher.from_settings(ctx.settings)
    local_end = world.mapper.local_date(end)

    def text(topic: str, post_id: str) -> str:
        link = f"https://{brand.domain}/p/{post_id}?utm_source=social&utm_campaign=coldbrew"
        return world.writer.brand_post(
            rnd,
            language="it",
            brand=brand_index,
            topic=topic,
            city=world.city_of(int(rng.integers(0, world.population.size))),
            link=link if rng.random() < 0.5 else None,
        )

    scheduled = 0
    for k in range(options.scheduled_posts):
        day = local_end + dt.timedelta(days=1 + k * 7 // max(options.scheduled_posts, 1))
        at = world.mapper.to_utc(day, hours[k % len(hours)], 15 * int(rng.integers(0, 4)))
        topic = _FUTURE_TOPICS[int(rng.integers(0, len(_FUTURE_TOPICS)))]
        post = publishing.create_post(
            session,
            principal,
            workspace_id,
            PostCreate(
                campaign_id=campaign.id if k % 2 == 0 else None,
                variants=[VariantIn(channel_id=channel.id, text=text(topic, f"s{k}"))],
            ),
        )
        publishing.submit_post(session, principal, workspace_id, post.id)
        for _stage in APPROVAL_STAGES:
            publishing.approve_post(session, principal, workspace_id, post.id, "Ok")
        publishing.schedule_post(
            session, principal, workspace_id, post.id, at, registry=registry, cipher=cipher, now=end
        )
        scheduled += 1
    drafts = 0
    for k in range(options.drafts):
        topic = _FUTURE_TOPICS[int(rng.integers(0, len(_FUTURE_TOPICS)))]
        post = publishing.create_post(
            session,
            principal,
            workspace_id,
            PostCreate(
                campaign_id=campaign.id,
                variants=[VariantIn(channel_id=channel.id, text=text(topic, f"d{k}"))],
            ),
        )
        if k % 2 == 0:  # half wait for approval, one of them past its first stage
            publishing.submit_post(session, principal, workspace_id, post.id, "Da rivedere")
            if k % 4 == 0:
                publishing.approve_post(session, principal, workspace_id, post.id, "Ok il testo")
        drafts += 1
    return scheduled, drafts


def find_demo_workspace(session: Session) -> Workspace | None:
    return session.scalar(select(Workspace).where(Workspace.slug == DEMO_SLUG))


def sandbox_channel(session: Session, workspace_id: int) -> Channel | None:
    return session.scalar(
        select(Channel)
        .where(Channel.workspace_id == workspace_id, Channel.network == NETWORK)
        .order_by(Channel.id)
    )


StepFunction = Callable[["AppContext", int], None]


def load_step(spec: str) -> StepFunction:
    """``"module:function"`` → the function (a missing one fails loudly, naming it)."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise InvalidInput(f"demo step {spec!r} is not 'module:function'", code="bad_step")
    function: StepFunction = getattr(importlib.import_module(module_name), name)
    return function


def run_steps(ctx: AppContext, workspace_id: int, steps: list[str]) -> dict[str, float]:
    timings: dict[str, float] = {}
    for spec in steps:
        function = load_step(spec)
        started = time.perf_counter()
        log.info("demo step %s", spec)
        function(ctx, workspace_id)
        timings[spec] = time.perf_counter() - started
    return timings


def build_demo(
    ctx: AppContext, options: DemoOptions, *, steps: list[str] | None = None
) -> DemoResult:
    """Create (once) and bring up to date the demo workspace; see the module docstring."""
    from dialogo.demo.steps import DEMO_STEPS

    end = options.history_end()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with transaction(ctx.session_factory) as session:
        set_actor(session, DEMO_ACTOR)
        user, new_user = _ensure_user(session, options)
        principal = accounts.Principal.for_user(user)
        set_actor(session, principal.actor)
        workspace = find_demo_workspace(session)
        created = workspace is None
        counts: dict[str, int] = {}
        if workspace is None:
            workspace = accounts.create_workspace(
                session,
                principal,
                WorkspaceCreate(
                    name="Caffè Aurora", slug=DEMO_SLUG, timezone=DEMO_TIMEZONE, language="it"
                ),
            )
            publishing.update_settings(
                session,
                principal,
                workspace.id,
                PublishingSettingsIn(approval_required=True, approval_stages=list(APPROVAL_STAGES)),
            )
            ledger = ctx.settings.data_dir / "sandbox" / f"ledger-{workspace.id}.jsonl"
            if ledger.exists():  # left by an earlier demo database in the same data folder
                ledger.unlink()
            config = channel_config(options, end, ledger)
            world = _world(config)
            config["competitors"] = ",".join(competitors(world))
            channel = _connect(
                ctx, session, principal, workspace.id, "Caffè Aurora (sandbox)", config
            )
            timings["world"] = time.perf_counter() - started
            mark = time.perf_counter()
            counts["history_posts"] = _history_posts(
                session, principal, workspace.id, channel, world, end
            )
            counts["scheduled_posts"], counts["drafts"] = _future_posts(
                session, ctx, principal, workspace.id, channel, world, end, options
            )
            timings["posts"] = time.perf_counter() - mark
        else:
            try:
                accounts.get_workspace(session, principal, workspace.id)
            except NotFound:
                raise InvalidInput(
                    f"a workspace {DEMO_SLUG!r} exists and {options.email} is not a member: "
                    "sign in as its owner, or use another database",
                    code="demo_conflict",
                ) from None
            found = sandbox_channel(session, workspace.id)
            if found is None:
                raise InvalidInput(
                    "the demo workspace has no sandbox channel any more; delete the workspace "
                    "(Settings) and run the demo again",
                    code="demo_broken",
                )
            channel = found
            end = dt.datetime.fromisoformat(channel.config["start"]) + dt.timedelta(
                days=int(channel.config["history_days"])
            )
        workspace_id, slug, channel_id = workspace.id, workspace.slug, channel.id
        config = {k: str(v) for k, v in (channel.config or {}).items()}
    # The steps read the simulated history many times over (listening once per search term,
    # the inbox, the audience, the influence graph): keep all of its days generated while they
    # run, so each day is simulated once (a 20,000-person history is a few MB of events).
    world = _world(config)
    with world.keeping_days(int(config["history_days"]) + HISTORY_MARGIN_DAYS):
        timings.update(run_steps(ctx, workspace_id, DEMO_STEPS if steps is None else steps))
    with ctx.session_factory() as session:
        counts["posts"] = len(
            session.scalars(select(Post.id).where(Post.workspace_id == workspace_id)).all()
        )
    return DemoResult(
        workspace_id=workspace_id,
        workspace_slug=slug,
        email=options.email,
        password=options.password if new_user else None,
        created=created,
        channel_id=channel_id,
        history_end=end,
        counts=counts,
        timings=timings,
    )


def start_clock(ctx: AppContext, workspace_id: int, *, now: dt.datetime | None = None) -> None:
    """Let the demo's simulated clock run: from ``now`` (default the wall clock) it reads ``now``
    and runs ``speed`` times faster. The sandbox channel is connected again (through the
    channels service, which checks it with the network) with ``sim_now`` removed."""
    real_now = now or dt.datetime.now(dt.UTC)
    with transaction(ctx.session_factory) as session:
        set_actor(session, DEMO_ACTOR)
        channel = sandbox_channel(session, workspace_id)
        if channel is None:
            raise InvalidInput("the demo workspace has no sandbox channel", code="demo_broken")
        config = {k: str(v) for k, v in (channel.config or {}).items() if k != "sim_now"}
        start = dt.datetime.fromisoformat(config["start"])
        live_from = start + dt.timedelta(days=int(config["history_days"]))
        speed = float(config.get("speed", DEFAULT_SPEED))
        # At real instant clock_start the simulated clock reads live_from; choose it so that
        # the simulated clock reads the real "now" now (it caught up with the end of the
        # history) and runs ahead from here.
        lag = max(real_now - live_from, dt.timedelta(0))
        config["clock_start"] = (real_now - lag / speed).isoformat()
        owner = session.get(User, channel.connected_by) if channel.connected_by else None
        if owner is None:
            raise InvalidInput("the demo channel has no owner to act as", code="demo_broken")
        principal = accounts.Principal.for_user(owner)
        set_actor(session, principal.actor)
        _connect(ctx, session, principal, workspace_id, channel.name, config)


__all__ = [
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "DEMO_SLUG",
    "DemoOptions",
    "DemoResult",
    "build_demo",
    "competitors",
    "find_demo_workspace",
    "load_step",
    "run_steps",
    "sandbox_channel",
    "start_clock",
]
