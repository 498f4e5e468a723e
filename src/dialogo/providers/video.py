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

import dataclasses
import struct
from collections.abc import Iterator, Sequence

from dialogo.core.i18n import N_, Nn_, Param, Plural
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


@dataclasses.dataclass(frozen=True)
class Mp4Info:
    """What an MP4/QuickTime header declares: its length and, when a track says it, the
    picture's size (the first track with a width and height: the video's)."""

    seconds: float | None
    width: int | None = None
    height: int | None = None


def _movie_header(content: bytes, body: int) -> tuple[int, int] | None:
    """The ``mvhd`` box's time scale and duration (``None``: cut short)."""
    try:
        if content[body] == 1:
            scale, length = struct.unpack_from(">IQ", content, body + 4 + 16)
        else:
            scale, length = struct.unpack_from(">II", content, body + 4 + 8)
    except struct.error:
        return None
    return int(scale), int(length)


def _nested(content: bytes, start: int, end: int, outer: bytes, inner: bytes) -> Iterator[int]:
    """Payload starts of the ``inner`` boxes of each ``outer`` box between ``start``/``end``
    (only those with room for a full box header and 4 bytes)."""
    for kind, body, stop in _boxes(content, start, end):
        if kind == outer:
            for box, at, limit in _boxes(content, body, stop):
                if box == inner and limit - at >= 8:
                    yield at


def _fragment_seconds(content: bytes, start: int, end: int, scale: float) -> float | None:
    """A fragmented file's length: ``mvex``/``mehd``'s ``fragment_duration`` (§8.8.2)."""
    for at in _nested(content, start, end, b"mvex", b"mehd"):
        try:
            (length,) = struct.unpack_from(">Q" if content[at] == 1 else ">I", content, at + 4)
        except struct.error:
            return None
        return float(length) / scale if length else None
    return None


def _picture(content: bytes, start: int, end: int) -> tuple[int | None, int | None]:
    """Width and height (16.16 fixed point, §8.3.2) of the first ``trak`` whose ``tkhd``
    gives them."""
    for at in _nested(content, start, end, b"trak", b"tkhd"):
        offset = at + (88 if content[at] == 1 else 76)
        try:
            width, height = struct.unpack_from(">II", content, offset)
        except struct.error:
            continue
        if width >> 16 and height >> 16:
            return width >> 16, height >> 16
    return None, None


def mp4_info(content: bytes) -> Mp4Info | None:
    """The length and picture size an MP4 or QuickTime file declares; ``None`` when it has no
    readable movie header (``moov`` with its ``mvhd``) at all."""
    for kind, start, end in _boxes(content, 0, len(content)):
        if kind not in _CONTAINERS:
            continue
        for inner, body, stop in _boxes(content, start, end):
            if inner != b"mvhd" or stop - body < 4:
                continue
            header = _movie_header(content, body)
            seconds: float | None = None
            if header is not None and header[0] > 0:
                scale, length = header
                if length == 0:  # a fragmented file: the length is in ``mehd`` (§8.8.2)
                    seconds = _fragment_seconds(content, start, end, float(scale))
                elif length not in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):  # all ones: unknown
                    seconds = float(length) / float(scale)
            width, height = _picture(content, start, end)
            return Mp4Info(seconds, width, height)
    return None


def mp4_duration(content: bytes) -> float | None:
    """The length in seconds an MP4 or QuickTime file declares, or ``None`` when unknown."""
    info = mp4_info(content)
    return info.seconds if info is not None else None


def tiny_mp4(
    seconds: float,
    *,
    size: int = 0,
    brand: bytes = b"isom",
    width: int = 0,
    height: int = 0,
) -> bytes:
    """A minimal MP4 declaring ``seconds`` (an ``ftyp``, a ``moov`` with its ``mvhd`` and, given
    ``width`` and ``height``, a ``trak`` whose ``tkhd`` declares them, and a ``free`` box
    padding it to ``size`` bytes): what the fixtures upload. Not a playable video, but every
    byte the validators and the media library look at is right."""
    ftyp = struct.pack(">I4s4sI", 16, b"ftyp", brand, 0x200)
    scale = 1000
    mvhd_body = struct.pack(">B3xIIII", 0, 0, 0, scale, round(seconds * scale)) + bytes(80)
    mvhd = struct.pack(">I4s", 8 + len(mvhd_body), b"mvhd") + mvhd_body
    trak = b""
    if width and height:
        tkhd_body = (
            struct.pack(">B3xIIIII", 0, 0, 0, 1, 0, round(seconds * scale))
            + bytes(52)
            + struct.pack(">II", width << 16, height << 16)
        )
        tkhd = struct.pack(">I4s", 8 + len(tkhd_body), b"tkhd") + tkhd_body
        trak = struct.pack(">I4s", 8 + len(tkhd), b"trak") + tkhd
    moov = struct.pack(">I4s", 8 + len(mvhd) + len(trak), b"moov") + mvhd + trak
    head = ftyp + moov
    pad = max(8, size - len(head))
    return head + struct.pack(">I4s", pad, b"free") + bytes(pad - 8)


def _number(value: float) -> int | float:
    """Six significant digits, a whole number without its ``.0`` (the reader's locale formats
    it: "74,999" in Italian)."""
    short = float(f"{value:g}")
    return int(short) if short.is_integer() else short


def _megabytes(value: int) -> tuple[int | float, str]:
    """A size as a number and its unit symbol (the same in every language the app speaks)."""
    if value >= 1_048_576:
        return _number(value / 1_048_576), "MB"
    return _number(value / 1024), "KB"


def _seconds(value: float) -> tuple[int | float, str]:
    """A duration as a number and its unit symbol ("min" from two whole minutes, else "s")."""
    if value >= 120 and value % 60 == 0:
        return _number(value / 60), "min"
    return _number(value), "s"


def _sizes(size: int, limit: int, network: str, name: str) -> dict[str, Param]:
    """The parameters of a size refusal: the video's size and the limit, each with its unit."""
    amount, unit = _megabytes(size)
    bound, bound_unit = _megabytes(limit)
    return {
        "size": amount,
        "size_unit": unit,
        "network": network,
        name: bound,
        "limit_unit": bound_unit,
    }


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
                Plural(
                    Nn_(
                        "%(count)s video; %(network)s takes %(max_videos)s per post",
                        "%(count)s videos; %(network)s takes %(max_videos)s per post",
                    ),
                    count="count",
                ),
                field,
                params={"count": len(videos), "network": network, "max_videos": rules.max_videos},
            )
        )
    if len(videos) < len(media) and not rules.mix_images_and_video:
        issues.append(
            ValidationIssue(
                "media_mix",
                N_("%(network)s does not mix a video with images in one post"),
                field,
                params={"network": network},
            )
        )
    accepted = ", ".join(sorted(t.split("/")[1].upper() for t in rules.video_types)) or "none"
    for index, video in videos:
        where = f"{prefix}media[{index}]"
        if video.mime_type not in rules.video_types:
            issues.append(
                ValidationIssue(
                    "media_type",
                    N_("%(mime_type)s: %(network)s takes videos as %(accepted)s"),
                    where,
                    params={"mime_type": video.mime_type, "network": network, "accepted": accepted},
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
                    N_(
                        "the video is %(size)s %(size_unit)s; %(network)s takes up to "
                        "%(max_video_bytes)s %(limit_unit)s"
                    ),
                    where,
                    params=_sizes(size, rules.max_video_bytes, network, "max_video_bytes"),
                )
            )
        if size < rules.min_video_bytes:
            issues.append(
                ValidationIssue(
                    "media_too_small",
                    N_(
                        "the video is %(size)s %(size_unit)s; %(network)s needs at least "
                        "%(min_video_bytes)s %(limit_unit)s"
                    ),
                    where,
                    params=_sizes(size, rules.min_video_bytes, network, "min_video_bytes"),
                )
            )
        seconds = mp4_duration(video.content)
        if seconds is not None:
            issues += duration_issues(seconds, rules, network=network, field=where)
    return issues


def duration_issues(
    seconds: float, rules: MediaRules, *, network: str, field: str, file: str | None = None
) -> list[ValidationIssue]:
    """A video of ``seconds`` too long or too short for ``network`` (the provider's check at
    send time and the media library's from the stored duration say the same; the library
    names the ``file``)."""
    issues: list[ValidationIssue] = []
    params: dict[str, Param] = {"seconds": round(seconds, 1), "network": network}
    if file is not None:
        params["file"] = file
    if rules.max_video_seconds is not None and seconds > rules.max_video_seconds:
        template = (
            N_("the video lasts %(seconds)s s; %(network)s takes up to %(limit)s %(limit_unit)s")
            if file is None
            else N_(
                "%(file)s: the video lasts %(seconds)s s; %(network)s takes up to "
                "%(limit)s %(limit_unit)s"
            )
        )
        limit, unit = _seconds(rules.max_video_seconds)
        issues.append(
            ValidationIssue(
                "video_too_long",
                template,
                field,
                params={**params, "limit": limit, "limit_unit": unit},
            )
        )
    if rules.min_video_seconds is not None and seconds < rules.min_video_seconds:
        template = (
            N_("the video lasts %(seconds)s s; %(network)s needs at least %(limit)s %(limit_unit)s")
            if file is None
            else N_(
                "%(file)s: the video lasts %(seconds)s s; %(network)s needs at least "
                "%(limit)s %(limit_unit)s"
            )
        )
        limit, unit = _seconds(rules.min_video_seconds)
        issues.append(
            ValidationIssue(
                "video_too_short",
                template,
                field,
                params={**params, "limit": limit, "limit_unit": unit},
            )
        )
    return issues
