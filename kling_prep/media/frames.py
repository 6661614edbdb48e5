"""Decoding a video once, cheaply: a tiny thumbnail of every decoded frame (for cuts) and a
reduced-size RGB sample a few times a second (for people, pose, face and camera motion).

Thumbnails are cut from the decoder's own YUV planes with an area filter, so no full-size colour
conversion runs per frame; only the sampled frames are converted, at reduced size.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from kling_prep.errors import MediaDecodeError, plain_reason
from kling_prep.media.probe import MAX_FRAME_PIXELS, open_media

log = logging.getLogger(__name__)

ThumbSink = Callable[[int, float, NDArray[Any]], None]
ProgressSink = Callable[[float], None]


@dataclass(frozen=True)
class SampledFrame:
    """A frame kept for analysis, upright, at reduced size."""

    index: int
    time_s: float
    rgb: NDArray[Any]  # HxWx3 uint8


@dataclass(frozen=True)
class VideoScan:
    samples: list[SampledFrame]
    decoded_frames: int
    fps: float
    scale: float  # sampled frame size / displayed size


def _plane(plane: Any, width: int, height: int, step: int) -> NDArray[Any]:
    """A plane as a (strided) array view, every `step`-th row and column."""
    full = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]
    return np.ascontiguousarray(full[::step, ::step])


def _thumb_from_planes(frame: Any, width: int, height: int) -> NDArray[Any]:
    """A BGR thumbnail from a yuv420p frame's planes, with no full-size conversion.

    Rows and columns are first decimated to about four times the thumbnail's size (an array
    view, nearly free), then area-averaged: each thumbnail pixel still averages 16 samples,
    which keeps the change score steady under motion, at a tenth of a full-plane resize.
    """
    fw, fh = frame.width, frame.height
    step = max(1, fw // (4 * width))
    chroma_step = max(1, step // 2)
    size = (width, height)
    planes = frame.planes
    luma = _plane(planes[0], fw, fh, step)
    cw, ch = (fw + 1) // 2, (fh + 1) // 2
    yuv = cv2.merge(
        [
            cv2.resize(luma, size, interpolation=cv2.INTER_AREA),
            cv2.resize(_plane(planes[1], cw, ch, chroma_step), size, interpolation=cv2.INTER_AREA),
            cv2.resize(_plane(planes[2], cw, ch, chroma_step), size, interpolation=cv2.INTER_AREA),
        ]
    )
    return np.asarray(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR))


def _thumb(frame: object, width: int, height: int) -> NDArray[Any]:
    if frame.format.name in ("yuv420p", "yuvj420p"):  # type: ignore[attr-defined]
        return _thumb_from_planes(frame, width, height)
    small = frame.reformat(width=width, height=height, format="bgr24")  # type: ignore[attr-defined]
    return np.asarray(small.to_ndarray())


def _upright(image: NDArray[Any], rotation_deg: int) -> NDArray[Any]:
    # FFmpeg's display rotation is counter-clockwise.
    if rotation_deg == 90:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if rotation_deg == 180:
        return cv2.rotate(image, cv2.ROTATE_180)
    if rotation_deg == 270:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    return image


class _FrameCounter:
    """Frame indices in presentation order, counted from the first decoded frame.

    A frame's index is the number of the stream's packets whose timestamp lies between the first
    decoded frame's and its own: the labels' convention (0-based, in the order FFmpeg outputs
    frames), exact for variable frame rates and average rates that disagree with the timestamps
    (a time times the average rate can give two frames one index), and unchanged when the
    decoder skips frames, since skipped packets are still counted. Packets arrive in decode
    order, but a frame leaves the decoder only after every frame shown before it has entered,
    so the count is complete when the frame is asked about.
    """

    def __init__(self) -> None:
        self._packet_pts: list[int] = []
        self._origin: int | None = None
        self._last_index = -1

    def add_packet(self, pts: int | None) -> None:
        if pts is not None:
            bisect.insort(self._packet_pts, pts)

    def count_below(self, pts: int) -> int:
        """How many packets seen so far are shown before `pts`."""
        return bisect.bisect_left(self._packet_pts, pts)

    def pts_at(self, position: int) -> int | None:
        """The timestamp of the packet at `position` in presentation order, if seen."""
        return self._packet_pts[position] if 0 <= position < len(self._packet_pts) else None

    def index_of(self, pts: int | None) -> int:
        """The next output frame's index; strictly increasing whatever the timestamps say."""
        if pts is None:
            index = self._last_index + 1
        else:
            if self._origin is None:
                self._origin = self.count_below(pts)
            index = max(self.count_below(pts) - self._origin, self._last_index + 1)
        self._last_index = index
        return index


def _thumb_size(width: int, height: int, thumb_width: int) -> tuple[int, int]:
    return thumb_width, max(8, round(thumb_width * height / max(1, width)))


@dataclass(frozen=True)
class ScanSpec:
    """What one decode keeps, see `scan_video`."""

    sample_fps: float
    max_side_px: int
    thumb_width: int = 64
    rotation_deg: int = 0
    skip_nonref: bool = True


def scan_video(
    path: Path,
    spec: ScanSpec,
    *,
    on_thumb: ThumbSink | None = None,
    on_progress: ProgressSink | None = None,
    on_sample: Callable[[SampledFrame], None] | None = None,
    stop: threading.Event | None = None,
) -> VideoScan:
    """Decode the video once; stream thumbnails to `on_thumb`, keep samples for analysis.

    Args:
        path: the video.
        spec: what to keep (`ScanSpec`):
            sample_fps: analysis samples per second (the first frame is always one).
            max_side_px: the longer side of a sample.
            thumb_width: the thumbnails' width in pixels.
            rotation_deg: the display rotation from the probe, applied to samples.
            skip_nonref: let the decoder skip frames no other frame refers to (most
                B-frames): about half the frames of a typical H.264 stream, 40% of the
                decoding time. Cuts found between two decoded frames are then located exactly
                by `decode_thumbs`. The in-loop deblocking filter is skipped too (a quarter of
                the remaining decoding time): its effect, softening 8-pixel block edges, does
                not survive the reduction to samples and thumbnails.
        on_thumb: called with (frame index, time in s, BGR thumbnail) for every decoded frame.
            The index is 0-based from the first decoded frame in presentation order, counting
            the frames the decoder skips (see `_FrameCounter`); the time is the presentation
            time since the first decoded frame.
        on_progress: called with the share of the video decoded so far, 0..1.
        on_sample: called with each sample as soon as it is decoded (analysis can then run
            beside the decoder instead of after it).
        stop: when set, decoding ends at the next frame (the scan returns what it has).

    Raises:
        MediaDecodeError: the stream breaks before any frame was decoded.
    """
    import av

    try:
        container = open_media(path)
    except av.error.FFmpegError as exc:
        raise MediaDecodeError(
            f"{path}: cannot be opened for decoding ({plain_reason(exc)})"
        ) from exc
    with container:
        stream = _video_stream(container, skip_nonref=spec.skip_nonref)
        scan = _Scan(
            stream, spec, on_thumb=on_thumb, on_sample=on_sample, on_progress=on_progress,
            container_duration=container.duration,
        )  # fmt: skip
        _decode_into(scan, container, stream, path, stop)
    if on_progress is not None:
        on_progress(1.0)
    return scan.result()


def _decode_into(
    scan: _Scan, container: Any, stream: Any, path: Path, stop: threading.Event | None
) -> None:
    """Every frame of `stream` to `scan`, until the end, `stop`, or a break in the stream
    after the first frame (logged; what was decoded stands).

    Raises:
        MediaDecodeError: the stream breaks before any frame was decoded, or a frame cannot
            be converted.
    """
    import av

    try:
        for packet in container.demux(stream):
            scan.counter.add_packet(packet.pts)
            for frame in packet.decode():
                if stop is not None and stop.is_set():
                    break
                scan.take(frame)
            if stop is not None and stop.is_set():
                break
    except av.error.FFmpegError as exc:
        if scan.decoded == 0:
            raise MediaDecodeError(
                f"{path}: no frame could be decoded ({plain_reason(exc)})"
            ) from exc
        log.warning("%s: decoding stopped after %d frames: %s", path, scan.decoded, exc)
    except (ValueError, ArithmeticError, MemoryError, cv2.error) as exc:
        # A frame PyAV, numpy or OpenCV cannot convert (planes smaller than the frame
        # declares, sizes that overflow): the file's fault, said as such.
        log.debug("decoding %s failed", path, exc_info=True)
        raise MediaDecodeError(
            f"{path}: frame {scan.decoded} could not be converted ({type(exc).__name__}: "
            f"{plain_reason(exc)})"
        ) from exc


def _video_stream(container: Any, *, skip_nonref: bool) -> Any:
    """The first video stream, set up for `scan_video`'s cheap decode."""
    stream = container.streams.video[0]
    # Slice threads only: frame threading costs a quarter more CPU in copies and waits, and
    # the check's analysis runs beside the decoder and needs the other core.
    stream.thread_type = "SLICE"
    # A frame whose own header lies about its size is refused, not allocated.
    options = {"max_pixels": str(MAX_FRAME_PIXELS)}
    if skip_nonref:
        stream.codec_context.skip_frame = "NONREF"
        options["skip_loop_filter"] = "all"
    stream.codec_context.options = options
    return stream


class _Scan:
    """One decode's running state: frame indices and times, the thumbnail for every frame,
    the samples kept, the progress told."""

    def __init__(
        self,
        stream: Any,
        spec: ScanSpec,
        *,
        on_thumb: ThumbSink | None,
        on_sample: Callable[[SampledFrame], None] | None,
        on_progress: ProgressSink | None,
        container_duration: int | None,
    ) -> None:
        self.fps = float(stream.average_rate or stream.guessed_rate or 25.0)
        self._time_base = float(stream.time_base or 0) or 1 / self.fps
        self._duration_s = (
            float(stream.duration or 0) * self._time_base or (container_duration or 0) / 1e6
        )
        self._spec = spec
        self._on_thumb = on_thumb
        self._on_sample = on_sample
        self._on_progress = on_progress
        self.counter = _FrameCounter()
        self.samples: list[SampledFrame] = []
        self.decoded = 0
        self.scale = 1.0
        self._next_sample_s = 0.0
        self._thumb_size: tuple[int, int] | None = None
        self._first_pts: int | None = None
        self._time_s = 0.0

    def take(self, frame: Any) -> None:
        """One decoded frame: its index and time, its thumbnail, a sample when one is due."""
        index = self.counter.index_of(frame.pts)
        if self._first_pts is None:
            self._first_pts = frame.pts
        if self.decoded == 0:
            self._time_s = 0.0
        elif frame.pts is None or self._first_pts is None:
            self._time_s += 1.0 / self.fps
        else:
            self._time_s = max(self._time_s, (frame.pts - self._first_pts) * self._time_base)
        if self._thumb_size is None:
            self._thumb_size = _thumb_size(frame.width, frame.height, self._spec.thumb_width)
            self.scale = min(1.0, self._spec.max_side_px / max(frame.width, frame.height))
        if self._on_thumb is not None:
            self._on_thumb(index, self._time_s, _thumb(frame, *self._thumb_size))
        if self._time_s + 0.5 / self.fps >= self._next_sample_s:
            self._keep_sample(frame, index)
            self._next_sample_s += 1.0 / self._spec.sample_fps
        self.decoded += 1
        if self._on_progress is not None and self._duration_s > 0 and self.decoded % 15 == 0:
            self._on_progress(min(1.0, self._time_s / self._duration_s))

    def result(self) -> VideoScan:
        return VideoScan(
            samples=self.samples, decoded_frames=self.decoded, fps=self.fps, scale=self.scale
        )

    def _keep_sample(self, frame: Any, index: int) -> None:
        width = max(2, round(frame.width * self.scale / 2) * 2)
        height = max(2, round(frame.height * self.scale / 2) * 2)
        rgb = frame.reformat(
            width=width, height=height, format="rgb24", interpolation="AREA"
        ).to_ndarray()
        sample = SampledFrame(index, self._time_s, _upright(rgb, self._spec.rotation_deg))
        self.samples.append(sample)
        if self._on_sample is not None:
            self._on_sample(sample)


def decode_thumbs(
    path: Path, first_index: int, last_index: int, *, fps: float, thumb_width: int = 64
) -> list[tuple[int, NDArray[Any]]]:
    """Thumbnails of every frame from `first_index` to `last_index` (inclusive), for locating
    a cut found between two frames that were far apart.

    Raises:
        MediaDecodeError: the stream breaks where it decoded before (a file changed meanwhile).
    """
    import av

    try:
        return _decode_thumbs(path, first_index, last_index, fps=fps, thumb_width=thumb_width)
    except (av.error.FFmpegError, ValueError, ArithmeticError, MemoryError, cv2.error) as exc:
        log.debug("decoding %s again failed", path, exc_info=True)
        raise MediaDecodeError(
            f"{path}: frames {first_index}-{last_index} could not be decoded again "
            f"({type(exc).__name__}: {plain_reason(exc)})"
        ) from exc


def _decode_thumbs(
    path: Path, first_index: int, last_index: int, *, fps: float, thumb_width: int
) -> list[tuple[int, NDArray[Any]]]:
    out: list[tuple[int, NDArray[Any]]] = []
    # 1. The packets' timestamps up to the last frame wanted, and the first decoded frame's, so
    # that indices are counted as `scan_video` counts them (see `_FrameCounter`).
    counter = _FrameCounter()
    with open_media(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONREF"
        first_pts = next((f.pts for f in container.decode(stream)), None)
    if first_pts is None:
        return out
    with open_media(path) as container:
        stream = container.streams.video[0]
        origin = 0
        for packet in container.demux(stream):
            counter.add_packet(packet.pts)
            origin = counter.count_below(first_pts)
            # Every later packet is shown after this one is decoded, so the count is final.
            if packet.dts is not None and counter.count_below(packet.dts) > origin + last_index:
                break
    # 2. Decode every frame from the keyframe before the first one wanted.
    with open_media(path) as container:
        stream = container.streams.video[0]
        target = counter.pts_at(origin + first_index)
        if target is not None:
            container.seek(target, stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            index = counter.count_below(frame.pts) - origin
            if index < first_index:
                continue
            if index > last_index:
                break
            out.append((index, _thumb(frame, *_thumb_size(frame.width, frame.height, thumb_width))))
    return out
