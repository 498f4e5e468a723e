"""Video on X, against answers written from docs.x.com: "Chunked media upload" (INIT with
``media_category=tweet_video``, APPEND segments of at most 5 MB with their ``segment_index``,
FINALIZE answering a ``processing_info``), "Get media upload status" (``pending`` →
``in_progress`` → ``succeeded``/``failed``, ``check_after_secs``), "Media best practices"
(MP4/MOV, 512 MB, 0.5-140 s, one video and no images with it) and Create Post
(``media.media_ids``)."""

from __future__ import annotations

import httpx
import pytest

from dialogo.providers.base import Credentials, Draft, Media
from dialogo.providers.errors import InvalidPayload, RateLimited
from dialogo.providers.video import tiny_mp4
from dialogo.providers.x.provider import VIDEO_CHUNK, XProvider
from dialogo.providers.x.testing import VideoApi, rate_limit_answer

ME = "2244994945"


def provider(api: VideoApi) -> XProvider:
    return XProvider(
        Credentials(access_token="user-token", account_id=ME, extra={"username": "brand"}),
        http=httpx.Client(transport=httpx.MockTransport(api)),
        config={"client_id": "client-123"},
    )


def test_a_video_is_uploaded_in_segments_then_pending_and_no_post_is_made() -> None:
    api = VideoApi()
    video = tiny_mp4(30, size=2 * VIDEO_CHUNK + 1000)
    result = provider(api).publish(Draft(text="Tostatura", media=[Media(video, "video/mp4")]))
    assert result.pending and result.remote_id is None
    [(media_id, media)] = api.media.items()
    assert result.state["media_id"] == media_id and result.state["processing"] == "pending"
    assert media["category"] == "tweet_video" and media["total"] == len(video)
    assert media["segments"] == {0: VIDEO_CHUNK, 1: VIDEO_CHUNK, 2: 1000}  # each under 5 MB
    assert api.operations == ["INIT", "APPEND", "APPEND", "APPEND", "FINALIZE"]
    assert api.posts == []  # the post is made by finalise, never at the end of an upload


def test_status_is_asked_once_per_check_then_the_post_carries_the_video() -> None:
    api = VideoApi(["pending", "in_progress", "succeeded"])
    x = provider(api)
    pending = x.publish(
        Draft(text="Live", media=[Media(tiny_mp4(5), "video/mp4")], thread=[Draft(text="2/2")])
    )
    for expected in ("pending", "in_progress"):
        pending = x.check_status(pending)
        assert pending.pending and pending.state["processing"] == expected
        assert pending.state["check_after_secs"] == "5"
    ready = x.check_status(pending)
    assert not ready.pending and api.operations.count("STATUS") == 3
    result = x.finalise(ready)
    media_id = ready.state["media_id"]
    assert [p["media"] for p in api.posts[:1]] == [{"media_ids": [media_id]}]
    assert api.posts[1]["reply"] == {"in_reply_to_tweet_id": result.remote_id}
    assert result.remote_id == api.posts[0]["id"] and list(result.thread_ids) == [
        api.posts[1]["id"]
    ]
    assert result.url == f"https://x.com/brand/status/{result.remote_id}"


def test_a_video_x_cannot_process_fails_with_its_reason() -> None:
    api = VideoApi(["failed"], reason="Video duration is too long")
    x = provider(api)
    pending = x.publish(Draft(text="Rotto", media=[Media(tiny_mp4(5), "video/mp4")]))
    with pytest.raises(InvalidPayload, match="Video duration is too long") as raised:
        x.check_status(pending)
    assert raised.value.issues == ["video_processing_failed"]
    assert api.posts == []


def test_finalize_without_processing_info_is_ready_without_asking_status() -> None:
    api = VideoApi()
    api.fail["FINALIZE"] = [
        httpx.Response(200, json={"data": {"id": "1880028106020515840", "size": 9}})
    ]
    x = provider(api)
    pending = x.publish(Draft(text="Pronto", media=[Media(tiny_mp4(5), "video/mp4")]))
    assert pending.pending  # still made by finalise, in its own short step
    assert not x.check_status(pending).pending
    assert "STATUS" not in api.operations


def test_a_429_during_append_raises_rate_limited_and_finalizes_and_posts_nothing() -> None:
    api = VideoApi()
    answer = rate_limit_answer(60)
    api.fail["APPEND"] = [httpx.Response(answer.status, headers=answer.headers, json=answer.json)]
    with pytest.raises(RateLimited) as raised:
        provider(api).publish(Draft(text="x", media=[Media(tiny_mp4(5), "video/mp4")]))
    assert 55 <= raised.value.retry_after <= 61
    assert "APPEND" in raised.value.message
    assert api.operations == ["INIT", "APPEND"] and api.posts == []


def test_the_timeline_text_of_a_video_post_matches_the_text_sent() -> None:
    api = VideoApi(["succeeded"])
    x = provider(api)
    x.finalise(
        x.check_status(x.publish(Draft(text="Con video", media=[Media(tiny_mp4(5), "video/mp4")])))
    )
    [found] = x.recent_posts()
    assert found.state["text"] == "Con video"  # X's appended media link is not ours


@pytest.mark.parametrize(
    ("media", "code"),
    [
        ([Media(tiny_mp4(140.5), "video/mp4")], "video_too_long"),  # best practices: 140 s
        ([Media(tiny_mp4(0.4), "video/mp4")], "video_too_short"),  # 0.5 s
        ([Media(tiny_mp4(5), "video/mp4")] * 2, "too_many_videos"),  # one per post
        ([Media(tiny_mp4(5), "video/mp4"), Media(b"\x89PNG", "image/png")], "media_mix"),
        ([Media(b"\x1aE\xdf\xa3", "video/webm")], "media_type"),  # MP4 and MOV only
    ],
)
def test_video_rules_from_the_documentation(media: list[Media], code: str) -> None:
    issues = provider(VideoApi()).validate(Draft(text="x", media=media))
    assert code in {i.code for i in issues}, issues


def test_video_duration_limits_are_inclusive() -> None:
    x = provider(VideoApi())
    assert x.validate(Draft(text="x", media=[Media(tiny_mp4(140), "video/quicktime")])) == []
    assert x.validate(Draft(text="x", media=[Media(tiny_mp4(0.5), "video/mp4")])) == []
    [issue] = x.validate(Draft(text="x", media=[Media(tiny_mp4(141), "video/mp4")]))
    assert issue.message == "the video lasts 141.0 s; X takes up to 140 s"
    [issue] = x.validate(Draft(text="x", media=[Media(tiny_mp4(5), "video/mp4")] * 2))
    assert issue.message == "2 videos; X takes 1 per post"
