"""Video on LinkedIn, against answers written from learn.microsoft.com/linkedin's "Videos API"
(``initializeUpload`` with ``fileSizeBytes``, ``uploadInstructions`` with byte ranges of 4 MB,
a PUT per part answering an ``ETag``, ``finalizeUpload`` with ``uploadToken`` and
``uploadedPartIds``, ``GET /rest/videos/{urn}`` statuses ``WAITING_UPLOAD``, ``PROCESSING``,
``AVAILABLE``, ``PROCESSING_FAILED``; video specifications: MP4, 75 KB-500 MB, 3 s-30 min)
and the "Posts API" (``content.media.id`` a video URN)."""

from __future__ import annotations

import json

import httpx
import pytest

from dialogo.providers.base import Credentials, Draft, Media
from dialogo.providers.errors import InvalidPayload, RateLimited, TransientError
from dialogo.providers.linkedin.provider import LinkedInProvider
from dialogo.providers.linkedin.testing import PART, VideoApi, rate_limit_answer
from dialogo.providers.video import tiny_mp4

ORG = "urn:li:organization:2414183"


def provider(api: VideoApi) -> LinkedInProvider:
    return LinkedInProvider(
        Credentials(access_token="li-token"),
        http=httpx.Client(transport=httpx.MockTransport(api)),
        config={"client_id": "86abc", "organization_id": "2414183"},
    )


def test_a_video_is_put_in_its_byte_ranges_finalised_with_the_etags_then_pending() -> None:
    api = VideoApi()
    video = tiny_mp4(45, size=2 * PART + 5000)
    li = provider(api)
    result = li.publish(
        Draft(text="Dietro le quinte (torrefazione)", media=[Media(video, "video/mp4")])
    )
    assert result.pending and result.remote_id is None
    [(urn, stored)] = api.videos.items()
    assert result.state == {"video": urn, "text": "Dietro le quinte (torrefazione)"}
    assert stored["owner"] == ORG and stored["size"] == len(video)
    assert [n for _, n in stored["parts"].values()] == [PART, PART, 5000]
    assert api.operations == ["initialize", "part", "part", "part", "finalize"]
    assert stored["status"] == "PROCESSING" and api.posts == []  # finalizeUpload accepted
    # The parts go to LinkedIn's signed upload URLs without the API token, as its example.
    assert all("authorization" not in h for h in api.part_headers)


def test_the_status_is_read_once_per_check_and_the_post_carries_the_video() -> None:
    api = VideoApi(["WAITING_UPLOAD", "PROCESSING", "AVAILABLE"])
    li = provider(api)
    pending = li.publish(
        Draft(text="#nuovo", media=[Media(tiny_mp4(10, size=80_000), "video/mp4")])
    )
    for status in ("WAITING_UPLOAD", "PROCESSING"):
        pending = li.check_status(pending)
        assert pending.pending and pending.state["status"] == status
    ready = li.check_status(pending)
    assert not ready.pending and api.operations.count("status") == 3
    result = li.finalise(ready)
    [post] = api.posts
    assert post["content"] == {"media": {"id": pending.state["video"]}}
    assert post["author"] == ORG and post["commentary"] == "\\#nuovo"
    assert result.remote_id == post["id"]
    assert result.url == f"https://www.linkedin.com/feed/update/{post['id']}/"


def test_a_video_linkedin_cannot_process_fails_with_its_reason() -> None:
    api = VideoApi(["PROCESSING_FAILED"], reason="Unsupported codec")
    li = provider(api)
    pending = li.publish(Draft(text="x", media=[Media(tiny_mp4(10, size=80_000), "video/mp4")]))
    with pytest.raises(InvalidPayload, match="Unsupported codec") as raised:
        li.check_status(pending)
    assert raised.value.issues == ["video_processing_failed"] and api.posts == []


def test_a_part_answered_5xx_is_transient_and_nothing_is_finalised() -> None:
    api = VideoApi()
    api.fail["part"] = [
        httpx.Response(
            503,
            json={"status": 503, "serviceErrorCode": 0, "code": "UNAVAILABLE", "message": "busy"},
        )
    ]
    with pytest.raises(TransientError, match="video part 1 of 1"):
        provider(api).publish(
            Draft(text="x", media=[Media(tiny_mp4(10, size=80_000), "video/mp4")])
        )
    assert api.operations == ["initialize", "part"] and api.posts == []


def test_a_429_on_initialize_waits_as_linkedin_says() -> None:
    api = VideoApi()
    answer = rate_limit_answer(90)
    api.fail["initialize"] = [
        httpx.Response(answer.status, headers=answer.headers, json=answer.json)
    ]
    with pytest.raises(RateLimited) as raised:
        provider(api).publish(
            Draft(text="x", media=[Media(tiny_mp4(10, size=80_000), "video/mp4")])
        )
    assert raised.value.retry_after == 90


def test_a_part_without_an_etag_cannot_be_finalised_and_is_transient() -> None:
    api = VideoApi()
    api.fail["part"] = [httpx.Response(200)]
    with pytest.raises(TransientError, match="without an ETag"):
        provider(api).publish(
            Draft(text="x", media=[Media(tiny_mp4(10, size=80_000), "video/mp4")])
        )
    assert "finalize" not in api.operations


@pytest.mark.parametrize(
    ("media", "message"),
    [
        (
            [Media(tiny_mp4(10, size=75 * 1024 - 1), "video/mp4")],
            "the video is 74.999 KB; LinkedIn needs at least 75 KB",
        ),
        (
            [Media(tiny_mp4(2.5, size=80_000), "video/mp4")],
            "the video lasts 2.5 s; LinkedIn needs at least 3 s",
        ),
        (
            [Media(tiny_mp4(1800.5, size=80_000), "video/mp4")],
            "the video lasts 1800.5 s; LinkedIn takes up to 30 min",
        ),
        (
            [Media(tiny_mp4(10, size=80_000, brand=b"qt  "), "video/quicktime")],
            "video/quicktime: LinkedIn takes videos as MP4",
        ),
    ],
)
def test_video_rules_from_the_videos_api_specifications(media: list[Media], message: str) -> None:
    issues = provider(VideoApi()).validate(Draft(text="x", media=media))
    assert [i.message for i in issues] == [message]


def test_the_finder_lists_the_video_post_for_reconciliation() -> None:
    api = VideoApi(["AVAILABLE"])
    li = provider(api)
    li.finalise(
        li.check_status(
            li.publish(Draft(text="trovami", media=[Media(tiny_mp4(10, size=80_000), "video/mp4")]))
        )
    )
    [found] = li.recent_posts()
    assert found.state["text"] == "trovami" and found.remote_id == api.posts[0]["id"]
    assert json.loads(json.dumps(api.posts[0]["content"]))["media"]["id"].startswith(
        "urn:li:video:"
    )
