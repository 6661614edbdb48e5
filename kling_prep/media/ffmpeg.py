"""Finding the ffmpeg binary: the system's, else the one the imageio-ffmpeg wheel ships."""

from __future__ import annotations

import functools
import os
import shutil

from kling_prep.errors import FFmpegNotFoundError


@functools.cache
def find_ffmpeg(explicit: str | None = None) -> str:
    """The path of an ffmpeg binary.

    `explicit` wins (the settings' `ffmpeg`, read from KLING_PREP_FFMPEG by `load_settings`),
    then `ffmpeg` on PATH, then the binary in the imageio-ffmpeg wheel (so a fresh machine
    needs no system package).

    Raises:
        FFmpegNotFoundError: none of them exists, or `explicit` is not an executable file.
    """
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise FFmpegNotFoundError(f"KLING_PREP_FFMPEG={explicit} is not an executable file")
        return explicit
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise FFmpegNotFoundError() from exc
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:
        raise FFmpegNotFoundError(f"imageio-ffmpeg has no binary for this platform: {exc}") from exc
