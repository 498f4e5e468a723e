"""Four worker threads on a committed-to database (PostgreSQL: SKIP LOCKED; SQLite: one writer
at a time) dispatch posts while the network loses answers and fails transiently: every post
ends on the network exactly once, and every unknown outcome is reconciled."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import select

from dialogo.accounts import service as accounts
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.clock import FrozenClock
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.jobs import service as jobs
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers.errors import RateLimited, TransientError
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork, credentials_for
from dialogo.publishing import dispatcher, tasks
from dialogo.publishing import service as publishing
from dialogo.publishing.models import PostVariant, VariantStatus
from dialogo.publishing.schemas import PostCreate, VariantIn
from dialogo.worker.runner import Worker
from tests.conftest import make_settings
from tests.factories import make_user, make_workspace
from tests.publishing.test_dispatcher import START

POSTS = 40
WORKERS = 4


def test_competing_workers_publish_each_post_exactly_once(fresh_database: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, fresh_database, worker_backoff_base_seconds=1.0)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    network = FakeNetwork("fakenet")
    providers = ProviderRegistry({"fakenet": network.provider_class()})
    cipher = CredentialCipher.from_settings(settings)
    clock = FrozenClock(START)
    # The network's posts are made on the workers' clock: a check asks back to the attempt
    # (``recent_posts(since=…)``), and wall-clock times years before the frozen one would
    # make the first page look as if it reached past it.
    network.now = clock.now
    try:
        with transaction(factory) as session:
            owner = make_user(session)
            principal = accounts.Principal.for_user(owner)
            workspace = make_workspace(session, owner)
            chans = []
            for n in range(3):
                account = network.add_account(f"brand{n}")
                chans.append(
                    channels.connect_channel(
                        session,
                        principal,
                        workspace.id,
                        ChannelConnect(
                            network="fakenet",
                            credentials=ChannelCredentialsIn(**credentials_for(account)),
                        ),
                        registry=providers,
                        cipher=cipher,
                    )
                )
            for i in range(POSTS):
                post = publishing.create_post(
                    session,
                    principal,
                    workspace.id,
                    PostCreate(
                        variants=[VariantIn(channel_id=c.id, text=f"post {i}") for c in chans]
                    ),
                )
                publishing.schedule_post(
                    session,
                    principal,
                    workspace.id,
                    post.id,
                    clock.now().replace(minute=1),
                    registry=providers,
                    cipher=cipher,
                    now=clock.now(),
                )
        clock.advance(minutes=2)
        network.lose_next_answers(10)  # the first ten publishes reach the network, unanswered
        network.fail_next(
            TransientError("503"), RateLimited("429", retry_after=2), TransientError("502")
        )
        registry = TaskRegistry()
        tasks.register(registry, providers=lambda _s: providers)
        workers = [
            Worker(settings, factory, registry, clock=clock, worker_id=f"host:{n}:w")
            for n in range(WORKERS)
        ]
        errors: list[BaseException] = []

        def drain(worker: Worker) -> None:
            try:
                while worker.run_once():
                    pass
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        for _round in range(30):
            with transaction(factory) as session:
                jobs.enqueue(session, dispatcher.DISPATCH_TASK, run_at=clock.now())
            threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert not errors, errors
            with factory() as session:
                states = Counter(session.scalars(select(PostVariant.status)).all())
            if set(states) == {VariantStatus.published.value}:
                break
            clock.advance(seconds=10)
        assert states == {VariantStatus.published.value: POSTS * len(chans)}, states
        per_key = Counter(p.idempotency_key for p in network.posts)
        assert len(per_key) == POSTS * len(chans)
        assert set(per_key.values()) == {1}, "a post was published twice"
        with factory() as session:
            variants = session.scalars(select(PostVariant)).all()
            remote = {p.idempotency_key: p.remote_id for p in network.posts}
            assert all(v.remote_id == remote[v.idempotency_key] for v in variants)
            assert sum(1 for v in variants if v.dispatch_round > 0) == 10  # reconciled
    finally:
        engine.dispose()
