"""The sandbox's stand-in for the model: the reference video re-encoded with a visible watermark."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from kling_prep.errors import FFmpegFailedError
from kling_prep.media.ffmpeg import find_ffmpeg

logger = logging.getLogger(__name__)

WATERMARK_TEXT = "KLING-PREP SANDBOX"
# A band across the lower part of the frame: visible even where no font is installed.
_BAND = "drawbox=x=0:y=ih*0.82:w=iw:h=ih*0.12:color=black@0.6:t=fill"
_TEXT = (
    f"drawtext=text='{WATERMARK_TEXT}':fontcolor=white:fontsize=h/22:"
    "x=(w-text_w)/2:y=h*0.88-text_h/2"
)


def _command(ffmpeg: str, src: Path, dest: Path, video_filter: str, keep_sound: bool) -> list[str]:
    audio = ["-c:a", "aac", "-b:a", "96k"] if keep_sound else ["-an"]
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(src),
        "-vf",
        video_filter + ",format=yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "28",
        *audio,
        "-movflags",
        "+faststart",
        str(dest),
    ]


def render_output(
    src_path: Path, dest_path: Path, *, keep_sound: bool, timeout_s: float = 300.0
) -> None:
    """Write `dest_path`: `src_path` re-encoded to H.264 MP4 with a watermark band and text.

    Raises:
        FFmpegNotFoundError: no ffmpeg binary.
        FFmpegFailedError: ffmpeg failed, with the tail of its stderr.
    """
    ffmpeg = find_ffmpeg()
    last_error = ""
    # The text needs a font; where none is installed, the band alone marks the video.
    for video_filter in (f"{_BAND},{_TEXT}", _BAND):
        try:
            completed = subprocess.run(
                _command(ffmpeg, src_path, dest_path, video_filter, keep_sound),
                capture_output=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise FFmpegFailedError(f"ffmpeg took more than {timeout_s:g} s") from exc
        if completed.returncode == 0:
            return
        last_error = completed.stderr.decode(errors="replace")[-500:]
        logger.info("render with %r failed: %s", video_filter, last_error)
    raise FFmpegFailedError(f"ffmpeg could not render the sandbox output: {last_error}")
