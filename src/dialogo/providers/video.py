"""Video rules shared by the providers that upload videos themselves (X, LinkedIn).

:func:`mp4_duration` reads a video's length from its ``mvhd`` box (ISO/IEC 14496-12 §8.2.2,
the "movie header" of MP4 and QuickTime files: a time scale in units per second and a
duration in those units), so a draft too short or too long for the network is refused before
anything is uploaded. It reads only box headers; a file whose header it cannot find gives
``None`` and the duration is then left to the network (which refuses it while processing:
the dispatcher fails the post with the network's reason).

The composer validates with stand-ins that carry no bytes (``Media.content == b""``: the media
library checked sizes from its rows without reading the files), so a video without bytes is
checked for its type and count only.

:func:`video_issues` checks the videos of one post against a provider's
:class:`~dialogo.providers.base.MediaRules`: how many, no mixing with images, type, size,
duration. The images of the post stay the provider's own business.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from dialogo.providers.base import Media, MediaRules, ValidationIssue

_CONTAINERS = (b"moov",)


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes between ``start`` and ``end``."""
    found: list[tuple[bytes, int, int]] = []
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:  # a 64-bit "largesize" follows the type
            if at + 16 > end:
                break
            (size,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        elif size == 0:  # the box runs to the end of the file
            size = end - at
        if size < header or at + size > end:
            break
        found.append((kind, at + header, at + size))
        at += size
    return found


def mp4_duration(content: bytes) -> float | None:
    """The length in seconds an MP4 or QuickTime file declares, or ``None`` when unknown."""
    for kind, start, end in _boxes(content, 0, len(content)):
        if kind not in _CONTAINERS:
            continue
        for inner, body, stop in _boxes(content, start, end):
            if inner != b"mvhd" or stop - body < 4:
                continue
            version = content[body]
            try:
                if version == 1:
                    scale, length = struct.unpack_from(">IQ", content, body + 4 + 16)
                else:
                    scale, length = struct.unpack_from(">II", content, body + 4 + 8)
            except struct.error:
                return None
            if scale <= 0 or length in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
                return None  # all ones: "duration unknown" (§8.2.2.3)
            return float(length) / float(scale)
    return None


def tiny_mp4(seconds: float, *, size: int = 0, brand: bytes = b"isom") -> bytes:
    """A minimal MP4 declaring ``seconds`` (an ``ftyp``, a ``moov`` with its ``mvhd``, and a
    ``free`` box padding it to ``size`` bytes): what the fixtures upload. Not a playable video,
    but every byte the validators and the media library look at is right."""
    ftyp = struct.pack(">I4s4sI", 16, b"ftyp", brand, 0x200)
    scale = 1000
    mvhd_body = struct.pack(">B3xIIII", 0, 0, 0, scale, round(seconds * scale)) + bytes(80)
    mvhd = struct.pack(">I4s", 8 + len(mvhd_body), b"mvhd") + mvhd_body
    moov = struct.pack(">I4s", 8 + len(mvhd), b"moov") + mvhd
    head = ftyp + moov
    pad = max(8, size - len(head))
    return head + struct.pack(">I4s", pad, b"free") + bytes(pad - 8)


def _megabytes(value: int) -> str:
    return f"{value / 1_048_576:g} MB" if value >= 1_048_576 else f"{value / 1024:g} KB"


def _seconds(value: float) -> str:
    if value >= 120 and value % 60 == 0:
        return f"{value / 60:g} minutes"
    return f"{value:g} s"


def video_issues(
    media: Sequence[Media], rules: MediaRules, *, network: str, prefix: str = ""
) -> list[ValidationIssue]:
    """What ``network`` would refuse in the videos of one post (see the module docstring)."""
    videos = [(i, m) for i, m in enumerate(media) if m.mime_type.startswith("video/")]
    if not videos:
        return []
    issues: list[ValidationIssue] = []
    field = f"{prefix}media"
    if rules.max_videos is not None and len(videos) > rules.max_videos:
        issues.append(
            ValidationIssue(
                "too_many_videos",
                f"{len(videos)} videos; {network} takes {rules.max_videos} per post",
                field,
            )
        )
    if len(videos) < len(media) and not rules.mix_images_and_video:
        issues.append(
            ValidationIssue(
                "media_mix", f"{network} does not mix a video with images in one post", field
            )
        )
    accepted = ", ".join(sorted(t.split("/")[1].upper() for t in rules.video_types)) or "none"
    for index, video in videos:
        where = f"{prefix}media[{index}]"
        if video.mime_type not in rules.video_types:
            issues.append(
                ValidationIssue(
                    "media_type",
                    f"{video.mime_type}: {network} takes videos as {accepted}",
                    where,
                )
            )
            continue
        if not video.content:
            continue  # the composer's stand-in: the library checked its size without reading it
        size = len(video.content)
        if size > rules.max_video_bytes:
            issues.append(
                ValidationIssue(
                    "media_too_large",
                    f"the video is {_megabytes(size)}; {network} takes up to "
                    f"{_megabytes(rules.max_video_bytes)}",
                    where,
                )
            )
        if size < rules.min_video_bytes:
            issues.append(
                ValidationIssue(
                    "media_too_small",
                    f"the video is {_megabytes(size)}; {network} needs at least "
                    f"{_megabytes(rules.min_video_bytes)}",
                    where,
                )
            )
        seconds = mp4_duration(video.content)
        if seconds is None:
            continue
        if rules.max_video_seconds is not None and seconds > rules.max_video_seconds:
            issues.append(
                ValidationIssue(
                    "video_too_long",
                    f"the video lasts {seconds:.1f} s; {network} takes up to "
                    f"{_seconds(rules.max_video_seconds)}",
                    where,
                )
            )
        if rules.min_video_seconds is not None and seconds < rules.min_video_seconds:
            issues.append(
                ValidationIssue(
                    "video_too_short",
                    f"the video lasts {seconds:.1f} s; {network} needs at least "
                    f"{_seconds(rules.min_video_seconds)}",
                    where,
                )
            )
    return issues
