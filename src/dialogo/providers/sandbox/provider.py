"""The sandbox network: a simulated social network (:mod:`dialogo.simulation`) behind the same
provider interface as the real ones, so publishing, the inbox, listening, metrics and
conversions run end to end without any account.

Configuration (``config``, overridable by ``credentials.extra``; all optional)
--------------------------------------------------------------------------------
``seed`` (42), ``population`` (20000), ``start`` (the first day of the simulated history,
ISO date, default ``2026-01-01``: fixed, never "today", so the same seed gives the same data),
``history_days`` (90), ``speed`` (simulated seconds per real second, default 60),
``clock_start`` (the real instant, ISO 8601, at which the simulated clock reads the end of the
history; see *Time*), ``sim_now`` (an ISO 8601 instant: the simulated clock stands still
there, for reproducible runs such as the demo's build), ``backfill_days`` (how far back the
first ``fetch_messages`` reads, default 3) and ``ledger`` (a file path; see *What survives a
restart*). ``start`` may be a full ISO 8601 instant (the demo ends the history "now").

Credentials: the demo access token :data:`DEMO_TOKEN`; anything else raises
``ReauthRequired``, so the channel health logic can be tried too.

The world
---------
Building a :class:`~dialogo.simulation.World` costs a fraction of a second for a few thousand
people and about a second for 20,000 (population, follower graph, rhythms). Worlds are a pure
function of ``(seed, population, start, history_days)``, so :func:`world_for` keeps the last
:data:`WORLD_CACHE_SIZE` of them in the process (an LRU under a lock): every provider instance
of a channel, and every channel with the same settings, shares one. A world also caches the
days it generated (see ``World.day_events``).

Time
----
A :class:`~dialogo.simulation.SimClock` runs ``speed`` times faster than real time; at
``clock_start`` it reads ``config.live_from`` (the end of the history, when the workspace's
brand stops posting and answering by itself and the people using Dialogo take over). When
neither the configuration nor the credentials name ``clock_start``, :meth:`verify` stamps the
current real instant into ``credentials.extra["clock_start"]`` (the caller stores
``provider.credentials`` after verify, as it does for Bluesky's session); until then the
instance's creation time is used. Tests pass ``clock=``, any object with ``now()`` answering
*simulated* time.

Published posts: the remote id *is* the post
--------------------------------------------
A published post's outcome (views, likes, reposts through the follower graph, clicks,
purchases, comments) is ``world.simulate_post(spec)``, a pure function of its
:class:`~dialogo.simulation.PostSpec`. So the remote id encodes the spec: ``sbx1.`` followed
by the base64url of the compact JSON ``[brand, epoch seconds, topic, media, link, language,
budget, key]`` (:func:`encode_post_id` / :func:`decode_post_id`); the spec's own ``id`` (which
seeds its random streams) is a hash of that payload. :meth:`fetch_metrics` needs nothing but
the ids the application already stores, so metrics survive process restarts and agree
between processes. (A forged id just yields another simulated post: harmless in a sandbox.)

The brand's own posts of the simulated history (published by the world's autopilot before
``live_from``) have the remote id ``sbxh1.`` + the world's post id (:func:`history_post_id`);
their metrics are the outcome the history generated (``World.outcome_of``), so they agree with
the comments and engagement the history holds. ``dialogo demo`` records them as published.

What survives a restart
-----------------------
Two things cannot be derived from ids the application hands back: which posts were
published (the comments under them belong in :meth:`fetch_messages`, and
:meth:`recent_posts` lists them) and which messages were answered when (an answer changes
what its author writes next, through ``world.follow_up``). They live in a :class:`Ledger`
shared by the provider instances of one world and brand in the process; with ``ledger`` set
to a file path, entries are also appended there as JSON lines and read back on first use,
so they survive restarts. Without it (tests, a throw-away demo) a restart forgets them: the
posts' metrics are unaffected (see above), but comments under posts published before the
restart stop arriving and answered messages are treated as ignored.

A ledger entry of a post also keeps when it was published in wall-clock time (UTC): what
:meth:`recent_posts` lists as ``created_at``, so a publish whose answer was lost is checked
back to its attempt as on a real network (the simulated time, ``sim_at``, may run fast or
stand still). Nothing of the world depends on it: ids, outcomes and messages are as before.

Inbound
-------
``fetch_messages(since)``: the cursor is simulated time (ISO 8601). A page covers
``[since, min(now, since + MAX_WINDOW))``: the world's messages to or about the workspace's
brand (mentions, comments, direct messages, replies in conversations), comments under posts
published through this provider, and the follow-ups of messages that expected an answer,
given when (or whether) they were answered. ``raw`` carries the true labels (sentiment,
topic, intent, aspect): the ground truth the inbox's enrichment can be scored against.
Reading a window in one call or in several gives the same messages.

Listening: :meth:`search_posts` over the people's public posts (``kind == "post"``).
Conversions: :meth:`fetch_conversions` (clicks, orders and revenue per post), as
``PostMetrics`` has no field for them.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx

from dialogo.core.clock import Clock
from dialogo.core.i18n import N_, Nn_, Plural
from dialogo.providers.base import (
    Account,
    AuthKind,
    Author,
    Capabilities,
    ConnectField,
    ConnectFieldKind,
    Credentials,
    Draft,
    InboundMessage,
    Media,
    MediaRules,
    MessageKind,
    MessagePage,
    PostMetrics,
    Provider,
    PublishResult,
    RecentPosts,
    RemoteRef,
    TextCounting,
    ValidationIssue,
    collect_pages,
)
from dialogo.providers.errors import InvalidPayload, ProviderError, ReauthRequired
from dialogo.simulation import (
    BrandPost,
    BrandSpec,
    Message,
    PostOutcome,
    PostSpec,
    SimClock,
    World,
    WorldConfig,
    detect_topic,
    guess_language,
)

NETWORK = "sandbox"
DEMO_TOKEN = "sandbox-demo"  # noqa: S105 - the public demo token, not a secret
TEXT_LIMIT = 500
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024
ALT_TEXT_MAX = 1000
WORLD_CACHE_SIZE = 4
OUTCOME_CACHE_SIZE = 256
#: The most posts one request of :meth:`SandboxProvider.recent_posts` lists (a network's cap).
RECENT_PAGE = 100
#: One ``fetch_messages`` page covers at most this much simulated time; the cursor says
#: where the next one starts.
MAX_WINDOW = dt.timedelta(days=2)
#: Follow-ups land within 90 hours of the message they follow (``simulation.world``).
FOLLOWUP_HORIZON = dt.timedelta(hours=91)
#: Comments under a post arrive within a few days of it (``simulation.world.MAX_LAG_DAYS``).
COMMENT_HORIZON = dt.timedelta(days=6)
POST_PREFIX = "sbx1."
HISTORY_PREFIX = "sbxh1."
REPLY_PREFIX = "sbxr1."
WEB = "https://sandbox.dialogo.invalid"

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_KINDS = {
    "mention": MessageKind.mention,
    "comment": MessageKind.comment,
    "direct": MessageKind.direct,
    "reply": MessageKind.reply,
    "post": MessageKind.post,
}
_DEFAULTS = {
    "seed": "42",
    "population": "20000",
    "start": "2026-01-01",
    "history_days": "90",
    "speed": "60",
    "backfill_days": "3",
}


# -- worlds --------------------------------------------------------------------------------------

_worlds: collections.OrderedDict[tuple[int, int, str, int], World] = collections.OrderedDict()
_worlds_lock = threading.Lock()


def world_for(seed: int, population: int, start: dt.datetime, history_days: int) -> World:
    """The world for these settings, built once per process (LRU of
    :data:`WORLD_CACHE_SIZE`; building happens under the lock, so two threads asking for
    the same world build it once)."""
    key = (seed, population, start.isoformat(), history_days)
    with _worlds_lock:
        world = _worlds.get(key)
        if world is not None:
            _worlds.move_to_end(key)
            return world
        world = World(
            WorldConfig(seed=seed, population=population, start=start, history_days=history_days)
        )
        _worlds[key] = world
        while len(_worlds) > WORLD_CACHE_SIZE:
            _worlds.popitem(last=False)
        return world


# -- remote ids ------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_post_id(spec: PostSpec, key: str = "") -> str:
    """The remote id of a published post: its spec, encoded (see the module docstring)."""
    payload = [
        spec.brand,
        int(spec.at.timestamp()),
        spec.topic,
        int(spec.media),
        int(spec.link),
        spec.language,
        spec.paid_budget_eur,
        key,
    ]
    return POST_PREFIX + _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))


def decode_post_id(remote_id: str) -> PostSpec:
    if not remote_id.startswith(POST_PREFIX):
        raise InvalidPayload(f"{remote_id!r} is not a sandbox post id", network=NETWORK)
    body = remote_id.removeprefix(POST_PREFIX)
    try:
        brand, at, topic, media, link, language, budget, _key = json.loads(_unb64(body))
        return PostSpec(
            id="sp" + hashlib.sha256(body.encode("ascii")).hexdigest()[:16],
            brand=str(brand),
            at=dt.datetime.fromtimestamp(int(at), dt.UTC),
            topic=str(topic),
            media=bool(media),
            link=bool(link),
            language=str(language),
            paid_budget_eur=float(budget),
        )
    except (ValueError, TypeError) as exc:
        raise InvalidPayload(f"{remote_id!r} is not a sandbox post id", network=NETWORK) from exc


def _post_key(remote_id: str) -> tuple[str, dt.datetime] | None:
    """The idempotency key and time a :func:`encode_post_id` id carries (``None``: not one)."""
    if not remote_id.startswith(POST_PREFIX):
        return None
    try:
        payload = json.loads(_unb64(remote_id.removeprefix(POST_PREFIX)))
        return str(payload[7]), dt.datetime.fromtimestamp(int(payload[1]), dt.UTC)
    except (ValueError, TypeError, IndexError):
        return None


def _thread_roots(posts: Sequence[str]) -> set[str]:
    """The posts that begin their thread: of the posts sharing a key, the earliest (a
    thread's parts follow their first post by a second each, with its key)."""
    first: dict[str, tuple[dt.datetime, str]] = {}
    for remote_id in posts:
        decoded = _post_key(remote_id)
        if decoded is not None:
            key, at = decoded
            if key not in first or at < first[key][0]:
                first[key] = (at, remote_id)
    return {remote_id for _, remote_id in first.values()}


def _listed(remote_id: str, root: bool, made: str | None) -> PublishResult:
    """A published post as :meth:`SandboxProvider.recent_posts` lists it: ``sim_at``, its
    simulated time (what the world's outcome of it follows), and ``created_at``, ``made``:
    the wall-clock instant (UTC) it was published, the time a reconciliation compares with
    the dispatcher's attempt (the sandbox's clock may run fast or stand still, so ``sim_at``
    cannot be). A post recorded by an older ledger, without it, has no ``created_at``."""
    decoded = _post_key(remote_id)
    state = {"created_at": made} if made else {}
    if decoded is None:
        return PublishResult(remote_id=remote_id, state=state)
    key, at = decoded
    state["sim_at"] = at.isoformat()
    if root:
        state["idempotency_key"] = key
    return PublishResult(remote_id=remote_id, state=state)


def history_post_id(post: BrandPost) -> str:
    """The remote id of a post the brand published in the simulated history."""
    return HISTORY_PREFIX + post.id


_HISTORY_ID = re.compile(r"^p-(?P<brand>.+)-(?P<day>\d{8})-(?P<k>\d+)$")


def find_history_post(world: World, remote_id: str) -> BrandPost:
    """The history post behind a :func:`history_post_id` (``InvalidPayload`` if none)."""
    post_id = remote_id.removeprefix(HISTORY_PREFIX)
    match = _HISTORY_ID.match(post_id)
    if not remote_id.startswith(HISTORY_PREFIX) or match is None:
        raise InvalidPayload(f"{remote_id!r} is not a sandbox post id", network=NETWORK)
    day = dt.datetime.strptime(match["day"], "%Y%m%d").replace(tzinfo=dt.UTC)
    for _spec, post in world.scheduled_posts(int(day.timestamp()) // 86_400):
        if post.id == post_id:
            return post
    raise InvalidPayload(f"no post {post_id!r} in this sandbox's history", network=NETWORK)


def _spec_for(brand: BrandSpec, at: dt.datetime, draft: Draft, key: str) -> tuple[PostSpec, str]:
    """The spec of a post published now: its topic from its words (the brand's own category
    when none is recognised), media, link and language."""
    spec = PostSpec(
        id="pending",
        brand=brand.handle,
        at=at.replace(microsecond=0),
        topic=detect_topic(draft.text, default=brand.category) or brand.category,
        media=bool(draft.media),
        link=bool(_URL.search(draft.text)),
        language=guess_language(draft.text),
    )
    remote_id = encode_post_id(spec, key)
    return decode_post_id(remote_id), remote_id


# -- the ledger ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Ledger:
    """Published posts and answers of one brand in one world (see the module docstring).
    ``made`` holds when each post was published in wall-clock time (UTC, ISO 8601), for
    :meth:`SandboxProvider.recent_posts`' ``created_at`` (entries written before it have
    none)."""

    path: Path | None = None
    posts: list[str] = dataclasses.field(default_factory=list)
    made: dict[str, str] = dataclasses.field(default_factory=dict)
    answers: dict[str, dt.datetime] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    loaded: bool = False

    def _load(self) -> None:
        if self.loaded:
            return
        self.loaded = True
        if self.path is None or not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                self._apply(json.loads(line))

    def _apply(self, entry: dict[str, str]) -> None:
        if entry.get("post") and entry["post"] not in self.posts:
            self.posts.append(entry["post"])
            if entry.get("created_at"):
                self.made[entry["post"]] = entry["created_at"]
        if entry.get("answered"):
            at = dt.datetime.fromisoformat(entry["at"])
            self.answers[entry["answered"]] = min(at, self.answers.get(entry["answered"], at))

    def record(self, entry: dict[str, str]) -> None:
        with self.lock:
            self._load()
            self._apply(entry)
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def snapshot(self) -> tuple[list[str], dict[str, dt.datetime]]:
        with self.lock:
            self._load()
            return list(self.posts), dict(self.answers)

    def published(self) -> list[tuple[str, str | None]]:
        """The published posts, oldest first, each with when it was made (wall clock)."""
        with self.lock:
            self._load()
            return [(post, self.made.get(post)) for post in self.posts]


_ledgers: dict[tuple[Any, ...], Ledger] = {}
_ledgers_lock = threading.Lock()


def _ledger(key: tuple[Any, ...], path: str | None) -> Ledger:
    with _ledgers_lock:
        full = (*key, path)
        if full not in _ledgers:
            _ledgers[full] = Ledger(Path(path) if path else None)
        return _ledgers[full]


def forget_ledgers() -> None:
    """Drop the in-process ledgers (tests)."""
    with _ledgers_lock:
        _ledgers.clear()


# -- the provider ----------------------------------------------------------------------------------


class SandboxProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="Sandbox network",
        auth=AuthKind.access_token,
        text_limit=TEXT_LIMIT,
        text_counting=TextCounting.characters,
        media=MediaRules(
            max_items=MAX_IMAGES,
            image_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
            video_types=frozenset(),
            max_image_bytes=MAX_IMAGE_BYTES,
            max_video_bytes=0,
            alt_text_max=ALT_TEXT_MAX,
        ),
        threads=True,
        replies=True,
        direct_messages=True,
        metrics=True,
        search=True,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "access_token",
            "Demo token",
            secret=False,
            help=f"The sandbox needs no account: type {DEMO_TOKEN}.",
        ),
        ConnectField(
            "seed", "World seed", kind=ConnectFieldKind.config, required=False, help="e.g. 42"
        ),
        ConnectField(
            "population",
            "People",
            kind=ConnectFieldKind.config,
            required=False,
            help="How many simulated people (default 20000).",
        ),
        ConnectField(
            "speed",
            "Time speed",
            kind=ConnectFieldKind.config,
            required=False,
            help="Simulated seconds per real second (default 60).",
        ),
    )

    def __init__(
        self,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        config: dict[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(credentials, http=http, config=config)
        self._clock = clock
        self._created = dt.datetime.now(dt.UTC)
        self._outcomes: collections.OrderedDict[str, PostOutcome] = collections.OrderedDict()

    # -- settings, world, clock ------------------------------------------------------------------

    def setting(self, name: str) -> str:
        value = self.credentials.extra.get(name) or self.config.get(name) or _DEFAULTS.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def _int(self, name: str) -> int:
        try:
            return int(self.setting(name))
        except ValueError:
            raise ProviderError(
                f"sandbox setting {name}={self.setting(name)!r} is not a whole number",
                code="sandbox_config",
            ) from None

    @property
    def world(self) -> World:
        start = dt.datetime.fromisoformat(self.setting("start"))
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        return world_for(
            self._int("seed"), self._int("population"), start, self._int("history_days")
        )

    @property
    def brand(self) -> str:
        return self.world.config.workspace_brand.handle

    def now(self) -> dt.datetime:
        """Simulated time now."""
        if self._clock is not None:
            return self._clock.now()
        frozen = self.credentials.extra.get("sim_now") or self.config.get("sim_now")
        if frozen:
            at = dt.datetime.fromisoformat(frozen)
            return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
        origin = self.credentials.extra.get("clock_start") or self.config.get("clock_start")
        real_start = dt.datetime.fromisoformat(origin) if origin else self._created
        clock = SimClock(
            self.world.config.live_from, float(self.setting("speed")), real_start=real_start
        )
        return clock.now()

    @property
    def ledger(self) -> Ledger:
        key = (*self._world_key(), self.brand)
        return _ledger(key, self.credentials.extra.get("ledger") or self.config.get("ledger"))

    def _world_key(self) -> tuple[str, ...]:
        return tuple(self.setting(k) for k in ("seed", "population", "start", "history_days"))

    def _check_token(self) -> None:
        if self.credentials.access_token != DEMO_TOKEN:
            raise ReauthRequired(
                f"the sandbox accepts only the demo token {DEMO_TOKEN!r}", network=NETWORK
            )

    # -- auth ------------------------------------------------------------------------------------

    def verify(self) -> Account:
        self._check_token()
        pinned = ("clock_start", "sim_now")
        if not any(self.credentials.extra.get(k) or self.config.get(k) for k in pinned):
            self.credentials = dataclasses.replace(
                self.credentials,
                extra={**self.credentials.extra, "clock_start": self._created.isoformat()},
            )
        fields = self.world.brand_account(self.brand, self.now())
        self.credentials = dataclasses.replace(self.credentials, account_id=fields["remote_id"])
        return Account(**fields)

    # -- validation ------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues = self._validate_one(draft, "")
        for n, part in enumerate(draft.thread):
            if part.thread:
                issues.append(
                    ValidationIssue("nested_thread", N_("threads cannot nest"), f"thread[{n}]")
                )
            issues.extend(self._validate_one(part, f"thread[{n}]."))
        if draft.reply_to is not None and not draft.reply_to.remote_id.strip():
            issues.append(ValidationIssue("reply_target", N_("no message to answer"), "reply_to"))
        return issues

    def _validate_one(self, draft: Draft, prefix: str) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        if not draft.text.strip() and not draft.media:
            issues.append(
                ValidationIssue("empty", N_("a post needs text or an image"), prefix + "text")
            )
        if len(draft.text) > TEXT_LIMIT:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character, %(text_limit)s allowed",
                            "%(length)s characters, %(text_limit)s allowed",
                        ),
                        count="length",
                    ),
                    prefix + "text",
                    params={"length": len(draft.text), "text_limit": TEXT_LIMIT},
                )
            )
        if len(draft.media) > MAX_IMAGES:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_("at most %(max_images)s image", "at most %(max_images)s images"),
                        count="max_images",
                    ),
                    prefix + "media",
                    params={"max_images": MAX_IMAGES},
                )
            )
        for n, media in enumerate(draft.media):
            issues.extend(self._validate_media(media, f"{prefix}media[{n}]"))
        return issues

    def _validate_media(self, media: Media, field: str) -> list[ValidationIssue]:
        rules = self.capabilities.media
        if media.mime_type not in rules.image_types:
            return [
                ValidationIssue(
                    "media_type",
                    N_("%(mime_type)s is not accepted"),
                    field,
                    params={"mime_type": media.mime_type},
                )
            ]
        issues = []
        if not media.content:
            issues.append(ValidationIssue("media_empty", N_("the image is empty"), field))
        if len(media.content) > rules.max_image_bytes:
            issues.append(
                ValidationIssue("media_too_large", N_("images are limited to 5 MB"), field)
            )
        if len(media.alt_text) > ALT_TEXT_MAX:
            issues.append(
                ValidationIssue(
                    "alt_text_too_long",
                    Plural(
                        Nn_(
                            "at most %(alt_text_max)s character",
                            "at most %(alt_text_max)s characters",
                        ),
                        count="alt_text_max",
                    ),
                    field + ".alt_text",
                    params={"alt_text_max": ALT_TEXT_MAX},
                )
            )
        return issues

    # -- publishing ------------------------------------------------------------------------------

    def _refuse_invalid(self, draft: Draft) -> None:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "; ".join(issue.message for issue in issues),
                issues=[f"{issue.field}: {issue.code}" for issue in issues],
                network=NETWORK,
            )

    def publish(self, draft: Draft) -> PublishResult:
        if draft.reply_to is not None:
            return self.reply(draft.reply_to, draft)
        self._check_token()
        self._refuse_invalid(draft)
        now = self.now()
        key = draft.idempotency_key or hashlib.sha256(draft.text.encode("utf-8")).hexdigest()[:12]
        brand = self.world.config.workspace_brand
        spec, remote_id = _spec_for(brand, now, draft, key)
        thread_ids = []
        for n, part in enumerate(draft.thread):
            _, part_id = _spec_for(brand, now + dt.timedelta(seconds=n + 1), part, key)
            thread_ids.append(part_id)
        made = dt.datetime.now(dt.UTC).isoformat()  # wall clock: see :func:`_listed`
        for posted in (remote_id, *thread_ids):
            self.ledger.record({"post": posted, "created_at": made})
        return PublishResult(
            remote_id=remote_id,
            url=f"{WEB}/{self.brand}/{spec.id}",
            thread_ids=thread_ids,
            state={"sim_at": spec.at.isoformat(), "topic": spec.topic, "language": spec.language},
        )

    def reply(self, target: RemoteRef, draft: Draft) -> PublishResult:
        """Answer a message: the answer is recorded, and the author's next messages (from
        ``world.follow_up``) follow from when it was answered."""
        self._check_token()
        self._refuse_invalid(dataclasses.replace(draft, reply_to=None))
        now = self.now().replace(microsecond=0)
        self.ledger.record({"answered": target.remote_id, "at": now.isoformat()})
        payload = json.dumps([target.remote_id, int(now.timestamp())], separators=(",", ":"))
        return PublishResult(
            remote_id=REPLY_PREFIX + _b64(payload.encode("utf-8")),
            state={"sim_at": now.isoformat(), "in_reply_to": target.remote_id},
        )

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """The posts published through this brand's ledger, newest first, paged like a
        network's listing (:data:`RECENT_PAGE` a request, the cursor an offset; ``since``
        stops it as :func:`collect_pages` says). ``state`` has each post's simulated time
        (``sim_at``), when it was published in wall-clock time (``created_at``: see
        :func:`_listed`) and, on the first post of a thread only (its parts carry the same
        key in their ids), the idempotency key it was published with."""
        self._check_token()
        published = self.ledger.published()
        newest_first = published[::-1]
        roots = _thread_roots([post for post, _ in published])

        def page(cursor: str | None, count: int) -> tuple[list[PublishResult], str | None]:
            self._check_token()
            skip = int(cursor or 0)
            listed = newest_first[skip : skip + min(count, RECENT_PAGE)]
            following = skip + len(listed)
            return [_listed(r, r in roots, made) for r, made in listed], (
                str(following) if following < len(newest_first) else None
            )

        return collect_pages(page, limit=limit, page_size=RECENT_PAGE, since=since)

    # -- inbound ---------------------------------------------------------------------------------

    def fetch_messages(self, since: str | None) -> MessagePage:
        self._check_token()
        now = self.now()
        if since:
            lo = dt.datetime.fromisoformat(since)
        else:
            lo = now - dt.timedelta(days=self._int("backfill_days"))
        hi = min(now, lo + MAX_WINDOW)
        if hi <= lo:
            return MessagePage(messages=[], cursor=lo.isoformat())
        messages = [self._inbound(m) for m in self._messages(lo, hi)]
        return MessagePage(messages=messages, cursor=hi.isoformat())

    def _messages(self, lo: dt.datetime, hi: dt.datetime) -> list[Message]:
        """The brand's inbound messages with ``lo <= at < hi`` (see the module docstring)."""
        world, brand = self.world, self.brand
        live = world.config.live_from
        posts, answers = self.ledger.snapshot()
        found: dict[str, Message] = {}

        def mine(event: object) -> bool:
            return isinstance(event, Message) and event.brand == brand and event.kind != "post"

        # Roots that may have follow-ups in the window start up to the horizon before it.
        early = max(lo - FOLLOWUP_HORIZON, live) if hi > live else lo
        for event in world.events(min(early, lo), hi):
            if not isinstance(event, Message) or not mine(event):
                continue
            if event.at >= lo:
                found[event.id] = event
            self._follow_ups(event, answers, lo, hi, found)
        for remote_id in posts:
            spec = decode_post_id(remote_id)
            if spec.brand != brand or spec.at >= hi or spec.at < lo - COMMENT_HORIZON:
                continue
            for comment in self._outcome(spec).comments(world):
                if lo <= comment.at < hi:
                    found[comment.id] = comment
                self._follow_ups(comment, answers, lo, hi, found)
        return sorted(found.values(), key=lambda m: (m.at, m.id))

    def _follow_ups(
        self,
        message: Message,
        answers: dict[str, dt.datetime],
        lo: dt.datetime,
        hi: dt.datetime,
        found: dict[str, Message],
    ) -> None:
        if not message.expects_answer or message.at < self.world.config.live_from:
            return  # before live_from the world's autopilot answered (its events hold them)
        for follow in self.world.follow_up(message, answers.get(message.id)):
            if lo <= follow.at < hi:
                found[follow.id] = follow

    def _inbound(self, message: Message) -> InboundMessage:
        author = self.world.author(message.author)
        return InboundMessage(
            remote_id=message.id,
            kind=_KINDS[message.kind],
            author=Author(**author),
            text=message.text,
            created_at=message.at,
            conversation_id=message.conversation_id,
            in_reply_to=message.in_reply_to,
            url=f"{WEB}/{author['handle']}/{message.id}",
            language=message.language,
            raw={
                "truth": {
                    "sentiment": message.sentiment,
                    "topic": message.topic,
                    "intent": message.intent,
                    "aspect": message.aspect,
                    "language": message.language,
                    "expects_answer": message.expects_answer,
                    "followup": message.followup,
                },
                "person": message.author,
                "brand": message.brand,
            },
        )

    def search_posts(self, query: str, *, since: str | None = None) -> MessagePage:
        """Listening: people's public posts containing ``query`` (case-insensitive), from
        ``since`` (simulated time; default a day ago) to now, at most :data:`MAX_WINDOW`."""
        self._check_token()
        now = self.now()
        lo = dt.datetime.fromisoformat(since) if since else now - dt.timedelta(days=1)
        hi = min(now, lo + MAX_WINDOW)
        needle = query.casefold()
        hits = [
            self._inbound(e)
            for e in self.world.events(lo, hi)
            if isinstance(e, Message) and e.kind == "post" and needle in e.text.casefold()
        ]
        return MessagePage(messages=hits, cursor=max(lo, hi).isoformat())

    # -- metrics and conversions -----------------------------------------------------------------

    def _outcome(self, spec: PostSpec) -> PostOutcome:
        outcome = self._outcomes.get(spec.id)
        if outcome is None:
            outcome = self.world.simulate_post(spec)
            self._outcomes[spec.id] = outcome
            while len(self._outcomes) > OUTCOME_CACHE_SIZE:
                self._outcomes.popitem(last=False)
        return outcome

    def _outcome_of_id(self, remote_id: str) -> PostOutcome:
        if remote_id.startswith(HISTORY_PREFIX):
            post = find_history_post(self.world, remote_id)
            outcome = self._outcomes.get(post.id)
            if outcome is None:
                outcome = self.world.outcome_of(post)
                self._outcomes[post.id] = outcome
                while len(self._outcomes) > OUTCOME_CACHE_SIZE:
                    self._outcomes.popitem(last=False)
            return outcome
        return self._outcome(decode_post_id(remote_id))

    def _snapshots(self, remote_ids: Sequence[str]) -> Iterator[tuple[str, Any]]:
        self._check_token()
        now = self.now()
        for remote_id in remote_ids:
            yield remote_id, self._outcome_of_id(remote_id).metrics_at(now)

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        observed = self.now()
        return [
            PostMetrics(
                remote_id=remote_id,
                observed_at=observed,
                impressions=snap.impressions,
                reach=snap.reach,
                likes=snap.likes,
                replies=snap.replies,
                reposts=snap.reposts,
                quotes=0,
                clicks=snap.clicks,
            )
            for remote_id, snap in self._snapshots(remote_ids)
        ]

    def fetch_conversions(self, remote_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Clicks, orders and revenue (EUR) per post so far in simulated time."""
        return [
            {
                "remote_id": remote_id,
                "clicks": snap.clicks,
                "purchases": snap.purchases,
                "revenue_eur": snap.revenue_eur,
            }
            for remote_id, snap in self._snapshots(remote_ids)
        ]
