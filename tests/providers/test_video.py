"""The shared video rules: the duration an MP4/QuickTime file declares in its ``mvhd`` box
(ISO/IEC 14496-12 §8.2.2: version 0 with 32-bit fields, version 1 with 64-bit ones, a
64-bit ``largesize``, all ones for "unknown") and the checks of :func:`video_issues`."""

from __future__ import annotations

import struct

from dialogo.providers.base import AuthKind, Capabilities, Media, MediaRules
from dialogo.providers.contract import capability_problems
from dialogo.providers.video import mp4_duration, mp4_info, tiny_mp4, video_issues
from dialogo.providers.x.provider import XProvider


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def test_the_duration_is_read_from_a_version_0_movie_header() -> None:
    assert mp4_duration(tiny_mp4(12.5)) == 12.5
    assert mp4_duration(tiny_mp4(1800, size=200_000)) == 1800


def test_a_version_1_header_inside_a_largesize_box_is_read() -> None:
    mvhd = _box(b"mvhd", struct.pack(">B3xQQIQ", 1, 0, 0, 90_000, 90_000 * 61) + bytes(80))
    moov = struct.pack(">I4sQ", 1, b"moov", 16 + len(mvhd)) + mvhd
    data = _box(b"ftyp", b"isom\0\0\2\0") + _box(b"mdat", b"\0" * 64) + moov
    assert mp4_duration(data) == 61


def test_an_unknown_or_unreadable_duration_is_none() -> None:
    unknown = _box(b"moov", _box(b"mvhd", struct.pack(">B3xIIII", 0, 0, 0, 600, 0xFFFFFFFF)))
    assert mp4_duration(unknown) is None
    assert mp4_duration(b"not a video at all") is None
    assert mp4_duration(tiny_mp4(5)[:30]) is None  # cut short inside the moov box


def test_video_issues_check_size_both_ways_and_leave_images_alone() -> None:
    rules = MediaRules(
        video_types=frozenset({"video/mp4"}),
        max_video_bytes=2048,
        min_video_bytes=1024,
        max_videos=1,
        mix_images_and_video=True,
    )
    small, large = tiny_mp4(5, size=200), tiny_mp4(5, size=4096)
    codes = [
        i.code
        for i in video_issues([Media(small, "video/mp4")], rules, network="N")
        + video_issues([Media(large, "video/mp4")], rules, network="N")
    ]
    assert codes == ["media_too_small", "media_too_large"]
    assert video_issues([Media(b"\x89PNG", "image/png")] * 9, rules, network="N") == []
    fine = tiny_mp4(5, size=1500)
    mixed = [Media(b"\x89PNG", "image/png"), Media(fine, "video/mp4")]
    assert video_issues(mixed, rules, network="N") == []  # this network mixes them
    [issue] = video_issues(mixed, MediaRules(max_video_bytes=2048), network="N", prefix="t.")
    assert (issue.code, issue.field) == ("media_mix", "t.media")


def test_the_contract_catches_incoherent_video_rules() -> None:
    bad = MediaRules(
        max_items=2,
        max_video_bytes=100,
        min_video_bytes=200,
        max_videos=3,
        min_video_seconds=10,
        max_video_seconds=5,
    )

    class Incoherent(XProvider):
        capabilities = Capabilities(
            network="incoherent", display_name="I", auth=AuthKind.none, text_limit=9, media=bad
        )

    problems = capability_problems(Incoherent, "incoherent")
    assert "max_videos 3 is not within 0..max_items" in problems
    assert "min_video_bytes is above max_video_bytes" in problems
    assert "the video duration limits are not an increasing positive range" in problems
    assert capability_problems(XProvider, "x") == []


def test_the_picture_size_comes_from_the_first_track_header_that_has_one() -> None:
    info = mp4_info(tiny_mp4(151, width=1920, height=1080))
    assert info is not None and (info.seconds, info.width, info.height) == (151, 1920, 1080)
    sound = _box(b"trak", _box(b"tkhd", bytes(84)))  # an audio track: no picture
    v1 = _box(
        b"trak",
        _box(
            b"tkhd",
            struct.pack(">B3xQQIIQ", 1, 0, 0, 1, 0, 0) + bytes(52) + b"\0\x05\0\0\0\x03\0\0",
        ),
    )
    mvhd = _box(b"mvhd", struct.pack(">B3xIIII", 0, 0, 0, 600, 600 * 9) + bytes(80))
    info = mp4_info(_box(b"moov", mvhd + sound + v1))
    assert info is not None and (info.seconds, info.width, info.height) == (9, 5, 3)
    no_picture = mp4_info(tiny_mp4(4))
    assert no_picture is not None and no_picture.width is None and no_picture.height is None


def test_a_fragmented_file_gives_its_length_in_the_movie_extends_header() -> None:
    mvhd = _box(b"mvhd", struct.pack(">B3xIIII", 0, 0, 0, 1000, 0) + bytes(80))
    mvex = _box(b"mvex", _box(b"mehd", struct.pack(">B3xI", 0, 151_000)))
    assert mp4_duration(_box(b"moov", mvhd + mvex)) == 151
    info = mp4_info(_box(b"moov", mvhd))  # fragmented without mehd: length unknown
    assert info is not None and info.seconds is None
