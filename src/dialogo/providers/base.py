"""The one interface every network implements (see ARCHITECTURE.md §3).

A provider is a thin, stateless adapter around one network's API for one connected account:
it declares its capabilities, validates drafts with the network's exact rules, publishes and
replies, fetches inbound messages from a cursor and metrics for published items, and — for
networks that process media slowly — reports ``pending`` results to be checked and finalised
later. It raises the shared errors in :mod:`dialogo.providers.errors` and never sleeps or
retries: retries, backoff and reconciliation belong to the dispatcher.

Providers are declared as entry points in the ``dialogo.providers`` group (see
:mod:`dialogo.providers.registry`), so a third party can add a network without forking.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import enum
import inspect
import os
import ssl
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, overload

import httpx
from babel.support import NullTranslations

from dialogo.core.i18n import Param, Plural, english, say
from dialogo.providers.ratelimits import AppSignal

_read_proxies: Callable[[], Mapping[str, str | None]] | None
try:  # httpx's own reading of the environment's proxies (private; absent: see new_http_client)
    from httpx._utils import get_environment_proxies as _read_proxies
except ImportError:  # pragma: no cover - a later httpx: each client reads them itself
    _read_proxies = None


class AuthKind(enum.StrEnum):
    oauth2 = "oauth2"
    oauth2_pkce = "oauth2_pkce"
    app_password = "app_password"  # noqa: S105 - a kind of credential, not a secret
    bot_token = "bot_token"  # noqa: S105
    access_token = "access_token"  # noqa: S105
    none = "none"


class TextCounting(enum.StrEnum):
    """How a network counts the length of a text."""

    characters = "characters"  # Unicode code points
    graphemes = "graphemes"  # user-perceived characters (Bluesky)
    utf16 = "utf16"  # UTF-16 code units (Meta's APIs)
    weighted = "weighted"  # X: weighted ranges, URLs at a fixed length


class MessageKind(enum.StrEnum):
    mention = "mention"
    comment = "comment"
    reply = "reply"
    direct = "direct"
    post = "post"  # a public post found by listening


@dataclasses.dataclass(frozen=True)
class MediaRules:
    max_items: int = 4
    image_types: frozenset[str] = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
    video_types: frozenset[str] = frozenset({"video/mp4"})
    max_image_bytes: int = 5 * 1024 * 1024
    max_video_bytes: int = 512 * 1024 * 1024
    alt_text_max: int | None = 1000
    mix_images_and_video: bool = False
    #: Videos in one post (``None``: as many as ``max_items``); X and LinkedIn take one.
    max_videos: int | None = None
    min_video_bytes: int = 0
    #: A video's length, where the file declares it (see :mod:`dialogo.providers.video`).
    min_video_seconds: float | None = None
    max_video_seconds: float | None = None


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a network can do and its rules, declared once per provider class."""

    network: str
    display_name: str
    auth: AuthKind
    text_limit: int
    text_counting: TextCounting = TextCounting.characters
    url_length: int | None = None  # a URL counts as this many characters, whatever its length
    max_hashtags: int | None = None
    media: MediaRules = MediaRules()
    threads: bool = False
    replies: bool = True
    direct_messages: bool = False
    metrics: bool = False
    search: bool = False
    slow_media: bool = False  # publish may return ``pending``: check_status → finalise
    publishes: bool = True  # False for listening-only sources (RSS)
    #: The network can tell us, as it happens, that something new arrived for the account
    #: (``Provider.watch``); polling stays the source of truth, the stream only hurries it.
    streams: bool = False


class ConnectFieldKind(enum.StrEnum):
    """Where a value typed to connect an account goes."""

    credential = "credential"  # a top-level credential: access_token, refresh_token, account_id
    extra = "extra"  # ``Credentials.extra[name]`` (encrypted with the other credentials)
    config = "config"  # the channel's non-secret configuration, ``Provider.config[name]``


@dataclasses.dataclass(frozen=True)
class ConnectField:
    """One value a person types to connect an account of this network (the web page's form).

    ``label`` and ``help`` are English; the web layer translates the ones its catalogue knows.
    A ``config`` value is stored in clear, so it can never be ``secret``.
    """

    name: str
    label: str
    kind: ConnectFieldKind = ConnectFieldKind.credential
    secret: bool = False
    required: bool = True
    help: str = ""
    #: The values it may take (the form offers them; the first is the default), if a list.
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind is ConnectFieldKind.config and self.secret:
            raise ValueError(
                f"config field {self.name!r} cannot be secret: config is not encrypted"
            )
        if self.kind is ConnectFieldKind.credential and self.name not in CREDENTIAL_FIELDS:
            raise ValueError(f"credential field {self.name!r} must be one of {CREDENTIAL_FIELDS}")


CREDENTIAL_FIELDS = ("access_token", "refresh_token", "account_id")


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Secrets for one connected account; stored encrypted by the channels domain."""

    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: dt.datetime | None = None
    account_id: str | None = None
    extra: dict[str, str] = dataclasses.field(default_factory=dict)

    def merged(self, newer: Credentials) -> Credentials:
        """Take a refresh's answer without ever replacing a stored refresh token by nothing
        (several networks omit it when it did not change). A new access token brings its own
        expiry: when the answer gives none, the expiry is unknown, never the old token's."""
        new_token = bool(newer.access_token) and newer.access_token != self.access_token
        return Credentials(
            access_token=newer.access_token or self.access_token,
            refresh_token=newer.refresh_token or self.refresh_token,
            expires_at=newer.expires_at if new_token else newer.expires_at or self.expires_at,
            account_id=newer.account_id or self.account_id,
            extra={**self.extra, **newer.extra},
        )


@dataclasses.dataclass(frozen=True)
class Account:
    remote_id: str
    handle: str
    display_name: str = ""
    url: str | None = None
    followers: int | None = None


@dataclasses.dataclass(frozen=True)
class Media:
    content: bytes
    mime_type: str
    alt_text: str = ""
    filename: str | None = None
    #: A public address where the network fetches the file itself (Instagram and Threads take
    #: media by URL, never as bytes); ``None`` when Dialogo has not published one.
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class RemoteRef:
    """A post or message on the network (what a reply answers, what a thread continues)."""

    remote_id: str
    conversation_id: str | None = None
    extra: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Draft:
    """One channel's variant of a post: text, media, an optional reply target, and for
    networks with threads the posts that follow it."""

    text: str
    media: Sequence[Media] = ()
    reply_to: RemoteRef | None = None
    thread: Sequence[Draft] = ()
    idempotency_key: str | None = None


@dataclasses.dataclass(frozen=True)
class ValidationIssue:
    """Something the network would refuse. ``template`` is an English sentence marked with
    :func:`~dialogo.core.i18n.N_` (so the localiser sees it), with ``%(name)s`` placeholders
    filled from ``params``; :attr:`message` is it in English (logs, errors, the API) and
    :meth:`render` in a reader's language (the web).

    An issue that counts something ("1 image", "5 images") has a
    :class:`~dialogo.core.i18n.Plural` template instead (a pair marked with
    :func:`~dialogo.core.i18n.Nn_` and the parameter whose number picks the form);
    ``publishing.schemas.IssueOut.of`` carries the pair to the composer."""

    code: str
    template: str | Plural
    field: str = "text"
    params: Mapping[str, Param] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        return english(self.template, self.params)

    def render(
        self,
        translations: NullTranslations | Callable[[str], str],
        number: Callable[[float], str] | None = None,
    ) -> str:
        """The issue in the language of ``translations`` (a catalogue, or its ``gettext``),
        numbers through ``number``. A counting issue needs the catalogue (its ``ngettext``):
        given only a ``gettext`` it is said in English."""
        return say(translations, self.template, self.params, number)


@dataclasses.dataclass(frozen=True)
class PublishResult:
    """``pending`` results carry what ``check_status`` needs; others carry the remote post.

    ``uploading`` (with ``pending``): the media upload did not fit in the request's deadline
    (:mod:`dialogo.providers.deadline`, the dispatcher's lease) and ``state`` is its checkpoint
    (the network's upload session and how far it got): the caller stores it and calls
    :meth:`Provider.resume_upload` with it in a later lease. Nothing is on the network yet."""

    remote_id: str | None
    url: str | None = None
    pending: bool = False
    state: dict[str, str] = dataclasses.field(default_factory=dict)
    thread_ids: Sequence[str] = ()
    uploading: bool = False


@dataclasses.dataclass(frozen=True)
class RecentPosts(Sequence[PublishResult]):
    """What :meth:`Provider.recent_posts` answers: the account's latest posts, newest first,
    and whether the network said there are no older ones.

    ``posts`` is contiguous: every post the account has between the newest and the oldest
    listed is in it (a provider pages the network's own cursor, never skips a page). It holds
    at most the ``limit`` asked for; fewer when the account has no more (``exhausted``) or when
    the network will not list further back (X lists only the latest 3,200 posts), or the
    provider stopped paging (a cursor that repeats, the most requests a listing may make).

    ``exhausted`` is ``True`` only when the network itself said there is nothing older than
    the last post listed (no next cursor, an empty last page): then a post absent from
    ``posts`` is absent from the account. It has no default, so a provider says it on purpose;
    :func:`collect_pages` derives it from the network's cursor. A short list is never proof
    of anything: networks cap their pages (X 100, Mastodon 40) and return fewer than asked.

    A post's ``state`` carries what reconciliation compares (``text``, ``created_at`` as
    ISO 8601 with its offset, an echoed ``idempotency_key`` or ``transaction_id``); a post
    without ``created_at`` cannot show how far back the listing reaches.

    It is a sequence of its posts, so ``for post in provider.recent_posts()`` reads as before.
    """

    posts: tuple[PublishResult, ...]
    exhausted: bool

    def __len__(self) -> int:
        return len(self.posts)

    @overload
    def __getitem__(self, index: int) -> PublishResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PublishResult]: ...

    def __getitem__(self, index: int | slice) -> PublishResult | Sequence[PublishResult]:
        return self.posts[index]

    def __iter__(self) -> Iterator[PublishResult]:
        return iter(self.posts)


#: One page of a network's listing: the page's posts (newest first) and the cursor of the
#: next, older page (``None`` when the network says there is none).
Page = tuple[Sequence[PublishResult], str | None]


def collect_pages(
    fetch: Callable[[str | None, int], Page],
    *,
    limit: int,
    page_size: int,
    max_requests: int | None = None,
    since: dt.datetime | None = None,
) -> RecentPosts:
    """Page a network's listing for :meth:`Provider.recent_posts`: ``fetch(cursor, count)``
    reads one page (``cursor`` ``None`` for the newest) of up to ``count`` posts, at most
    ``page_size`` (the network's cap), and returns its posts and the next page's cursor.

    Pages until ``limit`` posts or the network's last page (a ``None`` cursor: then
    ``exhausted``, unless posts of that page were left out to keep to ``limit``). A cursor
    already seen, or more than ``max_requests`` requests (by default what ``limit`` needs,
    plus two for pages the network returns short), stops it without ``exhausted``.

    With ``since``, paging also stops after the first page whose oldest post (its last, the
    listing being newest first) was made before ``since`` (:func:`made_at`): the listing
    then reaches back past ``since`` and is not ``exhausted`` unless that page was the
    network's last. A page whose last post has no creation time never stops it, nor does an
    empty page. Each page is fetched once: a caller that wants everything back to a moment
    asks once, with a generous ``limit`` and ``since``, instead of asking again for more."""
    posts: list[PublishResult] = []
    cursor: str | None = None
    seen: set[str] = set()
    budget = max_requests if max_requests is not None else -(-limit // page_size) + 2
    for _ in range(budget):
        if len(posts) >= limit:
            break
        page, cursor = fetch(cursor, min(page_size, limit - len(posts)))
        posts.extend(page)
        if cursor is None:
            return RecentPosts(posts=tuple(posts[:limit]), exhausted=len(posts) <= limit)
        if since is not None and page and _before(page[-1], since):
            break
        if cursor in seen:
            break
        seen.add(cursor)
    return RecentPosts(posts=tuple(posts[:limit]), exhausted=False)


def made_at(post: PublishResult) -> dt.datetime | None:
    """When a listed post was made: its ``state["created_at"]`` (ISO 8601; a trailing ``Z``
    and a naive time read as UTC), ``None`` when the network did not say or said it in no
    ISO 8601 form."""
    value = (post.state or {}).get("created_at")
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _before(post: PublishResult, since: dt.datetime) -> bool:
    when = made_at(post)
    return when is not None and when < (since if since.tzinfo else since.replace(tzinfo=dt.UTC))


def made_since(posts: Iterable[PublishResult], since: dt.datetime | None) -> list[PublishResult]:
    """``posts`` without those made before ``since`` (:func:`made_at`; a naive ``since`` reads
    as UTC), in their order; a post whose time is unknown is kept (it may be the one sought).
    All of them when ``since`` is ``None``."""
    if since is None:
        return list(posts)
    return [post for post in posts if not _before(post, since)]


def takes_since(provider: object, method: str = "recent_posts") -> bool:
    """Whether ``provider.recent_posts`` (or its ``method``: ``recent_replies``) accepts the
    keyword ``since`` (every provider in this repository does; one installed from elsewhere,
    written before it, may not). Read from the method's signature, once per class and method
    (:data:`_TAKES_SINCE`)."""
    kind = type(provider)
    answers = _TAKES_SINCE.setdefault(kind, {})
    known = answers.get(method)
    if known is None:
        known = _signature_takes_since(getattr(kind, method, None))
        answers[method] = known
    return known


def _signature_takes_since(method: object) -> bool:
    if not callable(method):
        return False
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): never passed
        return False
    keyword = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(
        (p.name == "since" and p.kind in keyword) or p.kind is inspect.Parameter.VAR_KEYWORD
        for p in parameters
    )


#: :func:`takes_since`'s answers by provider class (weakly: a class made for a test goes) and
#: method name.
_TAKES_SINCE: weakref.WeakKeyDictionary[type, dict[str, bool]] = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True)
class Author:
    remote_id: str
    handle: str
    display_name: str = ""
    followers: int | None = None


@dataclasses.dataclass(frozen=True)
class InboundMessage:
    """A comment, mention, reply or direct message, normalised once at the edge."""

    remote_id: str
    kind: MessageKind
    author: Author
    text: str
    created_at: dt.datetime
    conversation_id: str | None = None
    in_reply_to: str | None = None
    url: str | None = None
    language: str | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class MessagePage:
    messages: Sequence[InboundMessage]
    cursor: str | None  # pass back as ``since`` next time; ``None`` = nothing new to page


@dataclasses.dataclass(frozen=True)
class PostMetrics:
    remote_id: str
    observed_at: dt.datetime
    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    replies: int | None = None
    reposts: int | None = None
    quotes: int | None = None
    clicks: int | None = None
    video_views: int | None = None


@dataclasses.dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str | None = None


_ssl_context: ssl.SSLContext | None = None

#: The spellings of the proxy variables watched for a change (``_environment_proxies``), and
#: ``REQUEST_METHOD`` (under CGI, ``urllib`` ignores ``HTTP_PROXY``).
_PROXY_VARIABLES = (
    *("http_proxy", "https_proxy", "all_proxy", "no_proxy"),
    *("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD"),
)
_proxies: tuple[tuple[str | None, ...], dict[str, httpx.Proxy | None]] | None = None


def _environment_proxies() -> dict[str, httpx.Proxy | None]:
    """The proxies of the environment as httpx mounts them (URL pattern → proxy, ``None`` for
    a ``NO_PROXY`` exception), read again only when one of ``_PROXY_VARIABLES`` changed.

    httpx reads them for every client it makes (``trust_env``) by walking the whole
    environment (``urllib.request.getproxies``): two thirds of a new client's CPU, paid for
    each channel of each worker (``benchmarks/publishing.py``: 1,000 clients per worker). A
    new client, 88-103 → 45-53 µs (3,000 in a row, load 2-4; task "pubcpu", 2026-12-07), of
    which ~7 µs is looking up the nine spellings. A variable of another case (``Http_Proxy``)
    or a macOS or Windows system setting is read with them, but a later change to it alone
    goes unnoticed until one of them changes.
    """
    global _proxies
    key = tuple(map(os.environ.get, _PROXY_VARIABLES))
    if _proxies is None or _proxies[0] != key:
        assert _read_proxies is not None  # new_http_client asks only when httpx has it
        found = {
            pattern: None if url is None else httpx.Proxy(url)
            for pattern, url in _read_proxies().items()
        }
        _proxies = (key, found)
    return _proxies[1]


def new_http_client(
    *, request_hooks: Sequence[Callable[[httpx.Request], None]] = ()
) -> httpx.Client:
    """A provider's own HTTP client (its own cookies and connections).

    The TLS context is built once per process and shared: building one loads the CA bundle,
    which made every new client cost 75-200 ms (measured), paid by the dispatcher for every
    channel of every batch. Sharing an ``SSLContext`` between clients is what ``ssl`` intends;
    it still honours ``SSL_CERT_FILE``/``SSL_CERT_DIR`` (read when it is first built).

    The proxies of the environment (``HTTPS_PROXY``, ``NO_PROXY``…) are mounted as httpx does
    with ``trust_env``, from :func:`_environment_proxies` (not read again for every client);
    so the client's own ``trust_env`` is off, which changes nothing else with a TLS context
    given. Each proxy gets its own transport (its own connections), as before. That reader is
    private to httpx (``httpx._utils``): should a later release drop it, the client reads the
    environment itself again (``trust_env``), as it did before 2026-12-07.
    """
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    hooks = {"request": list(request_hooks)} if request_hooks else None
    if _read_proxies is None:  # httpx no longer offers its reader: the client reads them
        return httpx.Client(
            timeout=httpx.Timeout(20.0, connect=10.0), verify=_ssl_context, event_hooks=hooks
        )
    mounts: dict[str, httpx.BaseTransport | None] = {
        pattern: None if proxy is None else httpx.HTTPTransport(verify=_ssl_context, proxy=proxy)
        for pattern, proxy in _environment_proxies().items()
    }
    return httpx.Client(
        timeout=httpx.Timeout(20.0, connect=10.0),
        verify=_ssl_context,
        trust_env=False,
        mounts=mounts or None,
        event_hooks=hooks,
    )


class Provider(abc.ABC):
    """Base class of every network adapter. One instance serves one account.

    ``http`` is an ``httpx.Client`` supplied by the caller (tests pass one built on
    ``httpx.MockTransport``); providers with an official client library wrap it in their own
    thin client module.
    """

    capabilities: ClassVar[Capabilities]
    #: What the connect form asks for; empty means the usual fields of ``capabilities.auth``
    #: (handle and app password, an access token, a bot token).
    connect_fields: ClassVar[tuple[ConnectField, ...]] = ()
    #: The configuration fields :meth:`apply_settings` tells the network about, each with the
    #: value that asks the network for nothing: what a new channel keeps when the network
    #: refuses the setting chosen on the connect form.
    applied_fields: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(
        self,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        self.credentials = credentials
        self.http = http or new_http_client()
        self.config = config or {}
        #: Rate-limit usage the network reported on this provider's calls (app-wide and the
        #: account's own; :mod:`dialogo.providers.ratelimits`), read by the caller afterwards.
        self.app_signals: list[AppSignal] = []

    # -- auth ------------------------------------------------------------------------------------

    def authorization_url(self, *, redirect_uri: str, state: str) -> AuthorizationRequest:
        """The page where a person grants access (OAuth networks)."""
        raise NotImplementedError(f"{self.capabilities.network} does not use OAuth")

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> Credentials:
        raise NotImplementedError(f"{self.capabilities.network} does not use OAuth")

    def refresh(self) -> Credentials:
        """New credentials; callers store ``self.credentials.merged(result)``."""
        raise NotImplementedError(f"{self.capabilities.network} tokens do not refresh")

    @abc.abstractmethod
    def verify(self) -> Account:
        """Check the credentials and say whose account they open (at connect time)."""

    # -- content ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def validate(self, draft: Draft) -> list[ValidationIssue]:
        """Everything the network would reject, exactly by its rules; empty when fine."""

    @abc.abstractmethod
    def publish(self, draft: Draft) -> PublishResult: ...

    def reply(self, target: RemoteRef, draft: Draft) -> PublishResult:
        return self.publish(dataclasses.replace(draft, reply_to=target))

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """The account's latest ``limit`` posts, newest first, to reconcile a publish whose
        outcome is unknown (:class:`RecentPosts` says what the answer promises).

        Pages the network's own cursor until it has ``limit`` posts or the account has no
        more (:func:`collect_pages`); says ``exhausted`` only when the network said so. With
        ``since``, paging stops after the first page whose oldest post was made before it
        (posts without a creation time never stop it), so one call reads each page once. A
        network that cannot list an account's posts raises ``NotImplementedError``."""
        raise NotImplementedError(f"{self.capabilities.network} cannot list recent posts")

    def recent_replies(
        self, target: RemoteRef, *, limit: int = 20, since: dt.datetime | None = None
    ) -> list[PublishResult]:
        """The account's own latest messages in the thread or conversation of ``target`` (what
        a reply to ``target`` became: a comment under it, a message in its direct
        conversation), to reconcile a reply whose outcome is unknown. ``state`` carries what
        :func:`dialogo.inbox.replies.matches` compares (``text``, ``created_at``, an echoed
        ``idempotency_key`` or ``transaction_id``).

        ``since`` (the reply's first attempt less the clock skew the caller allows): nothing
        made before it is the reply sought, so a provider asks the network for less where its
        API can (a time parameter, fewer pages) and leaves out what it knows to be older
        (:func:`made_since`; a message whose time is unknown stays). ``None``: as before.

        The default is :meth:`recent_posts` (with ``since`` where it takes it: fewer pages),
        right where replies are posts of the account (X, Bluesky, Mastodon). Networks whose
        replies are not posts (direct messages, comment replies) override it; one that cannot
        read a thread raises ``NotImplementedError``."""
        if since is None:
            return list(self.recent_posts(limit=limit))
        if not takes_since(self):
            return made_since(self.recent_posts(limit=limit), since)
        return made_since(self.recent_posts(limit=limit, since=since), since)

    def resume_upload(self, checkpoint: PublishResult, draft: Draft) -> PublishResult:
        """Continue the media upload an ``uploading`` result of :meth:`publish` (or of this
        method) left off, for the same ``draft`` (its media bytes read again): another
        ``uploading`` checkpoint, or what :meth:`publish` answers once the upload is done.
        A network that cannot resume starts again (the default)."""
        return self.publish(draft)

    def check_status(self, pending: PublishResult) -> PublishResult:
        """For slow media: whether the network finished processing (still ``pending`` if not)."""
        return pending

    def finalise(self, ready: PublishResult) -> PublishResult:
        return ready

    # -- inbound and metrics ---------------------------------------------------------------------

    @abc.abstractmethod
    def fetch_messages(self, since: str | None) -> MessagePage: ...

    def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
        raise NotImplementedError(f"{self.capabilities.network} exposes no metrics")

    def watch(self, stop: threading.Event) -> Iterator[None]:
        """Wait on the network's stream and yield each time something new may have arrived
        for the account (``capabilities.streams``); return soon after ``stop`` is set.

        A wake-up carries no messages: the caller polls (``fetch_messages`` from the stored
        cursor), so a stream that drops or yields too often loses or doubles nothing. Like
        every provider call it raises the shared errors and never retries: whoever runs the
        stream restarts it, with backoff."""
        raise NotImplementedError(f"{self.capabilities.network} has no stream")
        yield  # pragma: no cover - makes this a generator

    # -- settings --------------------------------------------------------------------------------

    def apply_settings(
        self, before: dict[str, str], *, public_url: str | None, channel_id: int
    ) -> dict[str, str | None]:
        """Tell the network about settings a manager just changed on the channel
        (``self.config`` holds the new values, ``before`` the old ones).

        Most networks keep nothing of ours: the default does nothing and asks nothing. A
        provider whose setting also lives at the network (Telegram's webhook) calls it here,
        with ``public_url`` (Dialogo's public address, ``None`` when unknown) and the
        channel's id to build the addresses it registers, and returns the changes to the
        encrypted extra credentials (``None`` removes a key). Raising refuses the change:
        nothing is saved."""
        return {}

    def close(self) -> None:
        self.http.close()
