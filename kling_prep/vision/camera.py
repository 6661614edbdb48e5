"""The camera's own motion in a video: pan, tilt, zoom, roll and shake, read from the background.

Between consecutive sampled frames, background features (the person's box masked out) are
tracked and a similarity transform is fitted; the per-interval motion is then split into a smooth
trend (the camera's intended move) and the jitter around it (shake). Pure measurement (OpenCV +
numpy), in units relative to the frame so that the values do not depend on the resolution.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "TREND_HALF_WINDOW_S",
    "CameraInterval",
    "CameraMotion",
    "estimate_camera_motion",
]

Box = tuple[int, int, int, int]
GreyImage = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float64]

TREND_HALF_WINDOW_S: Final = 1.0
"""Half-width, in seconds, of the local linear fit that separates the camera's intended move
(slower than ~1 s: a pan, a push-in) from shake (handheld jitter is 1-10 Hz)."""

SUBJECT_MARGIN: Final = 0.15
"""Each subject box is grown by this share of its size on every side before masking: a pose or
detector box is tight, and loose hair, clothes and motion blur reach past it."""

MAX_FEATURES: Final = 400
"""Background corners tracked per interval: plenty for RANSAC, cheap at ~320 px."""

MIN_INLIERS: Final = 10
"""Fewest RANSAC inliers for a feature-based fit to count (a similarity has 4 unknowns; ten
consistent points make an accidental consensus very unlikely)."""

MIN_INLIER_SHARE: Final = 0.4
"""Fewest inliers as a share of the tracked points: below, the points disagree (moving objects
everywhere, repetitive texture) and the fit is not the background's."""

RANSAC_THRESHOLD_SHARE: Final = 0.005
"""RANSAC reprojection threshold as a share of the frame width (1.6 px at 320 px): sub-pixel
tracking error plus the parallax of a mostly distant background."""

STILL_SHARE: Final = 0.002
"""A point that moves at most this share of the frame width between samples (0.6 px at 320 px,
half a second apart: 0.4% of the frame a second, a tenth of the slowest pan that is judged)
has stayed put: the tracker's own error on a still picture is a few tenths of a pixel."""

MIN_STILL_SHARE: Final = 0.25
"""Still points must be at least this share of the tracked background points to mean a still
camera: a few still points can be an overlay or a thing carried with the camera."""

MIN_STILL_EXTENT: Final = 0.33
"""Still points must spread over at least a third of the frame's width and of its height: a
logo, a watermark or a subtitle line is still on a moving camera, but compact or flat."""

MIN_PHASE_RESPONSE: Final = 0.15
"""Fallback when corners are too few: phase correlation's peak must reach this (1 = a perfect
shift; noise or unrelated frames stay under ~0.1)."""


MIN_BACKGROUND_STD: Final = 3.0
"""Phase correlation is only tried when the background's grey levels spread at least this much
(standard deviation, 8-bit levels): about the noise of a compressed video."""


@dataclass(frozen=True)
class CameraInterval:
    """The background's motion between two consecutive sampled frames (raw, not smoothed)."""

    start_s: float
    """Time of the first frame, in seconds."""
    end_s: float
    """Time of the second frame, in seconds."""
    method: Literal["features", "phase", "none"]
    """How it was measured: tracked corners and a RANSAC similarity fit; phase correlation
    (translation only) when corners were too few; none when the background could not be
    tracked."""
    pan_pct_per_s: float | None
    """Horizontal camera motion, percent of the frame width per second: positive = the camera
    turns (or moves) right, so the background slides left. None when untracked."""
    tilt_pct_per_s: float | None
    """Vertical camera motion, percent of the frame height per second: positive = the camera
    tilts up, so the background slides down. None when untracked."""
    zoom_pct_per_s: float | None
    """Scale change of the background, percent per second (100 * ln(scale) / dt): positive = zoom
    in (or the camera moving closer). None when untracked or measured by phase correlation."""
    rotation_deg_per_s: float | None
    """Rotation of the picture, degrees per second, positive = clockwise on screen (the camera
    rolls counter-clockwise). None when untracked or measured by phase correlation."""
    inliers: int
    """Background points that agree with the fitted motion (0 for phase or none)."""


@dataclass(frozen=True)
class CameraMotion:
    """The camera's motion over a clip.

    Pan, tilt, zoom and rotation summaries describe the smooth trend: at each sampled frame, the
    slope of a local linear fit (+-1 s) of the background's accumulated motion; the median and
    the maximum of its absolute value over the tracked frames. Jitter faster than that goes to
    `shake_pct` instead, so a shaking but aimed camera has shake and (almost) no pan. All
    summaries are None when no interval could be tracked.
    """

    pan_pct_per_s_median: float | None
    """Median absolute horizontal trend speed, percent of the frame width per second (10 = the
    background crosses a tenth of the frame each second)."""
    pan_pct_per_s_max: float | None
    """Largest absolute horizontal trend speed, percent of the frame width per second."""
    tilt_pct_per_s_median: float | None
    """Median absolute vertical trend speed, percent of the frame height per second."""
    tilt_pct_per_s_max: float | None
    """Largest absolute vertical trend speed, percent of the frame height per second."""
    zoom_pct_per_s_median: float | None
    """Median absolute rate of scale change, percent per second (zoom in or out)."""
    zoom_pct_per_s_max: float | None
    """Largest absolute rate of scale change, percent per second."""
    rotation_deg_per_s_median: float | None
    """Median absolute rotation rate (roll), degrees per second."""
    rotation_deg_per_s_max: float | None
    """Largest absolute rotation rate, degrees per second."""
    shake_pct: float | None
    """RMS of the 2-D jitter of the background around its smooth trend, percent of the frame
    diagonal (standardised residuals of the +-1 s linear fit, so it estimates the jitter's own
    RMS). Measured at the sampling rate: jitter faster than half of it is aliased into it, not
    lost. None without three consecutive tracked frames."""
    tracked_fraction: float
    """Share (0..1) of the intervals whose background motion could be measured."""
    intervals: list[CameraInterval]
    """Per interval between consecutive frames, the raw measurement, for a timeline."""

    def as_dict(self) -> dict[str, Any]:
        """The measurement as plain JSON-ready values (the intervals as dicts)."""
        return asdict(self)


def estimate_camera_motion(
    frames: list[tuple[float, GreyImage]],
    subject_boxes: Sequence[Box | None] | None = None,
    other_boxes: Sequence[Sequence[Box]] | None = None,
) -> CameraMotion:
    """Estimate the camera's motion from sampled frames, ignoring the subject.

    Args:
        frames: (time_s, image) in time order, a few per second; images are HxW uint8 grey
            (HxWx3 BGR is converted), all of one size, e.g. 320 px wide.
        subject_boxes: per frame, the person's box (x, y, w, h) in the same pixels, or None;
            masked out (with a margin) so the person's own motion does not count.
        other_boxes: per frame, the boxes of other people, masked out alike: a second
            person's own motion is no more the camera's than the first's.

    Returns:
        The CameraMotion of the clip (empty and untracked with fewer than two frames).

    Raises:
        ValueError: when the boxes do not match the frames one to one, the images differ in
            size or are not uint8, or the times do not increase.
    """
    # 1. Validate.
    if subject_boxes is not None and len(subject_boxes) != len(frames):
        raise ValueError(f"{len(subject_boxes)} subject boxes for {len(frames)} frames")
    if other_boxes is not None and len(other_boxes) != len(frames):
        raise ValueError(f"{len(other_boxes)} lists of other boxes for {len(frames)} frames")
    boxes: list[list[Box]] = [[] for _ in frames]
    for i, box in enumerate(subject_boxes or []):
        boxes[i] += [] if box is None else [box]
    for i, others in enumerate(other_boxes or []):
        boxes[i] += list(others)
    images = [_grey(image) for _, image in frames]
    times = [float(t) for t, _ in frames]
    if any(image.shape != images[0].shape for image in images):
        raise ValueError("the frames differ in size")
    if any(b <= a for a, b in itertools.pairwise(times)):
        raise ValueError("frame times must increase")

    # 2. Measure each interval.
    intervals: list[CameraInterval] = []
    transforms: list[tuple[float, float, float, float] | None] = []
    for i in range(len(images) - 1):
        measured = _measure_interval(images[i], images[i + 1], boxes[i], boxes[i + 1])
        transforms.append(None if measured is None else measured[0])
        intervals.append(_interval(times[i], times[i + 1], measured, images[0].shape))

    # 3. Split the accumulated motion into trend and shake.
    return _summarise(times, transforms, intervals, images[0].shape if images else (1, 1))


_Transform = tuple[float, float, float, float]
"""Background motion over an interval: (dx_px, dy_px, ln_scale, angle_deg) about the centre."""


def _measure_interval(
    previous: GreyImage, current: GreyImage, boxes_a: list[Box], boxes_b: list[Box]
) -> tuple[_Transform, Literal["features", "phase"], int] | None:
    """The background's similarity motion from `previous` to `current`, or None."""
    height, width = previous.shape
    mask = np.full((height, width), 255, np.uint8)
    for box in [*boxes_a, *boxes_b]:
        x0, y0, x1, y1 = _grown(box, width, height)
        mask[y0:y1, x0:x1] = 0

    # 1. Corners on the background, tracked forward and back (a point that does not return to
    # where it started is a tracking error), kept only where they land on background too.
    corners = cv2.goodFeaturesToTrack(
        previous,
        maxCorners=MAX_FEATURES,
        qualityLevel=0.01,
        minDistance=max(3.0, 0.015 * width),
        mask=mask,
        blockSize=7,
    )
    has_corners = corners is not None and len(corners) >= MIN_INLIERS
    if has_corners:
        measured = _from_corners(previous, current, corners, mask)
        if measured is not None:
            return measured

    # 2. Fallback for poor texture: phase correlation with the subject flattened to the mean.
    # Only where corners were too few: where they were found but disagree (the person's hair
    # and limbs, moving things everywhere) a correlation of the same pixels cannot do better.
    # A background without contrast has no motion to measure (phase correlation of two flat
    # pictures peaks anywhere).
    background = mask > 0
    if (
        has_corners
        or not background.any()
        or float(previous[background].std()) < MIN_BACKGROUND_STD
    ):
        return None
    return _by_phase(previous, current, mask)


def _from_corners(
    previous: GreyImage, current: GreyImage, corners: npt.NDArray[Any], mask: GreyImage
) -> tuple[_Transform, Literal["features", "phase"], int] | None:
    """The motion of the background's corners: none at all when enough of them, spread over
    the frame, stayed put; else a RANSAC similarity fit, when enough of them agree."""
    height, width = previous.shape
    # maxLevel 4: a 21 px window at 1/16 scale follows shifts of ~150 px (half a 320 px
    # frame between samples). The point arrays passed second are only initial guesses.
    forward, status, _ = cv2.calcOpticalFlowPyrLK(
        previous, current, corners, corners.copy(), winSize=(21, 21), maxLevel=4
    )
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(
        current, previous, forward, np.copy(forward), winSize=(21, 21), maxLevel=4
    )
    start = corners.reshape(-1, 2)
    end = forward.reshape(-1, 2)
    returned = np.linalg.norm(back.reshape(-1, 2) - start, axis=1) < 1.0
    inside = (end[:, 0] >= 0) & (end[:, 0] < width) & (end[:, 1] >= 0) & (end[:, 1] < height)
    good = status.ravel().astype(bool) & status_back.ravel().astype(bool) & returned & inside
    ends_px = np.clip(end, 0, [width - 1, height - 1]).astype(int)
    good &= mask[ends_px[:, 1], ends_px[:, 0]] > 0
    # A still camera leaves the background exactly where it was: a set of points spread
    # over the frame that stays put is the background (a person can move points, not
    # freeze them), whatever consensus the subject's own moving points might form.
    still = good & (np.linalg.norm(end - start, axis=1) <= STILL_SHARE * width)
    if still.sum() >= MIN_INLIERS and still.sum() >= MIN_STILL_SHARE * good.sum():
        extent = np.ptp(start[still], axis=0) / np.array([width, height])
        if float(extent.min()) >= MIN_STILL_EXTENT:
            return (0.0, 0.0, 0.0, 0.0), "features", int(still.sum())
    if good.sum() < MIN_INLIERS:
        return None
    matrix, inlier_flags = cv2.estimateAffinePartial2D(
        start[good],
        end[good],
        method=cv2.RANSAC,
        ransacReprojThreshold=max(1.0, RANSAC_THRESHOLD_SHARE * width),
        maxIters=2000,
        confidence=0.995,
    )
    if matrix is None:
        return None
    inliers = int(inlier_flags.sum())
    if inliers >= MIN_INLIERS and inliers >= MIN_INLIER_SHARE * good.sum():
        return _decompose(matrix, width, height), "features", inliers
    return None


def _by_phase(
    previous: GreyImage, current: GreyImage, mask: GreyImage
) -> tuple[_Transform, Literal["features", "phase"], int] | None:
    """Phase correlation of the two frames with the masked pixels set to the background's
    mean: a translation, when its peak is clear."""
    height, width = previous.shape
    a = previous.astype(np.float32)
    b = current.astype(np.float32)
    a[mask == 0] = float(a[mask > 0].mean()) if (mask > 0).any() else 0.0
    b[mask == 0] = float(b[mask > 0].mean()) if (mask > 0).any() else 0.0
    window = np.asarray(cv2.createHanningWindow((width, height), cv2.CV_32F), np.float32)
    # phaseCorrelate windows its inputs in place (OpenCV 4.11); a and b are our own copies.
    (dx, dy), response = cv2.phaseCorrelate(a, b, window)
    if response >= MIN_PHASE_RESPONSE:
        return (float(dx), float(dy), 0.0, 0.0), "phase", 0
    return None


def _decompose(matrix: npt.NDArray[np.float64], width: int, height: int) -> _Transform:
    """Similarity matrix -> (dx, dy) of the frame centre, ln(scale), angle in degrees."""
    a, b = float(matrix[0, 0]), float(matrix[1, 0])
    centre = np.array([width / 2.0, height / 2.0, 1.0])
    moved = matrix @ centre
    scale = math.hypot(a, b)
    return (
        float(moved[0] - centre[0]),
        float(moved[1] - centre[1]),
        math.log(max(scale, 1e-6)),
        math.degrees(math.atan2(b, a)),
    )


def _interval(
    start_s: float,
    end_s: float,
    measured: tuple[_Transform, Literal["features", "phase"], int] | None,
    shape: tuple[int, ...],
) -> CameraInterval:
    """One raw interval in frame-relative units per second."""
    if measured is None:
        return CameraInterval(start_s, end_s, "none", None, None, None, None, 0)
    (dx, dy, ln_scale, angle), method, inliers = measured
    height, width = shape[0], shape[1]
    dt = end_s - start_s
    has_scale = method == "features"
    return CameraInterval(
        start_s=start_s,
        end_s=end_s,
        method=method,
        pan_pct_per_s=-100.0 * dx / width / dt,
        tilt_pct_per_s=100.0 * dy / height / dt,
        zoom_pct_per_s=100.0 * ln_scale / dt if has_scale else None,
        rotation_deg_per_s=angle / dt if has_scale else None,
        inliers=inliers,
    )


def _summarise(
    times: list[float],
    transforms: list[_Transform | None],
    intervals: list[CameraInterval],
    shape: tuple[int, ...],
) -> CameraMotion:
    """Trend speeds and shake from the accumulated motion of each tracked segment."""
    height, width = shape[0], shape[1]
    diagonal = math.hypot(width, height)
    speeds: dict[str, list[float]] = {"pan": [], "tilt": [], "zoom": [], "rotation": []}
    jitter_squares: list[float] = []
    for segment in _tracked_segments(transforms):
        # Accumulated position of the background at each frame of the segment.
        first, last = segment[0], segment[-1] + 1
        t = np.asarray(times[first : last + 1], np.float64)
        steps = np.array([transforms[i] for i in segment], np.float64)
        path = np.vstack([np.zeros(4), np.cumsum(steps, axis=0)])
        slopes, residuals, leverages = _local_linear(t, path)
        speeds["pan"] += list(np.abs(-100.0 * slopes[:, 0] / width))
        speeds["tilt"] += list(np.abs(100.0 * slopes[:, 1] / height))
        is_phase = [intervals[i].method == "phase" for i in segment]
        if not any(is_phase):
            speeds["zoom"] += list(np.abs(100.0 * slopes[:, 2]))
            speeds["rotation"] += list(np.abs(slopes[:, 3]))
        # Standardised residuals: for white jitter of RMS s, residual / sqrt(1 - h) has RMS s.
        usable = leverages < 0.999
        if usable.any():
            standardised = residuals[usable, :2] / np.sqrt(1.0 - leverages[usable, None])
            jitter_squares += list(np.sum(standardised**2, axis=1))
    tracked = sum(interval.method != "none" for interval in intervals)

    def median(name: str) -> float | None:
        return float(np.median(speeds[name])) if speeds[name] else None

    def maximum(name: str) -> float | None:
        return float(np.max(speeds[name])) if speeds[name] else None

    return CameraMotion(
        pan_pct_per_s_median=median("pan"),
        pan_pct_per_s_max=maximum("pan"),
        tilt_pct_per_s_median=median("tilt"),
        tilt_pct_per_s_max=maximum("tilt"),
        zoom_pct_per_s_median=median("zoom"),
        zoom_pct_per_s_max=maximum("zoom"),
        rotation_deg_per_s_median=median("rotation"),
        rotation_deg_per_s_max=maximum("rotation"),
        shake_pct=(
            100.0 * math.sqrt(float(np.mean(jitter_squares))) / diagonal if jitter_squares else None
        ),
        tracked_fraction=tracked / len(intervals) if intervals else 0.0,
        intervals=intervals,
    )


def _tracked_segments(transforms: list[_Transform | None]) -> list[list[int]]:
    """Runs of consecutive tracked intervals."""
    segments: list[list[int]] = []
    current: list[int] = []
    for i, transform in enumerate(transforms):
        if transform is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(i)
    if current:
        segments.append(current)
    return segments


def _local_linear(t: FloatArray, path: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per point: slope and residual of a local linear fit over +-TREND_HALF_WINDOW_S, and the
    point's leverage in that fit. The window holds at least the two nearest neighbours (three
    points) so the fit exists at a low sampling rate and at the ends of the segment."""
    count = len(t)
    slopes = np.zeros((count, path.shape[1]))
    residuals = np.zeros((count, path.shape[1]))
    leverages = np.ones(count)
    for k in range(count):
        inside = np.flatnonzero(np.abs(t - t[k]) <= TREND_HALF_WINDOW_S + 1e-9)
        if len(inside) < 3:
            nearest = np.argsort(np.abs(t - t[k]), kind="stable")[: min(3, count)]
            inside = np.sort(nearest)
        if len(inside) < 2:
            continue
        tt = t[inside]
        centred = tt - tt.mean()
        spread = float(np.dot(centred, centred))
        if spread <= 0:
            continue
        slope = centred @ (path[inside] - path[inside].mean(axis=0)) / spread
        fitted = path[inside].mean(axis=0) + slope * (t[k] - tt.mean())
        slopes[k] = slope
        residuals[k] = path[k] - fitted
        leverages[k] = 1.0 / len(inside) + (t[k] - tt.mean()) ** 2 / spread
    return slopes, residuals, leverages


def _grown(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The box grown by SUBJECT_MARGIN on each side, as clipped corners (x0, y0, x1, y1)."""
    x, y, w, h = box
    mx, my = SUBJECT_MARGIN * w, SUBJECT_MARGIN * h
    x0, y0 = max(0, int(x - mx)), max(0, int(y - my))
    x1, y1 = min(width, math.ceil(x + w + mx)), min(height, math.ceil(y + h + my))
    return x0, y0, x1, y1


def _grey(image: npt.NDArray[np.uint8]) -> GreyImage:
    """A contiguous HxW uint8 grey image (BGR converted)."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"frames must be HxW uint8 grey, got {image.shape} {image.dtype}")
    if image.ndim == 3:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
    return np.ascontiguousarray(image)
