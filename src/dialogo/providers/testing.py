"""An in-process fake network for tests and benchmarks: it records every call, can be told to
fail in scripted ways (401, 429, 5xx, lost answers), and checks credentials like a real one.

``FakeNetwork.provider_class()`` gives a ``Provider`` subclass bound to one fake network, to
put in a ``ProviderRegistry``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import httpx

from dialogo.providers import deadline as deadlines
from dialogo.providers.base import (
    Account,
    AuthKind,
    Author,
    Capabilities,
    Credentials,
    Draft,
    InboundMessage,
    MessageKind,
    MessagePage,
    PostMetrics,
    Provider,
    PublishResult,
    RecentPosts,
    ValidationIssue,
    collect_pages,
)
from dialogo.providers.errors import OutcomeUnknown, ReauthRequired

#: The most posts a fake network lists in one request (real networks cap theirs: X 100,
#: Mastodon 40), small so that tests and the chaos test page through busy accounts.
PAGE_SIZE = 20


@dataclasses.dataclass
class FakeAccount:
    remote_id: str
    handle: str
    access_token: str
    refresh_token: str | None
    expires_at: dt.datetime | None


@dataclasses.dataclass
class FakePost:
    remote_id: str
    account_id: str
    text: str
    reply_to: str | None
    idempotency_key: str | None
    created_at: dt.datetime


class FakeNetwork:
    def __init__(
        self,
        name: str = "fake",
        *,
        text_limit: int = 280,
        return_refresh_token: bool = True,
        token_lifetime: dt.timedelta | None = dt.timedelta(hours=2),
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.name = name
        # The most posts one request of ``recent_posts`` lists (a real network caps its pages:
        # X 100, Mastodon 40); the provider pages the rest, one recorded call a page.
        self.page_size = page_size
        self.text_limit = text_limit
        self.return_refresh_token = return_refresh_token
        self.token_lifetime = token_lifetime
        #: When a post is made (its ``created_at``); tests on a frozen clock set their own.
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.accounts: dict[str, FakeAccount] = {}
        self.posts: list[FakePost] = []
        self.inbox: list[InboundMessage] = []
        self.calls: list[tuple[str, str | None]] = []
        self.failures: list[Exception] = []
        # Publishes that create the post and then lose the answer (a read timeout).
        self.lost_answers = 0
        # Publishes held by the network (see ``hold_next``): (release, entered) events.
        self._holds: list[tuple[threading.Event, threading.Event | None]] = []
        # Publishes whose worker is frozen before they leave (see ``freeze_next``).
        self._freezes: list[tuple[threading.Event, threading.Event | None]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        # access token → account; rebuilt on a miss (tests change tokens directly), so a
        # call costs a dict look-up, not a scan of every account (1,000 in the benchmark).
        self._by_token: dict[str, FakeAccount] = {}

    # -- scripting ---------------------------------------------------------------------------

    def add_account(self, handle: str, *, expires_at: dt.datetime | None = None) -> FakeAccount:
        account = FakeAccount(
            remote_id=f"{self.name}-{next(self._ids)}",
            handle=handle,
            access_token=secrets.token_hex(8),
            refresh_token=secrets.token_hex(8),
            expires_at=expires_at,
        )
        self.accounts[account.remote_id] = account
        return account

    def revoke(self, remote_id: str) -> None:
        account = self.accounts[remote_id]
        account.access_token = "revoked-" + secrets.token_hex(4)
        account.refresh_token = None

    def fail_next(self, *errors: Exception) -> None:
        """The next calls raise these, before doing anything (the request was refused)."""
        self.failures.extend(errors)

    def lose_next_answers(self, count: int = 1) -> None:
        """The next ``count`` publishes create the post, then raise ``OutcomeUnknown``."""
        self.lost_answers += count

    def hold_next(self, release: threading.Event, entered: threading.Event | None = None) -> None:
        """The next publish is held, as by a network slow to answer, until ``release`` is set
        (``entered`` is set when it starts); the post is made when the network answers. A
        caller's request deadline (:mod:`dialogo.providers.deadline`) is honoured as an HTTP
        client's timeouts are: when it comes first the client gives up, the post is made all
        the same (the network had accepted it) and the publish raises ``OutcomeUnknown``."""
        with self._lock:
            self._holds.append((release, entered))

    def freeze_next(self, release: threading.Event, entered: threading.Event | None = None) -> None:
        """The next publish's worker is frozen (descheduled, stopped) right after its last
        deadline check and before its request reaches the network, until ``release`` is set
        (``entered`` is set when it freezes); a frozen process honours no deadline: the post
        is made when it thaws, however late."""
        with self._lock:
            self._freezes.append((release, entered))

    def busy_account(
        self,
        handle: str,
        at: dt.datetime,
        *,
        older: int,
        newer: int,
        key: str | None,
        before: dt.timedelta = dt.timedelta(hours=1),
    ) -> Credentials:
        """A new account whose ``older`` posts were made from ``before`` ``at`` (a second
        apart), then the post of idempotency key ``key`` at ``at`` (none when ``None``: a
        publish that never arrived), then ``newer`` posts a second apart: a lost answer at
        ``at`` on a busy account. Returns the account's credentials
        (``provider_class()(credentials)``); the network's :attr:`now` is as it was."""
        account = self.add_account(handle)
        made, saved = [at - before], self.now
        self.now = lambda: made[0]
        try:
            for n in range(older):
                made[0] += dt.timedelta(seconds=1)
                self._publish(account, Draft(text=f"older {n}", idempotency_key=f"older-{n}"))
            made[0] = at
            if key is not None:
                self._publish(account, Draft(text="ours", idempotency_key=key))
            for n in range(newer):
                made[0] += dt.timedelta(seconds=1)
                self._publish(account, Draft(text=f"newer {n}", idempotency_key=f"newer-{n}"))
        finally:
            self.now = saved
        return Credentials(access_token=account.access_token, account_id=account.remote_id)

    def posts_with_key(self, idempotency_key: str) -> list[FakePost]:
        return [p for p in self.posts if p.idempotency_key == idempotency_key]

    def deliver(
        self, to_account: str, text: str, *, kind: MessageKind = MessageKind.mention
    ) -> None:
        self.inbox.append(
            InboundMessage(
                remote_id=f"m{next(self._ids)}",
                kind=kind,
                author=Author(remote_id="someone", handle="someone"),
                text=text,
                created_at=dt.datetime.now(dt.UTC),
                conversation_id=to_account,
            )
        )

    # -- what providers call -----------------------------------------------------------------

    def _call(self, operation: str, credentials: Credentials) -> FakeAccount:
        with self._lock:
            self.calls.append((operation, credentials.account_id))
            if self.failures:
                raise self.failures.pop(0)
            token = credentials.access_token
            account = self._by_token.get(token) if token else None
            if account is None or account.access_token != token:
                self._by_token = {a.access_token: a for a in self.accounts.values()}
                account = self._by_token.get(token) if token else None
            if account is not None:
                return account
        raise ReauthRequired(f"{self.name}: invalid or revoked access token")

    def _refresh(self, credentials: Credentials) -> Credentials:
        with self._lock:
            self.calls.append(("refresh", credentials.account_id))
            if self.failures:
                raise self.failures.pop(0)
            for account in self.accounts.values():
                if account.refresh_token and account.refresh_token == credentials.refresh_token:
                    account.access_token = secrets.token_hex(8)
                    if self.return_refresh_token:
                        account.refresh_token = secrets.token_hex(8)
                    account.expires_at = (
                        dt.datetime.now(dt.UTC) + self.token_lifetime
                        if self.token_lifetime
                        else None
                    )
                    return Credentials(
                        access_token=account.access_token,
                        refresh_token=account.refresh_token if self.return_refresh_token else None,
                        expires_at=account.expires_at,
                    )
        raise ReauthRequired(f"{self.name}: the refresh token was refused")

    def _publish(self, account: FakeAccount, draft: Draft) -> FakePost:
        # The last check before the request leaves, as an HTTP client's (deadline.apply).
        deadlines.refuse_if_passed(f"{self.name}: publish")
        with self._lock:
            freeze = self._freezes.pop(0) if self._freezes else None
            hold = self._holds.pop(0) if self._holds else None
        if freeze is not None:
            thawed, frozen = freeze
            if frozen is not None:
                frozen.set()
            thawed.wait()
        if hold is not None:
            release, entered = hold
            if entered is not None:
                entered.set()
            left = deadlines.remaining()
            if not release.wait(timeout=None if left is None else max(0.0, left)):
                with self._lock:
                    self.posts.append(self._new_post(account, draft))
                raise OutcomeUnknown(f"{self.name}: no answer before the request's deadline")
        with self._lock:
            post = self._new_post(account, draft)
            self.posts.append(post)
            if self.lost_answers > 0:
                self.lost_answers -= 1
                raise OutcomeUnknown(f"{self.name}: no answer (read timeout)")
            return post

    def _new_post(self, account: FakeAccount, draft: Draft) -> FakePost:
        return FakePost(
            remote_id=f"p{next(self._ids)}",
            account_id=account.remote_id,
            text=draft.text,
            reply_to=draft.reply_to.remote_id if draft.reply_to else None,
            idempotency_key=draft.idempotency_key,
            created_at=self.now(),
        )

    def provider_class(self) -> type[Provider]:
        network = self

        class FakeProvider(Provider):
            capabilities = Capabilities(
                network=network.name,
                display_name=f"Fake network {network.name}",
                auth=AuthKind.access_token,
                text_limit=network.text_limit,
                threads=True,
                direct_messages=True,
                metrics=True,
            )

            def verify(self) -> Account:
                account = network._call("verify", self.credentials)
                return Account(remote_id=account.remote_id, handle=account.handle)

            def validate(self, draft: Draft) -> list[ValidationIssue]:
                # Templates and parameters like a real network's, not marked with N_: a test
                # double's texts are not for the localiser.
                issues = []
                if not draft.text.strip() and not draft.media:
                    issues.append(ValidationIssue("empty", "a post needs text or media"))
                if len(draft.text) > network.text_limit:
                    issues.append(
                        ValidationIssue(
                            "too_long",
                            "%(length)s characters, %(text_limit)s allowed",
                            params={"length": len(draft.text), "text_limit": network.text_limit},
                        )
                    )
                return issues

            def publish(self, draft: Draft) -> PublishResult:
                account = network._call("publish", self.credentials)
                post = network._publish(account, draft)
                return PublishResult(remote_id=post.remote_id)

            def recent_posts(
                self, *, limit: int = 20, since: dt.datetime | None = None
            ) -> RecentPosts:
                def page(cursor: str | None, count: int) -> tuple[list[PublishResult], str | None]:
                    # One request: ``count`` posts from ``cursor`` (how many newer ones to skip).
                    account = network._call("recent_posts", self.credentials)
                    with network._lock:
                        mine = [p for p in network.posts if p.account_id == account.remote_id]
                    skip, count = int(cursor or 0), min(count, network.page_size)
                    newest_first = mine[::-1][skip : skip + count]
                    more = skip + count < len(mine)
                    return [
                        PublishResult(
                            remote_id=p.remote_id,
                            state={
                                "text": p.text,
                                "idempotency_key": p.idempotency_key or "",
                                "created_at": p.created_at.isoformat(),
                            },
                        )
                        for p in newest_first
                    ], str(skip + count) if more else None

                return collect_pages(page, limit=limit, page_size=network.page_size, since=since)

            def refresh(self) -> Credentials:
                return network._refresh(self.credentials)

            def fetch_messages(self, since: str | None) -> MessagePage:
                account = network._call("fetch_messages", self.credentials)
                start = int(since or 0)
                mine = [m for m in network.inbox[start:] if m.conversation_id == account.remote_id]
                return MessagePage(messages=mine, cursor=str(len(network.inbox)))

            def fetch_metrics(self, remote_ids: Sequence[str]) -> list[PostMetrics]:
                network._call("fetch_metrics", self.credentials)
                now = dt.datetime.now(dt.UTC)
                return [PostMetrics(remote_id=r, observed_at=now, likes=0) for r in remote_ids]

        FakeProvider.__name__ = f"FakeProvider_{network.name}"
        return FakeProvider


def credentials_for(account: FakeAccount, **extra: Any) -> dict[str, Any]:
    """The JSON a client sends to connect this fake account."""
    return {
        "access_token": account.access_token,
        "refresh_token": account.refresh_token,
        "account_id": account.handle,
        **extra,
    }


class SharedFakeNetwork:
    """A fake network whose posts and calls live in a SQLite file, so that several processes
    (worker processes killed at random, in the chaos test) share one record of what reached
    the network. SQLite's file locking serialises the writers; a post is committed before a
    "lost" answer is raised, as a network that accepted it and then timed out would.

    Accounts are the handles; an account's access token is ``token-<handle>``.
    """

    def __init__(
        self,
        path: str,
        name: str = "sharednet",
        *,
        lose_ratio: float = 0.0,
        page_size: int = PAGE_SIZE,
    ) -> None:
        import random
        import sqlite3

        self.path, self.name, self.lose_ratio = path, name, lose_ratio
        self.page_size = page_size  # the most posts one request of ``recent_posts`` lists
        self._random = random.Random()  # noqa: S311 - chaos, not cryptography
        self._local = threading.local()
        self._sqlite3 = sqlite3
        with self._db() as db:
            db.executescript(
                """
                PRAGMA journal_mode=WAL;
                CREATE TABLE IF NOT EXISTS posts (
                    id INTEGER PRIMARY KEY, account TEXT, text TEXT, key TEXT,
                    created_at TEXT, lost INTEGER DEFAULT 0, pid INTEGER);
                CREATE INDEX IF NOT EXISTS posts_account ON posts (account, id);
                CREATE TABLE IF NOT EXISTS calls (
                    id INTEGER PRIMARY KEY, op TEXT, account TEXT, pid INTEGER);
                """
            )

    def _db(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA busy_timeout=60000")
            self._local.db = db
        return db

    @staticmethod
    def token(handle: str) -> str:
        return f"token-{handle}"

    def _account(self, operation: str, credentials: Credentials) -> str:
        token = credentials.access_token or ""
        if not token.startswith("token-"):
            raise ReauthRequired(f"{self.name}: invalid or revoked access token")
        account = token.removeprefix("token-")
        import os

        self._db().execute(
            "INSERT INTO calls (op, account, pid) VALUES (?, ?, ?)",
            (operation, account, os.getpid()),
        )
        return account

    def publish(self, account: str, draft: Draft) -> str:
        import os

        lost = self._random.random() < self.lose_ratio
        db = self._db()
        # The network's write lock first, then the request deadline's last check
        # (``deadline.refuse_if_passed``, as an HTTP client checks before its first byte):
        # a worker stalled waiting for the lock past its deadline sends nothing.
        db.execute("BEGIN IMMEDIATE")
        try:
            deadlines.refuse_if_passed(f"{self.name}: publish")
            cursor = db.execute(
                "INSERT INTO posts (account, text, key, created_at, lost, pid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    account,
                    draft.text,
                    draft.idempotency_key,
                    dt.datetime.now(dt.UTC).isoformat(),
                    int(lost),
                    os.getpid(),
                ),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        remote_id = f"s{cursor.lastrowid}"
        if lost:
            raise OutcomeUnknown(f"{self.name}: no answer (read timeout)")
        return remote_id

    def recent(
        self, account: str, count: int, before: str | None = None
    ) -> tuple[list[PublishResult], str | None]:
        """One page of the account's posts, newest first: ``count`` (at most the page size)
        older than the post ``before``, and the cursor of the next page (``None``: no more)."""
        rows = list(
            self._db().execute(
                "SELECT id, text, key, created_at FROM posts WHERE account = ? AND id < ? "
                "ORDER BY id DESC LIMIT ?",
                (account, int(before) if before else 2**62, min(count, self.page_size) + 1),
            )
        )
        more = len(rows) > min(count, self.page_size)
        rows = rows[: min(count, self.page_size)]
        return [
            PublishResult(
                remote_id=f"s{row[0]}",
                state={"text": row[1], "idempotency_key": row[2] or "", "created_at": row[3]},
            )
            for row in rows
        ], str(rows[-1][0]) if more else None

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return list(self._db().execute(query))

    def provider_class(self) -> type[Provider]:
        network = self

        class SharedFakeProvider(Provider):
            capabilities = Capabilities(
                network=network.name,
                display_name=f"Shared fake network {network.name}",
                auth=AuthKind.access_token,
                text_limit=280,
            )

            def verify(self) -> Account:
                handle = network._account("verify", self.credentials)
                return Account(remote_id=handle, handle=handle)

            def validate(self, draft: Draft) -> list[ValidationIssue]:
                return []

            def publish(self, draft: Draft) -> PublishResult:
                account = network._account("publish", self.credentials)
                return PublishResult(remote_id=network.publish(account, draft))

            def recent_posts(
                self, *, limit: int = 20, since: dt.datetime | None = None
            ) -> RecentPosts:
                def page(cursor: str | None, count: int) -> tuple[list[PublishResult], str | None]:
                    account = network._account("recent_posts", self.credentials)
                    return network.recent(account, count, cursor)

                return collect_pages(page, limit=limit, page_size=network.page_size, since=since)

            def fetch_messages(self, since: str | None) -> MessagePage:
                network._account("fetch_messages", self.credentials)
                return MessagePage(messages=[], cursor=since)

        SharedFakeProvider.__name__ = f"SharedFakeProvider_{network.name}"
        return SharedFakeProvider


class WithoutSince:
    """A provider as one installed from elsewhere may be, written before ``recent_posts``
    took ``since``: it lists by ``limit`` only (what the dispatcher's fallback, asking again
    for more, is tested and measured against). Wraps a provider of this module."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def recent_posts(self, *, limit: int = 20) -> RecentPosts:
        return self.provider.recent_posts(limit=limit)


class SlowLink:
    """A slow link for the upload tests, without waiting: each request of ``operations``
    takes ``seconds`` out of the request deadline it runs under
    (:mod:`dialogo.providers.deadline`), as a link that slow would. Tests install
    :meth:`remaining` in place of ``deadline.remaining`` (``monkeypatch.setattr``); ``spent``
    says how long each deadline's requests took, so its keys count the leases used."""

    def __init__(self, seconds: float, operations: Collection[str]) -> None:
        self.seconds = seconds
        self.operations = frozenset(operations)
        self.spent: dict[float, float] = {}

    def charge(self, operation: str) -> None:
        current = deadlines.current()
        if operation in self.operations and current is not None:
            self.spent[current] = self.spent.get(current, 0.0) + self.seconds

    def remaining(self) -> float | None:
        current = deadlines.current()
        if current is None:
            return None
        return current - time.monotonic() - self.spent.get(current, 0.0)


class ScriptedApi:
    """The base of the HTTP fakes written from a network's documentation (an
    ``httpx.MockTransport`` handler, such as the video uploads' ``VideoApi`` of X and
    LinkedIn): :meth:`operation` names each request, the method ``_<operation>`` (lower case)
    answers it, and ``fail`` queues answers or exceptions given instead, per operation, to
    script failures (a 429, a 5xx, a lost answer). ``operations`` records what was asked."""

    def __init__(self) -> None:
        self.fail: dict[str, list[httpx.Response | Exception]] = {}
        self.operations: list[str] = []
        #: A slow link the requests take time from (``None``: instant).
        self.link: SlowLink | None = None

    def operation(self, request: httpx.Request) -> str:
        raise NotImplementedError

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        operation = self.operation(request)
        self.operations.append(operation)
        if self.link is not None:
            self.link.charge(operation)
        queued = self.fail.get(operation)
        if queued:
            answer = queued.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        handler: Callable[[httpx.Request], httpx.Response] = getattr(
            self, f"_{operation.lower()}", self._unknown
        )
        return handler(request)

    def _unknown(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": f"no route {request.method} {request.url}"})
