"""Videos on X and LinkedIn through the dispatcher, the real providers talking to the
documented answers of their ``testing`` modules (``VideoApi``): the upload in one claim, the
processing followed by check_status (no worker waits), the post made once by finalise, and the
failures (processing failed, a 429 or a 5xx mid-upload, a worker dying mid-upload, a lost
answer to the post) ending in the right state with the network's reason and never a second
post. Runs on SQLite and PostgreSQL like every database test."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.clock import FrozenClock
from dialogo.core.config import Settings
from dialogo.core.db import transaction
from dialogo.jobs import service as jobs
from dialogo.jobs.registry import TaskRegistry
from dialogo.notifications.models import Notification
from dialogo.providers import deadline as deadlines
from dialogo.providers import video
from dialogo.providers.base import Credentials, Provider
from dialogo.providers.linkedin import testing as linkedin
from dialogo.providers.linkedin.provider import LinkedInProvider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import SlowLink
from dialogo.providers.x import provider as x_provider
from dialogo.providers.x import testing as x
from dialogo.providers.x.provider import XProvider
from dialogo.publishing import dispatcher, media, tasks
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Post, PostStatus, PostVariant, VariantStatus
from dialogo.publishing.schemas import PostCreate, VariantIn
from dialogo.worker.runner import Worker
from tests.publishing.conftest import Brand
from tests.publishing.test_dispatcher import START

Api = x.VideoApi | linkedin.VideoApi


@dataclasses.dataclass
class VideoRig:
    db: Session
    factory: sessionmaker[Session]
    clock: FrozenClock
    worker: Worker
    channel: Channel
    api: Api
    http: httpx.Client

    def run(self) -> PostVariant:
        with transaction(self.factory) as session:
            jobs.enqueue(session, dispatcher.DISPATCH_TASK, run_at=self.clock.now())
        while self.worker.run_once():
            pass
        self.db.expire_all()
        found = self.db.scalar(select(PostVariant).where(PostVariant.channel_id == self.channel.id))
        assert found is not None
        return found

    def wait_and_run(self) -> PostVariant:
        """Advance to the variant's next attempt (a poll, a retry) and run."""
        variant = self.run()
        assert variant.next_attempt_at is not None, variant.last_error
        due = variant.next_attempt_at.replace(tzinfo=dt.UTC)
        self.clock.advance(seconds=max(0.0, (due - self.clock.now()).total_seconds()))
        return self.run()

    def post(self) -> Post:
        self.db.expire_all()
        found = self.db.scalar(
            select(Post).join(PostVariant).where(PostVariant.channel_id == self.channel.id)
        )
        assert found is not None
        return found


NETWORKS: dict[str, tuple[type[Provider], dict[str, str], str]] = {
    "x": (XProvider, {"client_id": "client-123"}, "2244994945"),
    "linkedin": (LinkedInProvider, {"client_id": "86abc", "organization_id": "2414183"}, ""),
}


@pytest.fixture
def make_rig(
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    brand: Brand,
    cipher: CredentialCipher,
) -> Iterator[Callable[[str, Api, float], VideoRig]]:
    clients: list[httpx.Client] = []

    def make(network: str, api: Api, seconds: float = 20.0) -> VideoRig:
        provider_class, config, account = NETWORKS[network]
        asset = media.upload(
            db,
            brand.principal,
            brand.id,
            video.tiny_mp4(seconds, size=120_000),
            filename="tostatura.mp4",
            data_dir=settings.data_dir,
        )
        channel = Channel(
            workspace_id=brand.id,
            network=network,
            name=f"brand on {network}",
            account_remote_id=account or "urn:li:organization:2414183",
            account_handle="brand",
            config=config,
            credentials=cipher.encrypt(
                Credentials(
                    access_token=f"{network}-token",
                    account_id=account or None,
                    extra={"username": "brand"},
                )
            ),
            status=ChannelStatus.ok.value,
        )
        db.add(channel)
        db.flush()
        post = publishing.create_post(
            db,
            brand.principal,
            brand.id,
            PostCreate(
                variants=[
                    VariantIn(
                        channel_id=channel.id, text="Tostatura dal vivo", media=[str(asset.id)]
                    )
                ]
            ),
        )
        registry = ProviderRegistry({network: provider_class})
        clock = FrozenClock(START)
        publishing.schedule_post(
            db,
            brand.principal,
            brand.id,
            post.id,
            clock.now() + dt.timedelta(minutes=1),
            registry=registry,
            cipher=cipher,
            now=clock.now(),
        )
        db.commit()
        clock.advance(minutes=2)
        if isinstance(api, x.VideoApi):
            api.now = clock.now
        http = httpx.Client(transport=httpx.MockTransport(api))
        clients.append(http)
        tasks_ = TaskRegistry()
        tasks.register(tasks_, providers=lambda _settings: registry, http=http)
        worker = Worker(settings, session_factory, tasks_, clock=clock, worker_id="host:1:video")
        return VideoRig(db, session_factory, clock, worker, channel, api, http)

    yield make
    for client in clients:
        client.close()


def test_composer_checks_refuse_what_the_networks_refuse(
    db: Session, brand: Brand, settings: Settings
) -> None:
    two = [
        media.upload(
            db,
            brand.principal,
            brand.id,
            video.tiny_mp4(5 + i, size=1000),
            filename=f"{i}.mp4",
            data_dir=settings.data_dir,
        )
        for i in range(2)
    ]
    x_codes = {i.code for i in media.check(two, XProvider.capabilities.media, "X")}
    assert "too_many_videos" in x_codes and "media_too_small" not in x_codes
    li_codes = [
        (i.code, i.field)
        for i in media.check(two[:1], LinkedInProvider.capabilities.media, "LinkedIn")
    ]
    assert li_codes == [("media_too_small", "media[0]")]  # 75 KB at least


# --- X --------------------------------------------------------------------------------------


def test_an_x_video_is_uploaded_checked_until_processed_and_posted_once(
    make_rig: Callable[[str, Api, float], VideoRig],
) -> None:
    api = x.VideoApi(["in_progress", "in_progress", "succeeded"])
    rig = make_rig("x", api, 20.0)
    variant = rig.run()
    assert variant.status == VariantStatus.queued and variant.pending_state is not None
    assert rig.post().status == PostStatus.publishing and api.posts == []
    assert "processing the media" in (variant.last_error or "")
    while variant.status == VariantStatus.queued:
        variant = rig.wait_and_run()
    assert variant.status == VariantStatus.published, variant.last_error
    [post] = api.posts
    [media_id] = api.media
    assert post["media"] == {"media_ids": [media_id]} and post["text"] == "Tostatura dal vivo"
    assert variant.remote_id == post["id"] and variant.pending_state is None
    assert api.operations.count("INIT") == 1 and api.operations.count("STATUS") == 3
    assert rig.post().status == PostStatus.published


def test_an_x_video_that_fails_processing_fails_the_post_with_xs_reason(
    make_rig: Callable[[str, Api, float], VideoRig],
) -> None:
    api = x.VideoApi(["in_progress", "failed"], reason="Invalid video codec")
    rig = make_rig("x", api, 20.0)
    rig.run()
    variant = rig.wait_and_run()
    if variant.status == VariantStatus.queued:
        variant = rig.wait_and_run()
    assert variant.status == VariantStatus.failed
    assert "Invalid video codec" in (variant.last_error or "")
    assert rig.post().status == PostStatus.failed and api.posts == []
    note = rig.db.scalar(select(Notification).where(Notification.kind == "post_failed"))
    assert note is not None and "Invalid video codec" in note.body


def test_a_429_during_append_waits_then_resumes_the_same_upload_and_posts_once(
    make_rig: Callable[[str, Api, float], VideoRig],
) -> None:
    api = x.VideoApi(["succeeded"])
    answer = x.rate_limit_answer(120)
    api.fail["APPEND"] = [httpx.Response(429, headers=answer.headers, json=answer.json)]
    rig = make_rig("x", api, 20.0)
    variant = rig.run()
    assert variant.status == VariantStatus.queued and variant.pending_state is not None
    assert variant.pending_state["uploading"] and variant.attempts == 1  # the 429 counts
    [media_id] = api.media
    assert variant.pending_state["state"]["media_id"] == media_id
    assert variant.pending_state["state"]["next_segment"] == "0"
    assert "rate limit" in (variant.last_error or "") and "APPEND" in (variant.last_error or "")
    assert variant.next_attempt_at is not None
    wait = (variant.next_attempt_at.replace(tzinfo=dt.UTC) - rig.clock.now()).total_seconds()
    assert 100 <= wait <= 121  # X's x-rate-limit-reset
    rig.clock.advance(seconds=60)
    rig.run()  # still waiting: nothing sent
    assert api.operations == ["INIT", "APPEND"]
    while rig.run().status != VariantStatus.published:
        rig.wait_and_run()
    assert len(api.media) == 1 and len(api.posts) == 1  # the same upload went on, one post
    assert api.operations.count("INIT") == 1
    assert api.posts[0]["media"] == {"media_ids": [media_id]}


def test_a_worker_dying_mid_upload_and_a_lost_finalize_answer_make_one_post(
    make_rig: Callable[[str, Api, float], VideoRig],
) -> None:
    api = x.VideoApi(["succeeded"])
    api.fail["FINALIZE"] = [httpx.ReadTimeout("the worker was killed here")]
    rig = make_rig("x", api, 20.0)
    # A worker claims the variant and dies during the upload: its lease runs out.
    with transaction(rig.factory) as session:
        dispatcher.claim_batch(
            session, "host:9:dead", now=rig.clock.now(), lease=dt.timedelta(seconds=60)
        )
    rig.clock.advance(seconds=61)
    variant = rig.run()  # asks X first (nothing), then uploads; FINALIZE's answer is lost
    assert api.operations[:2] == ["timeline", "INIT"] and api.posts == []
    while variant.status != VariantStatus.published:
        variant = rig.wait_and_run()
    assert len(api.posts) == 1 and variant.remote_id == api.posts[0]["id"]
    # FINALIZE's lost answer kept the checkpoint: FINALIZE again, on the same upload.
    assert api.operations.count("INIT") == 1 and api.operations.count("FINALIZE") == 2


def test_a_lost_answer_to_the_post_is_reconciled_from_the_timeline_not_posted_again(
    make_rig: Callable[[str, Api, float], VideoRig],
) -> None:
    api = x.VideoApi(["succeeded"])
    rig = make_rig("x", api, 20.0)
    real = api._tweets

    def lost(request: httpx.Request) -> httpx.Response:
        real(request)  # X made the post; its answer never arrives
        raise httpx.ReadTimeout("answer lost")

    api._tweets = lost  # type: ignore[method-assign]
    variant = rig.run()
    variant = rig.wait_and_run()  # ready → finalise → the answer is lost
    assert variant.status == VariantStatus.unconfirmed and len(api.posts) == 1
    api._tweets = real  # type: ignore[method-assign]
    while variant.status != VariantStatus.published:
        variant = rig.wait_and_run()
    # The timeline's text carries X's media link; it still matches what was sent.
    assert len(api.posts) == 1 and variant.remote_id == api.posts[0]["id"]


# --- LinkedIn -------------------------------------------------------------------------------


def test_a_linkedin_video_is_uploaded_in_parts_processed_and_posted_once(
    make_rig: Callable[[str, Api, float], VideoRig],
) -> None:
    api = linkedin.VideoApi(["PROCESSING", "AVAILABLE"])
    rig = make_rig("linkedin", api, 20.0)
    variant = rig.run()
    assert variant.status == VariantStatus.queued and api.posts == []
    assert api.operations == ["initialize", "part", "finalize"]
    while variant.status == VariantStatus.queued:
        variant = rig.wait_and_run()
    assert variant.status == VariantStatus.published, variant.last_error
    [post] = api.posts
    [urn] = api.videos
    assert post["content"] == {"media": {"id": urn}} and variant.remote_id == post["id"]
    assert rig.post().status == PostStatus.published


def test_a_linkedin_video_that_fails_processing_fails_with_linkedins_reason(
    make_rig: Callable[[str, Api, float], VideoRig],
) -> None:
    api = linkedin.VideoApi(["PROCESSING_FAILED"], reason="Video codec not supported")
    rig = make_rig("linkedin", api, 20.0)
    rig.run()
    variant = rig.wait_and_run()
    assert variant.status == VariantStatus.failed
    assert "Video codec not supported" in (variant.last_error or "")
    assert api.posts == [] and rig.post().status == PostStatus.failed


def test_a_linkedin_part_answered_503_is_sent_again_on_the_same_upload_and_posted_once(
    make_rig: Callable[[str, Api, float], VideoRig],
) -> None:
    api = linkedin.VideoApi(["AVAILABLE"])
    api.fail["part"] = [
        httpx.Response(503, json={"status": 503, "code": "UNAVAILABLE", "message": "busy"})
    ]
    rig = make_rig("linkedin", api, 20.0)
    variant = rig.run()
    assert variant.status == VariantStatus.unconfirmed  # a 5xx: ask LinkedIn before retrying
    assert "LinkedIn is unavailable" in (variant.last_error or "") and api.posts == []
    while variant.status != VariantStatus.published:
        variant = rig.wait_and_run()
    assert len(api.videos) == 1 and len(api.posts) == 1  # the checkpoint was kept
    assert api.operations.count("initialize") == 1 and api.operations.count("part") == 2
    assert api.operations.count("posts") == 1  # the reconciliation's finder, before retrying


# --- uploads longer than a lease ------------------------------------------------------------

#: Each part takes 12 s on this link: with the default 60 s lease (requests end by 40 s) two
#: parts fit in a lease, so a video of six parts takes three leases.
PART_SECONDS = 12.0


@pytest.fixture
def slow_link(monkeypatch: pytest.MonkeyPatch) -> Callable[[Api], SlowLink]:
    """A slow link under the real request deadlines, and parts small enough that the video
    (120,000 bytes) is six of them on both networks."""
    monkeypatch.setattr(x_provider, "VIDEO_CHUNK", 20_000)
    monkeypatch.setattr(linkedin, "PART", 20_000)

    def install(api: Api) -> SlowLink:
        link = SlowLink(PART_SECONDS, {"APPEND", "part"})
        api.link = link
        monkeypatch.setattr(deadlines, "remaining", link.remaining)
        return link

    return install


class WorkerKilled(Exception):
    """The worker process dies here: nothing after this point of the lane runs."""


def _kill_at_call(api: Api, operation: str, n: int) -> None:
    """The ``n``-th request of ``operation`` reaches the network, then the worker dies."""
    handler = getattr(api, f"_{operation.lower()}")
    calls = []

    def dying(request: httpx.Request) -> httpx.Response:
        answer = handler(request)
        calls.append(1)
        if len(calls) == n:
            raise WorkerKilled(f"killed after {operation} {n}")
        return answer

    setattr(api, f"_{operation.lower()}", dying)


@pytest.mark.parametrize("net", ["x", "linkedin"])
def test_an_upload_split_over_three_leases_finishes_with_one_post(
    make_rig: Callable[[str, Api, float], VideoRig],
    slow_link: Callable[[Api], SlowLink],
    net: str,
) -> None:
    api: Api = x.VideoApi(["succeeded"]) if net == "x" else linkedin.VideoApi(["AVAILABLE"])
    link = slow_link(api)
    rig = make_rig(net, api, 20.0)
    variant = rig.run()  # the lane goes on with the next lease at once, until processing
    assert len(link.spent) == 3  # three request deadlines: three leases for the parts
    assert sorted(link.spent.values()) == [2 * PART_SECONDS] * 3
    assert variant.status == VariantStatus.queued and variant.pending_state is not None
    assert not variant.pending_state.get("uploading")  # uploaded: now processing
    assert variant.attempts == 1  # the publish; the two continuations were not attempts
    while variant.status == VariantStatus.queued:
        variant = rig.wait_and_run()
    assert variant.status == VariantStatus.published, variant.last_error
    assert len(api.posts) == 1 and variant.remote_id == api.posts[0]["id"]
    if isinstance(api, x.VideoApi):
        [media_id] = api.media
        assert api.appends == [(media_id, i) for i in range(6)]
        assert api.operations.count("INIT") == 1 and api.operations.count("FINALIZE") == 1
    else:
        [urn] = api.videos
        assert sorted(api.videos[urn]["parts"]) == list(range(6))
        assert api.operations.count("part") == 6 and api.operations.count("finalize") == 1
    assert rig.post().status == PostStatus.published


def test_a_checkpoint_is_recorded_between_leases_and_the_post_can_still_be_cancelled(
    make_rig: Callable[[str, Api, float], VideoRig],
    slow_link: Callable[[Api], SlowLink],
) -> None:
    api = x.VideoApi(["succeeded"])
    slow_link(api)
    _kill_at_call(api, "APPEND", 3)  # the second lease's first part: the lane stops there
    rig = make_rig("x", api, 20.0)
    variant = rig.run()
    [media_id] = api.media
    assert variant.pending_state == {
        "uploading": True,
        "state": {
            "media_id": media_id,
            "chunk": "20000",
            "next_segment": "2",
            "total_bytes": "120000",
            "expires_at": variant.pending_state["state"]["expires_at"],
        },
        "since": variant.pending_state["since"],
        "leases": 1,
    }
    assert variant.status == VariantStatus.unconfirmed  # the dead lane's lease still holds
    assert "being uploaded" in (variant.last_error or "") and variant.attempts == 0


def test_a_worker_killed_mid_upload_resumes_from_the_checkpoint_and_posts_once(
    make_rig: Callable[[str, Api, float], VideoRig],
    slow_link: Callable[[Api], SlowLink],
) -> None:
    api = x.VideoApi(["succeeded"])
    slow_link(api)
    # Lease 1 sends segments 0-1 and records them; lease 2 sends 2 and 3, and the worker dies
    # with segment 3 on X but nothing recorded.
    _kill_at_call(api, "APPEND", 4)
    rig = make_rig("x", api, 20.0)
    variant = rig.run()
    assert variant.status == VariantStatus.unconfirmed and variant.lease_until is not None
    assert variant.pending_state is not None
    assert variant.pending_state["state"]["next_segment"] == "2"  # the last recorded
    # The dead worker's claim runs out: its lease and the takeover fence after it.
    rig.clock.advance(seconds=60 * (1 + dispatcher.TAKEOVER_FENCE) + 1)
    variant = rig.run()
    while variant.status != VariantStatus.published:
        variant = rig.wait_and_run()
    [media_id] = api.media  # the same upload session, never a second INIT
    segments = [i for _, i in api.appends]
    assert segments == [0, 1, 2, 3, 2, 3, 4, 5]  # sent but not recorded: sent again
    assert "timeline" in api.operations  # the lost lease: X asked before going on
    assert len(api.posts) == 1 and api.posts[0]["media"] == {"media_ids": [media_id]}


def test_an_expired_x_upload_session_restarts_cleanly_and_posts_once(
    make_rig: Callable[[str, Api, float], VideoRig],
    slow_link: Callable[[Api], SlowLink],
) -> None:
    api = x.VideoApi(["succeeded"])
    api.expires_after = 3600  # X forgets an unfinished upload after an hour
    slow_link(api)
    _kill_at_call(api, "APPEND", 3)  # the worker dies at the start of the second lease
    rig = make_rig("x", api, 20.0)
    rig.run()
    [first] = api.media
    rig.clock.advance(hours=2)  # the session expired meanwhile
    variant = rig.run()
    while variant.status != VariantStatus.published:
        variant = rig.wait_and_run()
    assert len(api.media) == 2  # a new INIT, from segment 0
    second = list(api.media)[1]
    assert [i for m, i in api.appends if m == second] == list(range(6))
    assert api.media[second]["segments"] == dict.fromkeys(range(6), 20_000)
    assert len(api.posts) == 1 and api.posts[0]["media"] == {"media_ids": [second]}
    assert first not in str(api.posts)
