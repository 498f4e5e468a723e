"""Resumable video uploads at the provider level (:mod:`dialogo.providers.uploads`): parts are
sent while they fit in the request deadline, then a checkpoint comes back (nothing posted);
``resume_upload`` goes on from it; a session about to expire or refused is begun again
cleanly; a lease that sends nothing is an error carrying the checkpoint. The link's slowness
is simulated against real request deadlines (:class:`SlowLink`), never waited for."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from dialogo.providers import deadline as deadlines
from dialogo.providers import uploads
from dialogo.providers.base import Credentials, Draft, Media, Provider, PublishResult
from dialogo.providers.errors import InsufficientScopes, TransientError
from dialogo.providers.linkedin import testing as linkedin
from dialogo.providers.linkedin.provider import LinkedInProvider
from dialogo.providers.testing import SlowLink
from dialogo.providers.video import tiny_mp4
from dialogo.providers.x import provider as x_provider
from dialogo.providers.x import testing as x
from dialogo.providers.x.provider import XProvider

VIDEO = tiny_mp4(20, size=120_000)  # six parts of 20,000 bytes
DRAFT = Draft(text="Tostatura", media=[Media(VIDEO, "video/mp4")])


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(x_provider, "VIDEO_CHUNK", 20_000)
    monkeypatch.setattr(linkedin, "PART", 20_000)
    yield


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Callable[[x.VideoApi | linkedin.VideoApi], None]:
    def install(api: x.VideoApi | linkedin.VideoApi) -> None:
        api.link = SlowLink(12.0, {"APPEND", "part"})
        monkeypatch.setattr(deadlines, "remaining", api.link.remaining)

    return install


def lease(seconds: float = 40.0) -> contextlib.AbstractContextManager[None]:
    """A fresh request deadline, as the dispatcher sets for each claim."""
    return deadlines.request_deadline(time.monotonic() + seconds)


def x_provider_for(api: x.VideoApi) -> Provider:
    return XProvider(
        Credentials(access_token="t", account_id="2244994945"),
        http=httpx.Client(transport=httpx.MockTransport(api)),
        config={"client_id": "c"},
    )


def linkedin_provider_for(api: linkedin.VideoApi) -> Provider:
    return LinkedInProvider(
        Credentials(access_token="t"),
        http=httpx.Client(transport=httpx.MockTransport(api)),
        config={"organization_id": "2414183"},
    )


def test_x_sends_what_fits_then_resumes_from_the_checkpoint(
    slow: Callable[[x.VideoApi], None],
) -> None:
    api = x.VideoApi(["succeeded"])
    slow(api)
    p = x_provider_for(api)
    with lease():
        first = p.publish(DRAFT)
    assert first.pending and first.uploading and first.remote_id is None
    assert first.state["next_segment"] == "2" and api.posts == []
    with lease():
        second = p.resume_upload(first, DRAFT)
    with lease():
        done = p.resume_upload(second, DRAFT)
    assert not done.uploading and done.pending and done.state["text"] == "Tostatura"
    [media_id] = api.media
    assert api.appends == [(media_id, i) for i in range(6)]
    assert api.operations.count("FINALIZE") == 1 and api.posts == []
    assert first.state["media_id"] == media_id == done.state["media_id"]


def test_a_checkpoint_close_to_its_expiry_is_not_resumed_a_new_upload_begins(
    slow: Callable[[x.VideoApi], None],
) -> None:
    api = x.VideoApi(["succeeded"])
    slow(api)
    p = x_provider_for(api)
    with lease():
        first = p.publish(DRAFT)
    soon = dt.datetime.now(dt.UTC) + uploads.EXPIRY_MARGIN / 2
    stale = dataclasses.replace(first, state={**first.state, "expires_at": soon.isoformat()})
    with lease():
        again = p.resume_upload(stale, DRAFT)
    assert api.operations.count("INIT") == 2 and again.state["media_id"] != first.state["media_id"]
    assert [i for m, i in api.appends if m == again.state["media_id"]] == [0, 1]


def test_a_session_x_refuses_on_resume_is_begun_again_once(
    slow: Callable[[x.VideoApi], None],
) -> None:
    api = x.VideoApi(["succeeded"])
    slow(api)
    p = x_provider_for(api)
    with lease():
        first = p.publish(DRAFT)
    api.now = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=2)  # X forgot it
    with lease():
        again = p.resume_upload(first, DRAFT)
    assert api.operations.count("INIT") == 2 and again.uploading
    assert again.state["media_id"] != first.state["media_id"]
    assert again.state["next_segment"] == "1"  # the refused APPEND took the first part's time


def test_a_lease_too_short_for_one_part_is_an_error_that_keeps_the_checkpoint(
    slow: Callable[[x.VideoApi], None],
) -> None:
    api = x.VideoApi(["succeeded"])
    slow(api)
    p = x_provider_for(api)
    with lease():
        first = p.publish(DRAFT)
    with lease(4.0), pytest.raises(TransientError) as raised:
        p.resume_upload(first, DRAFT)
    assert uploads.checkpoint_of(raised.value) == first.state
    assert "no part of the video could be sent" in raised.value.message


def test_linkedin_collects_etags_across_leases_and_finalizes_them_in_order(
    slow: Callable[[linkedin.VideoApi], None],
) -> None:
    api = linkedin.VideoApi(["AVAILABLE"])
    slow(api)
    p = linkedin_provider_for(api)
    result: PublishResult | None = None
    for _ in range(3):
        with lease():
            result = p.publish(DRAFT) if result is None else p.resume_upload(result, DRAFT)
    assert result is not None and not result.uploading and result.pending
    [urn] = api.videos
    assert result.state == {"video": urn, "text": "Tostatura"}
    assert api.operations.count("initialize") == 1 and api.operations.count("finalize") == 1
    assert api.videos[urn]["status"] == "PROCESSING"  # finalizeUpload took the six ETags


def test_an_expired_linkedin_upload_url_begins_the_upload_again_without_flagging_the_channel(
    slow: Callable[[linkedin.VideoApi], None],
) -> None:
    api = linkedin.VideoApi(["AVAILABLE"])
    slow(api)
    p = linkedin_provider_for(api)
    with lease():
        first = p.publish(DRAFT)
    api.now = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=2)  # the URLs expired
    late = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)  # though the checkpoint says not
    stale = dataclasses.replace(first, state={**first.state, "expires_at": late.isoformat()})
    try:
        with lease():
            again = p.resume_upload(stale, DRAFT)
    except InsufficientScopes:  # pragma: no cover - the failure this test guards against
        pytest.fail("an expired upload URL flagged the channel")
    assert len(api.videos) == 2 and again.uploading
    assert again.state["video"] != first.state["video"]
