"""Checking that a downloaded output is a playable MP4: its box structure, then a decoded frame."""

from __future__ import annotations

import struct
from pathlib import Path

from kling_prep.errors import OutputNotPlayableError

DEFAULT_MAX_OUTPUT_BYTES = 2_000_000_000


def part_path(dest_path: Path) -> Path:
    """Where a download is written until it is complete and verified."""
    return dest_path.with_name(dest_path.name + ".part")


def top_level_boxes(path: Path) -> list[str]:
    """The types of the ISO base media file's top-level boxes, in order.

    Raises:
        OutputNotPlayableError: a box runs past the end of the file or has an impossible size.
    """
    types: list[str] = []
    file_size = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset < file_size:
            f.seek(offset)
            header = f.read(8)
            if len(header) < 8:
                raise OutputNotPlayableError(f"{path.name}: truncated box header at {offset}")
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                large = f.read(8)
                if len(large) < 8:
                    raise OutputNotPlayableError(f"{path.name}: truncated box header at {offset}")
                (size,) = struct.unpack(">Q", large)
            elif size == 0:
                size = file_size - offset
            if size < 8 or offset + size > file_size:
                raise OutputNotPlayableError(
                    f"{path.name}: box {kind!r} at {offset} claims {size} bytes; the file has "
                    f"{file_size} (truncated download?)"
                )
            types.append(kind.decode("latin-1"))
            offset += size
    return types


def verify_playable_mp4(path: Path) -> None:
    """Check that `path` is an MP4 whose first video frame decodes.

    Raises:
        OutputNotPlayableError: not an MP4 (no leading `ftyp`, no `moov`, no media data), or no
            video frame decodes.
    """
    # 1. The container's structure, cheaply: catches HTML error pages and truncated files.
    boxes = top_level_boxes(path)
    if not boxes or boxes[0] != "ftyp":
        raise OutputNotPlayableError(f"{path.name}: not an MP4 (starts with {boxes[:1]})")
    if "moov" not in boxes or not ({"mdat", "moof"} & set(boxes)):
        raise OutputNotPlayableError(f"{path.name}: an MP4 without moov or media data ({boxes})")
    # 2. One decoded frame (PyAV is heavy, so it loads only here).
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise OutputNotPlayableError(f"{path.name}: the MP4 has no video stream")
            for _frame in container.decode(video=0):
                return
    except av.FFmpegError as exc:
        raise OutputNotPlayableError(f"{path.name}: the video does not decode: {exc}") from exc
    raise OutputNotPlayableError(f"{path.name}: the video stream has no frame")
