"""Probing images and videos in-process: PyAV for videos (no ffprobe needed), Pillow for images."""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kling_prep.errors import (
    KlingPrepError,
    MediaDecodeError,
    MediaTooLargeError,
    UnsupportedMediaError,
    plain_reason,
)

if TYPE_CHECKING:
    from PIL import Image as PILImage

log = logging.getLogger(__name__)

# ISO-BMFF brands of still-image formats Pillow cannot open without plug-ins.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
# FFmpeg's AVColorTransferCharacteristic values that matter here (2 = unspecified).
_TRANSFER_NAMES = {
    1: "bt709",
    4: "gamma22",
    6: "smpte170m",
    13: "srgb",
    14: "bt2020-10",
    16: "smpte2084",
    18: "arib-std-b67",
}


@dataclass(frozen=True)
class ImageProbe:
    """What a character image is, before its pixels are analysed."""

    path: Path
    format: str  # lower case: "jpeg", "png", "webp", "heic", "avif", "gif", "tiff", ...
    size_bytes: int
    width: int  # as displayed, after EXIF orientation
    height: int
    mode: str  # Pillow's mode ("RGB", "RGBA", "CMYK", "I;16", ...); "" when not decodable
    exif_orientation: int  # 1 = upright
    is_decodable: bool  # whether kling_prep can read its pixels


@dataclass(frozen=True)
class VideoProbe:
    """What a reference video is, read from its container and first frame."""

    path: Path
    container: str  # "mp4", "mov", "matroska", "webm", "avi", ...
    size_bytes: int
    duration_s: float
    width: int  # as displayed, after rotation metadata
    height: int
    coded_width: int
    coded_height: int
    rotation_deg: int
    fps: float
    frame_count: int  # from the container; estimated from duration and fps when absent
    video_codec: str
    pixel_format: str
    color_transfer: str  # "bt709", "smpte2084" (PQ), "arib-std-b67" (HLG), "" unknown
    has_audio: bool
    audio_codec: str


def _sniff_image_format(path: Path) -> str | None:
    head = path.read_bytes()[:32] if path.stat().st_size < 64 else _read_head(path)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heic"
        if brand in _AVIF_BRANDS:
            return "avif"
    return None


def _read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(32)


@contextlib.contextmanager
def quiet_bomb_warning() -> Iterator[None]:
    """Pillow's DecompressionBombWarning silenced: the pixel counts are judged by kling_prep's
    own rule (see `checks.image.load_rgb`), in words, not by a warning on stderr."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def bomb_message(path: Path, exc: Exception) -> str:
    """What Pillow's DecompressionBombError measured, said as a rule."""
    found = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(exc))
    if found is None:
        return f"{path}: declares too many pixels to decode ({plain_reason(exc)})"
    pixels, limit = int(found.group(1)), int(found.group(2))
    return (
        f"{path}: declares {pixels / 1e6:.0f} megapixels, more than the {limit / 1e6:.0f} MP "
        "that Pillow decodes (a decompression bomb, or a picture far larger than any camera's); "
        "not decoded"
    )


def probe_image(path: Path) -> ImageProbe:
    """Read an image's format, size and orientation without decoding all its pixels.

    Formats the API does not take (HEIC, AVIF, WebP...) still probe, so the check can say what
    to convert; `is_decodable` says whether the pixels can be analysed here.

    Raises:
        UnsupportedMediaError: the file is not an image.
        MediaTooLargeError: it declares more pixels than Pillow decodes.
        MediaDecodeError: its header is damaged.
    """
    from PIL import Image, UnidentifiedImageError

    size_bytes = path.stat().st_size
    sniffed = _sniff_image_format(path)
    try:
        with quiet_bomb_warning(), Image.open(path) as image:
            return _decodable_probe(path, image, size_bytes)
    except UnidentifiedImageError as exc:
        if sniffed is None:
            raise _not_an_image(path) from exc
    except Image.DecompressionBombError as exc:
        raise MediaTooLargeError(bomb_message(path, exc)) from exc
    except OSError as exc:
        raise MediaDecodeError(
            f"{path}: the image is damaged or truncated ({plain_reason(exc)})"
        ) from exc
    except Exception as exc:  # any other failure inside Pillow's parsers is the file's
        log.debug("Pillow failed on %s", path, exc_info=True)
        raise MediaDecodeError(
            f"{path}: the image's header could not be read ({type(exc).__name__}: "
            f"{plain_reason(exc)})"
        ) from exc
    return ImageProbe(
        path=path,
        format=sniffed,
        size_bytes=size_bytes,
        width=0,
        height=0,
        mode="",
        exif_orientation=1,
        is_decodable=False,
    )


def _decodable_probe(path: Path, image: PILImage.Image, size_bytes: int) -> ImageProbe:
    """The probe of an image Pillow opened: its sides as displayed, after EXIF orientation."""
    fmt = (image.format or "").lower()
    orientation = int(image.getexif().get(0x0112, 1) or 1)
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ImageProbe(
        path=path,
        format="jpeg" if fmt == "mpo" else fmt,
        size_bytes=size_bytes,
        width=width,
        height=height,
        mode=image.mode,
        exif_orientation=orientation,
        is_decodable=True,
    )


def _not_an_image(path: Path) -> UnsupportedMediaError:
    """The error for a file given as the image that is not one: a video is named as such."""
    if _is_video(path):
        return UnsupportedMediaError(
            f"{path}: a video, not an image: give it as the reference (--video), and a "
            "picture as the character image (--image)"
        )
    return UnsupportedMediaError(f"{path}: not an image kling_prep can read")


def _container_name(format_name: str, major_brand: str, suffix: str) -> str:
    names = format_name.split(",")
    if "mov" in names or "mp4" in names:
        if major_brand.strip().lower() == "qt" or (not major_brand and suffix == ".mov"):
            return "mov"
        return "mp4"
    return names[0]


# FFmpeg's demuxers for single pictures: a file one of these opens is a still, not a clip.
_STILL_IMAGE_DEMUXERS = frozenset({
    "image2", "jpeg_pipe", "png_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "j2k_pipe",
    "jpegxl_pipe", "qoi_pipe", "pgm_pipe", "ppm_pipe", "psd_pipe", "svg_pipe", "dpx_pipe",
})  # fmt: skip
# The only demuxers FFmpeg may use on an input: containers that hold their streams in the file
# itself (and, so that a wrong slot is named, stills and audio). Left out: playlists (hls, dash),
# concat lists, and anything else that opens other files or URLs. FFmpeg copies this list to
# the demuxers it nests (an AVI's subtitle stream can hide a playlist), so none is reachable.
_ALLOWED_DEMUXERS = (
    "mov", "matroska", "webm", "avi", "flv", "mpegts", "mpeg", "asf", "ogg", "nut", "mxf", "dv",
    "ivf", "h264", "hevc", "m4v", "mjpeg", "gif", "yuv4mpegpipe", "rm",
    "mp3", "wav", "aac", "flac", *sorted(_STILL_IMAGE_DEMUXERS),
)  # fmt: skip
DEMUXER_WHITELIST = ",".join(_ALLOWED_DEMUXERS)  # as FFmpeg's format_whitelist option takes it
_READ_OPTIONS = {
    "format_whitelist": DEMUXER_WHITELIST,
    # Local files only: no network protocol, even for a segment a demuxer would name.
    "protocol_whitelist": "file",
    # image2 reads "frame%03d.jpg" as a sequence of other files; only the file given is read.
    "pattern_type": "none",
}
# The largest frame H.264 and HEVC levels allow (level 6.2: 8192 x 4352 luma samples); no camera
# or editor writes larger, and one decoded frame of a lying 16000 x 16000 header is 384 MB.
MAX_FRAME_PIXELS = 8192 * 4352


def open_media(path: Path) -> Any:
    """`path` opened by PyAV for reading, as the file it names and nothing else.

    The name is given as a `file:` URL, so a relative name such as `concat:a.mp4|b.mp4` or
    `http:x` is never read as a protocol; only the demuxers in `_ALLOWED_DEMUXERS` may open it,
    and no demuxer may open another URL than a local file.

    Raises:
        av.error.FFmpegError: FFmpeg could not open it (a refused format is an ArgumentError).
    """
    import av

    return av.open(f"file:{path}", container_options=dict(_READ_OPTIONS))


def _pointer_kind(path: Path) -> str | None:
    """What `path` is when it is a text that names other files or URLs (a playlist, a manifest,
    a concat list), from its first bytes whatever its extension; None otherwise."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512).lstrip()
    except OSError:
        return None
    if head.startswith(b"#EXTM3U"):
        return "an HLS playlist (it names other files or URLs)"
    if head.startswith(b"ffconcat"):
        return "an FFmpeg concat list (it names other files)"
    if head.startswith(b"<") and b"<MPD" in head:
        return "a DASH manifest (it names other files or URLs)"
    return None


def _refusal(path: Path, exc: Exception) -> str:
    """Why FFmpeg refused to open `path`, in words, naming what points elsewhere."""
    kind = _pointer_kind(path) or "in no video format kling_prep reads"
    return (
        f"{path}: {kind}; kling_prep reads only the file given, so give the video file itself "
        f"(ffmpeg: {plain_reason(exc)})"
    )


def _is_video(path: Path) -> bool:
    """PyAV opens the file as a container with a video stream that is not a still picture."""
    import av

    try:
        with open_media(path) as container:
            return bool(container.streams.video) and (
                container.format.name not in _STILL_IMAGE_DEMUXERS
            )
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def probe_video(path: Path) -> VideoProbe:
    """Read a video's container, duration, size, rate and streams in-process with PyAV.

    Only the file itself is read (see `open_media`): a playlist or a concat list is refused.

    Raises:
        UnsupportedMediaError: the file has no video stream, is not a media file, or is in a
            format that names other files (HLS, DASH, concat lists).
        MediaTooLargeError: its frames declare more pixels than any video standard allows.
        MediaDecodeError: the container is damaged or the first frame cannot be decoded.
    """
    import av

    size_bytes = path.stat().st_size
    try:
        container = open_media(path)
    except av.error.InvalidDataError as exc:
        # A playlist or manifest under another extension, or one no allowed demuxer probes.
        if _pointer_kind(path) is not None:
            raise UnsupportedMediaError(_refusal(path, exc)) from exc
        raise UnsupportedMediaError(
            f"{path}: not a video kling_prep can read (ffmpeg: {plain_reason(exc)})"
        ) from exc
    except av.error.ArgumentError as exc:  # a demuxer outside the allowed list
        raise UnsupportedMediaError(_refusal(path, exc)) from exc
    except av.error.FFmpegError as exc:
        raise MediaDecodeError(
            f"{path}: the video could not be opened (ffmpeg: {plain_reason(exc)})"
        ) from exc
    with container:
        try:
            return _read_video(path, container, size_bytes)
        except KlingPrepError:
            raise
        except av.error.FFmpegError as exc:
            raise MediaDecodeError(
                f"{path}: the video could not be read (ffmpeg: {plain_reason(exc)})"
            ) from exc
        except Exception as exc:  # any other failure inside PyAV on this file is the file's
            log.debug("PyAV failed on %s", path, exc_info=True)
            raise MediaDecodeError(
                f"{path}: the video's headers could not be read ({type(exc).__name__}: "
                f"{plain_reason(exc)})"
            ) from exc


def _read_video(path: Path, container: Any, size_bytes: int) -> VideoProbe:
    stream = _video_stream(path, container)
    ctx = stream.codec_context
    fps = float(stream.average_rate or stream.guessed_rate or 0.0)
    duration_s = _duration_s(stream, container)
    rotation = _first_frame_rotation(path, container, stream)
    coded_w, coded_h = int(ctx.width), int(ctx.height)
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    frame_count = int(stream.frames or 0) or round(duration_s * fps)
    audio = container.streams.audio[0] if container.streams.audio else None
    return VideoProbe(
        path=path,
        container=_container_name(
            container.format.name,
            str(container.metadata.get("major_brand", "")),
            path.suffix.lower(),
        ),
        size_bytes=size_bytes,
        duration_s=duration_s,
        width=width,
        height=height,
        coded_width=coded_w,
        coded_height=coded_h,
        rotation_deg=rotation,
        fps=fps,
        frame_count=frame_count,
        video_codec=ctx.name,
        pixel_format=str(ctx.pix_fmt or ""),
        color_transfer=_TRANSFER_NAMES.get(int(getattr(ctx, "color_trc", 2) or 2), ""),
        has_audio=audio is not None,
        audio_codec=audio.codec_context.name if audio is not None else "",
    )


def _video_stream(path: Path, container: Any) -> Any:
    """The container's first video stream, its decoder capped at the largest frame allowed.

    Raises:
        UnsupportedMediaError: a still picture, or no video stream.
        MediaTooLargeError: its frames declare more pixels than any video standard allows.
    """
    if container.format.name in _STILL_IMAGE_DEMUXERS:
        raise UnsupportedMediaError(
            f"{path}: a still image ({container.format.name}), not a video: give it as the "
            "character image (--image), and a video as the reference (--video)"
        )
    if not container.streams.video:
        raise UnsupportedMediaError(f"{path}: the file has no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    declared_px = int(ctx.width) * int(ctx.height)
    if declared_px > MAX_FRAME_PIXELS:
        raise MediaTooLargeError(
            f"{path}: frames of {ctx.width} x {ctx.height} px declared "
            f"({declared_px / 1e6:.0f} MP), more than the {MAX_FRAME_PIXELS / 1e6:.1f} MP "
            "(8192 x 4352) of the largest frame H.264 and HEVC allow; not decoded"
        )
    # A frame whose own header lies about its size is refused by the decoder too.
    ctx.options = {"max_pixels": str(MAX_FRAME_PIXELS)}
    return stream


def _duration_s(stream: Any, container: Any) -> float:
    """The video stream's duration, else the container's; 0 when neither is known."""
    duration_s = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration_s = float(stream.duration * stream.time_base)
    if duration_s <= 0 and container.duration is not None:
        duration_s = container.duration / 1_000_000
    return duration_s


def _first_frame_rotation(path: Path, container: Any, stream: Any) -> int:
    """The display rotation (0, 90, 180 or 270 deg) of the first frame, which must decode.

    Raises:
        MediaDecodeError: the stream holds no frame, or its first cannot be decoded.
    """
    import av

    try:
        first = next(container.decode(stream))
        return round(getattr(first, "rotation", 0) or 0) % 360
    except StopIteration as exc:
        raise MediaDecodeError(f"{path}: the video stream holds no decodable frame") from exc
    except av.error.FFmpegError as exc:
        raise MediaDecodeError(
            f"{path}: the first frame could not be decoded (ffmpeg: {plain_reason(exc)})"
        ) from exc
