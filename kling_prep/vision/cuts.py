"""Scene cuts, fades and dissolves in a video, measured on tiny thumbnails of its decoded frames.

`CutDetector` takes one thumbnail per decoded frame (frames may be skipped), scores the content
change between consecutive thumbnails, and in `finish()` finds hard cuts (a change far above the
changes around it), fades (to or from black or white) and dissolves (frames that are blends of
the shots before and after). `locate_cut` then pins a cut to its exact frame when frames were
skipped. Pure measurement: verdicts live in `kling_prep.checks`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final, Literal

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "ADAPTIVE_RATIO",
    "ADAPTIVE_WINDOW_S",
    "MIN_CUT_SCORE",
    "Cut",
    "CutDetector",
    "CutScan",
    "Transition",
    "change_score",
    "locate_cut",
]

FloatArray = npt.NDArray[np.float32]
Thumb = npt.NDArray[np.uint8]

# Why each threshold has its value (all checked on the generated cases of
# tests/vision/test_cuts.py and of benchmarks/bench_accuracy.py, none tuned on a real file; the
# real clips are measured by benchmarks/bench_realset.py):
ADAPTIVE_RATIO: Final = 3.0
"""A cut's change score must be at least this many times the mean score of the frames around
it. 3.0 is PySceneDetect's AdaptiveDetector default; inside one shot, motion makes consecutive
changes similar to their neighbours (ratio ~1-2), while a new shot replaces all content at once."""

ADAPTIVE_WINDOW_S: Final = 1.0
"""Half-width, in seconds, of the neighbourhood whose mean score a candidate is compared to:
long enough to hold several frames even when only every 3rd frame is decoded, short enough to
follow a shot whose motion speeds up."""

MIN_CUT_SCORE: Final = 0.06
"""Absolute floor on a cut's change score (see `change_score`): 0.06 is 6 % of the colour mass
changing bins, or a mean luma step of ~15/255 after motion compensation, the same floor as
PySceneDetect's AdaptiveDetector (min_content_val 15 on a 0-255 scale). Unrelated shots score
0.3-1, two shots of one palette ~0.2, a jump cut within one set (same wall, new framing) ~0.1,
while a still shot's noise scores ~0.015; without the floor, a flicker in a perfectly still shot
could pass the ratio alone."""

STEP_RATIO: Final = 2.0
"""A cut changes the picture in one step: its score must be at least this many times each of
the two neighbouring steps. Motion that changes the picture a lot spreads the change over
several steps of similar size (a person walking into an empty frame adds a slice of body each
frame), which the adaptive ratio alone, against a still background, would take for a cut."""

DARK_LEVEL: Final = 40
"""A thumbnail is black when 95 % of its luma is at or below this 8-bit level (limited-range
black is 16; 40 leaves room for noise, grain and a faint logo)."""

BRIGHT_LEVEL: Final = 215
"""A thumbnail is white when 95 % of its luma is at or above this 8-bit level."""

MIN_FADE_CHANGE: Final = 30.0
"""A fade must move the mean luma by at least this many 8-bit levels in total."""

MAX_FADE_STEP_SHARE: Final = 0.6
"""No single step between decoded frames may carry more than this share of a fade's total luma
change: otherwise it is a cut to (or from) black, not a fade."""

MIN_DISSOLVE_CHANGE: Final = 0.06
"""A dissolve must change the picture by at least this much: mean absolute luma difference
between its first and last frames, as a fraction of full scale, after motion compensation (the
shots on either side must differ, not be the same shot moved)."""

MAX_DISSOLVE_RESIDUAL: Final = 0.32
"""The frames a quarter, half and three quarters into a dissolve must be alpha*first +
(1-alpha)*last up to this residual (RMS over the whole picture, relative to the RMS difference
of the two ends): ~0.05 for a blend of still shots, ~0.25 when both shots also move (a 12 %/s
pan under the blend), while camera motion and zooms on the generated cases never go below ~0.4
(the middle of a pan is not a mix of its ends) and unrelated frames give ~1. Shots whose own
motion is larger (a figure rocking across half the frame: ~0.45) are tested on their still
pixels instead, see STILL_PIXEL_RATIO."""

STILL_PIXEL_RATIO: Final = 0.2
"""Where the shots move on their own (a person rocking, a waving arm), a frame inside a dissolve
is not a blend of the window's two ends, so the blend is also tested on the pixels where both
shots keep still: a pixel is still when its own range of values over SHOT_MOTION_S before the
window plus that over SHOT_MOTION_S after it is under this share of its change across the
window. Motion can then move a blended frame off the blend there by at most this share, so the
residual allowed on still pixels is this same share, not MAX_DISSOLVE_RESIDUAL (which excuses
motion). 0.2: a dissolve of two rocking figures on walls leaves ~0.05-0.15 on its still pixels
(the wall), while camera motion, zooms and people walking fit only a few scattered pixels (see
MIN_STILL_DISSOLVE_CHANGE)."""

SHOT_MOTION_S: Final = 1.0
"""How long each shot is watched, just before and just after a dissolve window, for its own
motion (see STILL_PIXEL_RATIO); the window's length when that is shorter. A second holds a sway
or a gesture coming and going (a figure rocking at 0.8 Hz sweeps its whole range), and the shot
before a dissolve usually lasts that long. Motion slower than this is underestimated, which
only keeps moving pixels in the test, where they spoil the blend: the error rejects, it does
not accept."""

MIN_STILL_DISSOLVE_CHANGE: Final = 0.02
"""The still pixels (see STILL_PIXEL_RATIO) must carry at least this much of the change between
the window's ends, as mean absolute luma difference over the whole picture (a tenth of the
picture changing by a fifth of full scale, e.g. the part of a wall no one passes in front of):
with fewer, a few pixels fit a blend by chance. Among windows whose still pixels fit a blend,
pans, zooms, shake, people walking or rocking, hard cuts and the real clips of the tests and
the accuracy benchmark reach at most ~0.006 (a fade, found as a fade first, 0.013); dissolves
of two rocking figures 0.05-0.07."""

MID_BLEND_ALPHA: Final = (0.2, 0.8)
"""A frame is in mid-blend, a mix of both pictures, when its alpha (share of the first picture)
lies between these bounds. A dissolve window must have one of its three probe frames there:
when instead each pixel switches from one picture to the other at its own moment (a person
walking in and stopping, a door opening), the frame with a share alpha of its pixels not yet
switched is off the blend by an RMS residual of sqrt(alpha * (1 - alpha)) (pixels changing
alike), at least 0.4 in mid-blend, above both residual limits (MAX_DISSOLVE_RESIDUAL,
STILL_PIXEL_RATIO); so a switch cannot pass for a blend. The trim fits its line through such
frames too."""

DISSOLVE_SPANS_S: Final = (0.5, 1.0, 1.5, 2.0, 3.0)
"""Window lengths, in seconds, searched for dissolves (editors' dissolves last ~0.5-3 s). No
shorter window: over a quarter second a slow pan of a smooth picture is itself, to first order,
a blend of its ends (a walking person at a panning camera passed as a 0.25 s dissolve). A blend
of a few frames (a "soft cut") is found as a cut when one step carries most of its change."""

MAX_SHARED_STRUCTURE: Final = 0.5
"""A cut is a new shot: the picture before it must be mostly gone after it. The share of the
picture's structured area that two frames have in common (see `_shared_structure`: per small
window, the covariance of their lumas over their mean variance, 1 for the same picture, ~0
for unrelated ones, averaged over the windows that hold an edge or a texture) must be under this
share, on the frames as they are and after undoing their global shift. A change of picture
quality at an encoder's keyframe (blockiness, noise, sharpness, a slight shift of tone) keeps
nearly all of it (>= 0.85 on the generated still scenes encoded with a keyframe every 150 frames
at 30 kbit/s), and so does a change confined to part of the picture (a graphic or a panel
appearing: the share is that of the unchanged part), while the cuts between the generated
scenes (two rooms of one layout, textures, a scene and itself upside down, figures on walls,
textures between letterbox or pillarbox bars under a fixed logo, the bars cropped first: see
`_inside_bars`) share at most 0.22 (windows of unrelated shots correlate only by chance).
0.5: more than half the picture, the one before, is still there."""

STRUCTURE_WINDOW_PX: Final = 7
"""Side, in thumbnail pixels, of the square windows over which local structure is compared
(see MAX_SHARED_STRUCTURE): a ninth of a 64-pixel-wide thumbnail, wide enough to hold an edge
with both its sides (so that a slight blur or a shift of tone leaves its correlation near 1),
narrow enough that a change in one part of the picture leaves the windows elsewhere untouched."""

STRUCTURE_MIN_STD: Final = 4.0
"""A window holds structure when the luma's standard deviation over it, in 8-bit levels, is
above this in either frame: sensor and coding noise leave ~1-2 levels in a thumbnail window
of a flat wall (each thumbnail pixel averages many source pixels), any visible edge or texture
(a soft shadow, a fold) ~10 or more. Flat windows (a wall, black bars, a white page) say nothing
about whether the picture is the same, and are left out of the share."""

_HISTOGRAM_BINS: Final = (8, 4, 4)
"""Hue x saturation x value bins: coarse enough that a few thousand thumbnail pixels fill them
stably under motion, fine enough to tell a skin-toned interior from a green exterior."""


@dataclass(frozen=True)
class Cut:
    """A hard cut between two shots."""

    frame: int
    """Index of the first frame of the new shot, as far as the decoded frames tell (the exact
    frame after `locate_cut` when frames were skipped)."""
    time_s: float
    """Presentation time of `frame`, in seconds."""
    frame_before: int
    """Index of the last decoded frame of the old shot."""
    score: float
    """The change score between `frame_before` and `frame` (see `change_score`), 0..1."""
    adaptive_ratio: float = 0.0
    """The score over the mean score of the frames within +-1 s (>= 3 for a cut)."""


@dataclass(frozen=True)
class Transition:
    """A gradual transition: a fade to or from black or white, or a dissolve between shots."""

    kind: Literal["fade_out", "fade_in", "dissolve"]
    """fade_out: the picture goes to black or white; fade_in: it comes back from black or white;
    dissolve: one shot blends into the next."""
    start_frame: int
    """First frame of the transition (the last frame still untouched by it)."""
    end_frame: int
    """Last frame of the transition (the first fully black/white frame of a fade-out, the first
    frame at full picture of a fade-in, the first frame of the new shot of a dissolve)."""
    start_s: float
    """Time of `start_frame`, in seconds."""
    end_s: float
    """Time of `end_frame`, in seconds."""


@dataclass(frozen=True)
class CutScan:
    """The cuts and transitions found in one video."""

    cuts: list[Cut]
    """Hard cuts in time order (none inside a transition)."""
    transitions: list[Transition]
    """Fades and dissolves in time order."""
    frame_indices: list[int]
    """Frame index of every pushed thumbnail, in push order."""
    scores: list[float]
    """Per pushed thumbnail, its change score (0..1) against the previous pushed one (0 for the
    first), for a timeline."""


def change_score(previous_bgr: Thumb, current_bgr: Thumb) -> float:
    """Score the content change between two thumbnails of the same size.

    The score is the larger of two parts, each a fraction 0..1 (the colours changed, or the
    layout did):
    - the histogram distance, 1 - intersection of the hue x saturation x value histograms: the
      share of the colour mass that changed bins; blind to motion, so pans cost nothing;
    - the mean absolute luma difference over 255 after aligning the frames by their global
      shift (phase correlation): camera motion costs little, while a cut between two shots of
      the same colours but another layout still scores.
    Unrelated shots score ~0.3-1, two shots of one palette ~0.2, frames of one shot ~0.01-0.1
    (noise, motion).

    Args:
        previous_bgr: HxWx3 uint8 BGR thumbnail.
        current_bgr: HxWx3 uint8 BGR thumbnail of the same size.

    Returns:
        The change score, 0 (identical) .. 1.

    Raises:
        ValueError: when the thumbnails are not HxWx3 uint8 of the same size.
    """
    if previous_bgr.shape != current_bgr.shape:
        raise ValueError(f"thumbnail sizes differ: {previous_bgr.shape} and {current_bgr.shape}")
    previous = _ThumbFeatures.of(_check_thumb(previous_bgr))
    current = _ThumbFeatures.of(_check_thumb(current_bgr))
    return _score(previous, current, _hanning(current.luma.shape))


def locate_cut(frame_indices: list[int], thumbs: list[Thumb]) -> int:
    """Find the exact first frame of the new shot among consecutive frames around a cut.

    Args:
        frame_indices: every frame index from the cut's `frame_before` to its `frame`, inclusive,
            in order.
        thumbs: their thumbnails (HxWx3 uint8 BGR, one size).

    Returns:
        The index of the first frame of the new shot: the frame after the largest change.

    Raises:
        ValueError: when the lists differ in length or hold fewer than two frames.
    """
    if len(frame_indices) != len(thumbs) or len(thumbs) < 2:
        raise ValueError(
            f"locate_cut needs two or more frames with one thumbnail each, got "
            f"{len(frame_indices)} indices and {len(thumbs)} thumbnails"
        )
    features = [_ThumbFeatures.of(_resize_like(_check_thumb(t), thumbs[0])) for t in thumbs]
    window = _hanning(features[0].luma.shape)
    scores = [_score(a, b, window) for a, b in itertools.pairwise(features)]
    return frame_indices[int(np.argmax(scores)) + 1]


class CutDetector:
    """Find cuts, fades and dissolves from one thumbnail per decoded frame.

    Push every decoded frame's thumbnail in order (frames may be skipped, e.g. non-reference
    frames), then call `finish()`. Each push costs ~0.15 ms on a 64x36 thumbnail; `finish()`
    is vectorised over the whole clip.
    """

    def __init__(self, fps: float, *, min_shot_s: float = 0.5) -> None:
        """Prepare a detector.

        Args:
            fps: the video's frame rate (frames per second), to turn frame spans into time when
                a thumbnail's time is missing and to size windows.
            min_shot_s: shortest shot, in seconds: a cut closer than this to the previous cut
                is ignored (a flash or a flicker, not an edit).

        Raises:
            ValueError: when fps or min_shot_s is not positive.
        """
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if min_shot_s < 0:
            raise ValueError(f"min_shot_s must not be negative, got {min_shot_s}")
        self.fps = float(fps)
        self.min_shot_s = float(min_shot_s)
        self._frame_indices: list[int] = []
        self._times_s: list[float] = []
        self._scores: list[float] = []
        self._features: list[_ThumbFeatures] = []
        self._previous: _ThumbFeatures | None = None
        self._size: tuple[int, int] | None = None
        self._window: FloatArray | None = None

    def push(self, frame_index: int, time_s: float, thumb_bgr: Thumb) -> None:
        """Add the next decoded frame.

        Args:
            frame_index: the frame's index in the video (increasing, gaps allowed).
            time_s: its presentation time in seconds.
            thumb_bgr: its thumbnail, HxWx3 uint8 BGR (about 64x36 to 96x54); thumbnails of
                another size than the first are resized to it.

        Raises:
            ValueError: when the thumbnail is not HxWx3 uint8 or the index does not increase.
        """
        thumb = _check_thumb(thumb_bgr)
        if self._frame_indices and frame_index <= self._frame_indices[-1]:
            raise ValueError(f"frame_index {frame_index} does not follow {self._frame_indices[-1]}")
        if self._size is None:
            self._size = (thumb.shape[1], thumb.shape[0])
            self._window = _hanning(thumb.shape[:2])
        elif (thumb.shape[1], thumb.shape[0]) != self._size:
            thumb = np.asarray(cv2.resize(thumb, self._size, interpolation=cv2.INTER_AREA))
        features = _ThumbFeatures.of(thumb)
        score = 0.0
        if self._previous is not None and self._window is not None:
            score = _score(self._previous, features, self._window)
        self._previous = features
        self._frame_indices.append(int(frame_index))
        self._times_s.append(float(time_s))
        self._scores.append(score)
        self._features.append(features)

    def finish(self) -> CutScan:
        """Analyse everything pushed.

        Returns:
            The CutScan: cuts, transitions, and the per-frame scores for a timeline.
        """
        frames = self._frame_indices
        if len(frames) < 2:
            return CutScan(cuts=[], transitions=[], frame_indices=list(frames), scores=[0.0])
        times = np.asarray(self._times_s, np.float64)
        scores = np.asarray(self._scores, np.float64)
        lumas = np.stack([features.luma for features in self._features])
        # 1. Gradual transitions first: a cut found inside one is part of it.
        is_black, is_white = _blank_frames(lumas)
        spans = _find_fades(lumas, is_black, is_white)
        spans += [s for s in _find_dissolves(lumas, times) if not _overlaps_any(s, spans)]
        spans.sort(key=lambda span: span[1])
        # 2. Hard cuts: adaptive ratio, absolute floor, minimum shot length. Between two black
        # (or two white) frames there is no picture to cut: the score is noise.
        is_blank_pair = np.zeros(len(frames), bool)
        for is_blank in (is_black, is_white):
            is_blank_pair[1:] |= is_blank[1:] & is_blank[:-1]
        cuts = self._find_cuts(scores, times, spans, is_blank_pair)
        transitions = [
            Transition(
                kind=kind,
                start_frame=frames[start],
                end_frame=frames[end],
                start_s=float(times[start]),
                end_s=float(times[end]),
            )
            for kind, start, end in spans
        ]
        return CutScan(
            cuts=cuts,
            transitions=transitions,
            frame_indices=list(frames),
            scores=[float(s) for s in scores],
        )

    def _find_cuts(
        self,
        scores: npt.NDArray[np.float64],
        times: npt.NDArray[np.float64],
        spans: list[_Span],
        is_blank_pair: npt.NDArray[np.bool_],
    ) -> list[Cut]:
        """Cuts by the adaptive ratio against the +-1 s neighbourhood."""
        cuts: list[Cut] = []
        count = len(scores)
        left = np.searchsorted(times, times - ADAPTIVE_WINDOW_S, side="left")
        right = np.searchsorted(times, times + ADAPTIVE_WINDOW_S, side="right")
        cumulative = np.concatenate([[0.0], np.cumsum(scores)])
        for i in range(1, count):
            if scores[i] < MIN_CUT_SCORE or is_blank_pair[i]:
                continue
            # Neighbours exclude the candidate itself and the very first (undefined) score.
            lo, hi = max(int(left[i]), 1), int(right[i])
            neighbours = hi - lo - 1
            total = cumulative[hi] - cumulative[lo] - scores[i]
            baseline = total / neighbours if neighbours > 0 else 0.0
            # A floor on the baseline keeps the ratio finite on a perfectly still shot.
            ratio = scores[i] / max(baseline, 0.01)
            if ratio < ADAPTIVE_RATIO:
                continue
            steps = [scores[j] for j in (i - 1, i + 1) if 1 <= j < count]
            if steps and scores[i] < STEP_RATIO * max(steps):
                continue
            if any(start < i <= end for _, start, end in spans) or self._is_flash(i, times):
                continue
            if self._keeps_picture(i):
                continue
            # A stronger cut wins a conflict inside one minimum shot length.
            if cuts and times[i] - cuts[-1].time_s < self.min_shot_s:
                if scores[i] > cuts[-1].score:
                    cuts.pop()
                else:
                    continue
            cuts.append(
                Cut(
                    frame=self._frame_indices[i],
                    time_s=float(times[i]),
                    frame_before=self._frame_indices[i - 1],
                    score=float(scores[i]),
                    adaptive_ratio=float(ratio),
                )
            )
        return cuts

    def _keeps_picture(self, i: int) -> bool:
        """Whether the picture before position i is still mostly there at i (see
        MAX_SHARED_STRUCTURE): a change of the picture's quality, or of a part of it, not a
        new shot."""
        return _shares_structure(self._features[i - 1].luma, self._features[i].luma)

    def _is_flash(self, i: int, times: npt.NDArray[np.float64]) -> bool:
        """Whether the change at position i is a flash rather than a new shot.

        A flash, a passing occlusion or a dropped frame changes the picture for a moment: the
        picture before i comes back within one minimum shot length, or the picture at i was
        already there within one minimum shot length before. A cut leaves the old shot for good.
        A picture is back when its colours are (a change score under MIN_CUT_SCORE) or, while a
        camera's exposure is still recovering from the flash, its structure is (see
        MAX_SHARED_STRUCTURE).
        """
        before, after = self._features[i - 1], self._features[i]
        window = _hanning(before.luma.shape)

        def same(a: _ThumbFeatures, b: _ThumbFeatures) -> bool:
            return _score(a, b, window) < MIN_CUT_SCORE or _shares_structure(a.luma, b.luma)

        j = i + 1
        while j < len(self._features) and times[j] - times[i] <= self.min_shot_s:
            if same(before, self._features[j]):
                return True
            j += 1
        j = i - 2
        while j >= 0 and times[i - 1] - times[j] <= self.min_shot_s:
            if same(self._features[j], after):
                return True
            j -= 1
        return False


_Span = tuple[Literal["fade_out", "fade_in", "dissolve"], int, int]
"""A transition as (kind, first pushed position, last pushed position)."""


@dataclass(frozen=True)
class _ThumbFeatures:
    """What the score needs from one thumbnail."""

    luma: FloatArray
    histogram: FloatArray

    @classmethod
    def of(cls, thumb: Thumb) -> _ThumbFeatures:
        luma = np.asarray(cv2.cvtColor(thumb, cv2.COLOR_BGR2GRAY), np.float32)
        hsv = cv2.cvtColor(thumb, cv2.COLOR_BGR2HSV)
        histogram = np.asarray(
            cv2.calcHist([hsv], [0, 1, 2], None, list(_HISTOGRAM_BINS), [0, 180, 0, 256, 0, 256]),
            np.float32,
        ).ravel()
        histogram /= max(float(histogram.sum()), 1.0)
        return cls(luma=luma, histogram=histogram)


def _score(previous: _ThumbFeatures, current: _ThumbFeatures, window: FloatArray) -> float:
    """The change score of `change_score`, from precomputed features."""
    histogram_distance = 1.0 - float(np.minimum(previous.histogram, current.histogram).sum())
    raw = float(np.mean(np.abs(previous.luma - current.luma)))
    aligned = _aligned_difference(previous.luma, current.luma, window)
    luma_distance = min(raw, aligned) / 255.0
    return max(histogram_distance, luma_distance, 0.0)


def _aligned_difference(previous: FloatArray, current: FloatArray, window: FloatArray) -> float:
    """Mean absolute luma difference after shifting `previous` by the phase-correlation shift.

    Only the overlap is compared; a shift beyond a quarter of the frame is not trusted (two
    unrelated shots give a random peak) and the raw difference is returned.
    """
    shift = _global_shift(previous, current, window)
    if shift is None:
        return float(np.mean(np.abs(previous - current)))
    shifted, inner = _shift_overlap(previous, shift)
    return float(np.mean(np.abs(shifted[inner] - current[inner])))


def _global_shift(
    previous: FloatArray, current: FloatArray, window: FloatArray
) -> tuple[float, float] | None:
    """The shift (dx, dy) in pixels that best aligns `previous` on `current` (phase
    correlation), or None beyond a quarter of the frame, where it is not trusted (two unrelated
    shots give a random peak)."""
    height, width = previous.shape
    # Copies: OpenCV 4.11's phaseCorrelate applies the window to its inputs in place.
    (dx, dy), _ = cv2.phaseCorrelate(previous.copy(), current.copy(), window)
    if abs(dx) > width / 4 or abs(dy) > height / 4:
        return None
    return float(dx), float(dy)


def _shift_overlap(
    image: FloatArray, shift: tuple[float, float]
) -> tuple[FloatArray, tuple[slice, slice]]:
    """`image` shifted by (dx, dy) pixels, and the slices of the part both frames still show."""
    height, width = image.shape
    dx, dy = shift
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], np.float32)
    shifted = np.asarray(
        cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR), np.float32
    )
    mx, my = int(np.ceil(abs(dx))) + 1, int(np.ceil(abs(dy))) + 1
    return shifted, (slice(my, height - my), slice(mx, width - mx))


def _shares_structure(previous: FloatArray, current: FloatArray) -> bool:
    """Whether two lumas share MAX_SHARED_STRUCTURE or more of their structured area inside
    the bars they both have, as they are or after undoing their global shift (see
    `_shared_structure`)."""
    rows, columns = _inside_bars(previous, current)
    previous, current = previous[rows, columns], current[rows, columns]
    if min(previous.shape) < STRUCTURE_WINDOW_PX:
        return False
    if _shared_structure(previous, current) >= MAX_SHARED_STRUCTURE:
        return True
    shift = _global_shift(previous, current, _hanning(previous.shape))
    if shift is None or shift == (0.0, 0.0):
        return False
    moved, inner = _shift_overlap(previous, shift)
    return _shared_structure(moved[inner], current[inner]) >= MAX_SHARED_STRUCTURE


def _inside_bars(previous: FloatArray, current: FloatArray) -> tuple[slice, slice]:
    """The rows and columns between the flat bars (letterbox, pillarbox) at the edges of both
    frames: a bar is no part of the picture, but its border with the picture is an edge that
    every frame shares, cut or not. A row or column is flat when its luma's standard deviation
    is under STRUCTURE_MIN_STD in both frames."""
    spans = []
    for axis in (1, 0):
        flat = (np.std(previous, axis=axis) < STRUCTURE_MIN_STD) & (
            np.std(current, axis=axis) < STRUCTURE_MIN_STD
        )
        kept = np.flatnonzero(~flat)
        spans.append(slice(int(kept[0]), int(kept[-1]) + 1) if len(kept) else slice(None))
    return spans[0], spans[1]


def _shared_structure(previous: FloatArray, current: FloatArray) -> float:
    """The share of two lumas' structured area that they have in common, about -1..1.

    Per window of STRUCTURE_WINDOW_PX around each pixel, twice the covariance of the two frames
    over the sum of their variances (SSIM's contrast-structure term): 1 where the window shows
    the same thing, nearly 1 when its tone or sharpness shifts a little, about 0 where it shows
    something unrelated (or something on one side and a flat surface on the other). Averaged
    over the windows that hold structure in either frame (see STRUCTURE_MIN_STD), each counting
    alike, so that one strong edge (a horizon) weighs no more than a texture; frames with no
    structure at all give 0 (nothing says they are the same picture).
    """
    size = (STRUCTURE_WINDOW_PX, STRUCTURE_WINDOW_PX)

    def local_mean(values: FloatArray) -> FloatArray:
        return np.asarray(cv2.blur(values, size, borderType=cv2.BORDER_REFLECT), np.float32)

    mean_a, mean_b = local_mean(previous), local_mean(current)
    variance_a = local_mean(previous * previous) - mean_a * mean_a
    variance_b = local_mean(current * current) - mean_b * mean_b
    covariance = local_mean(previous * current) - mean_a * mean_b
    structured = np.maximum(variance_a, variance_b) > STRUCTURE_MIN_STD**2
    if not structured.any():
        return 0.0
    shared = 2.0 * covariance[structured] / (variance_a[structured] + variance_b[structured])
    return float(np.mean(shared))


def _blank_frames(lumas: FloatArray) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which thumbnails are black, and which white (see DARK_LEVEL and BRIGHT_LEVEL)."""
    low, high = np.percentile(lumas.reshape(len(lumas), -1), [5.0, 95.0], axis=1)
    return high <= DARK_LEVEL, low >= BRIGHT_LEVEL


def _find_fades(
    lumas: FloatArray, is_black: npt.NDArray[np.bool_], is_white: npt.NDArray[np.bool_]
) -> list[_Span]:
    """Fades out to and in from runs of black (or white) thumbnails."""
    count = len(lumas)
    means = lumas.reshape(count, -1).mean(axis=1)
    spans: list[_Span] = []
    for is_extreme, sign in ((is_black, -1.0), (is_white, 1.0)):
        # Runs of black (sign -1) or white (sign +1) frames.
        position = 0
        while position < count:
            if not is_extreme[position]:
                position += 1
                continue
            run_end = position
            while run_end + 1 < count and is_extreme[run_end + 1]:
                run_end += 1
            # Fade out: going back from the run, the luma moves steadily away from black/white.
            start = position
            while start > 0 and sign * (means[start] - means[start - 1]) > 0.5:
                start -= 1
            if start < position and _is_gradual(means[start : position + 1]):
                spans.append(("fade_out", start, position))
            # Fade in: going on from the run, the luma moves steadily back.
            end = run_end
            while end + 1 < count and sign * (means[end] - means[end + 1]) > 0.5:
                end += 1
            if end > run_end and _is_gradual(means[run_end : end + 1]):
                spans.append(("fade_in", run_end, end))
            position = run_end + 1
    return spans


def _is_gradual(means: npt.NDArray[np.float32]) -> bool:
    """A luma ramp big enough to be a fade, with no single step carrying most of it."""
    total = abs(float(means[-1] - means[0]))
    largest_step = float(np.max(np.abs(np.diff(means))))
    return (
        len(means) >= 3 and total >= MIN_FADE_CHANGE and largest_step <= MAX_FADE_STEP_SHARE * total
    )


def _find_dissolves(lumas: FloatArray, times: npt.NDArray[np.float64]) -> list[_Span]:
    """Spans whose frames are blends of the frames at their ends (see the thresholds above).

    On thumbnails, slow motion is locally indistinguishable from a blend (a small shift of a
    smooth picture is, to first order, a linear change); what tells a dissolve is global: the
    frames a quarter, half and three quarters into a window are alpha-blends of the window's
    two ends, with alpha falling, and the ends are different pictures, not one moved. The blend
    is tested on the whole picture and, since shots that move on their own spoil it where they
    move, on the pixels where both shots keep still (see STILL_PIXEL_RATIO).
    """
    count = len(lumas)
    # Half-size lumas: a dissolve is global, and this quarters the cost.
    small = np.stack(
        [
            np.asarray(cv2.resize(luma, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
            for luma in lumas
        ]
    )
    coarse = small.reshape(count, -1).astype(np.float32) / 255.0
    steps = np.concatenate([[0.0], np.mean(np.abs(np.diff(coarse, axis=0)), axis=1)])
    frame_period_s = float(np.median(np.diff(times))) if count > 1 else 1.0
    shot_watch = max(1, round(SHOT_MOTION_S / max(frame_period_s, 1e-6)))
    candidates: list[tuple[int, int]] = []
    for span_s in DISSOLVE_SPANS_S:
        length = round(span_s / max(frame_period_s, 1e-6))
        if length < 3 or length >= count:
            continue
        candidates += _blend_windows(coarse, steps, length, shot_watch)
    if not candidates:
        return []
    # Keep the spans whose ends are different pictures, trimmed to the frames that are still
    # blending.
    window = _hanning(lumas.shape[1:])
    spans: list[_Span] = []
    for start, end in _merged(candidates):
        moved = _aligned_difference(lumas[start], lumas[end], window) / 255.0
        if moved >= MIN_DISSOLVE_CHANGE:
            first, last = _trim_blend(coarse, start, end, shot_watch)
            spans.append(("dissolve", first, last))
    return spans


def _blend_windows(
    coarse: FloatArray, steps: npt.NDArray[np.float64], length: int, shot_watch: int
) -> list[tuple[int, int]]:
    """The windows of `length` positions whose ends differ, changed with no single big step,
    and whose inner frames are blends of the ends: on the whole picture, or on the pixels where
    both shots keep still.

    Args:
        coarse: one flattened half-size luma row per pushed frame, 0..1.
        steps: per position, the mean absolute change from the one before (0 at the first).
        length: the window's length in positions (at least 3, fewer than the frames).
        shot_watch: the positions the shots' own motion is watched over (SHOT_MOTION_S).
    """
    count = len(coarse)
    starts = count - length
    first, last = coarse[:starts], coarse[length:]
    difference = first - last
    direct = np.mean(np.abs(difference), axis=1)
    largest = np.lib.stride_tricks.sliding_window_view(steps[1:], length).max(axis=1)
    differ = (direct >= MIN_DISSOLVE_CHANGE) & (largest <= 0.5 * direct)
    # 1. The whole picture is a blend (shots that keep still or move little).
    ok = differ & _is_blend(coarse, length, None, MAX_DISSOLVE_RESIDUAL)
    # 2. Or the blend holds on the pixels where both shots keep still, when the shots are
    # seen on both sides (their own motion is measured there) and those pixels carry
    # enough of the change.
    watch = min(length, shot_watch)
    still = _still_pixels(coarse, length, watch, difference)
    positions = np.arange(starts)
    seen = (positions >= watch) & (positions + length + watch < count)
    still_change = np.mean(still * np.abs(difference), axis=1)
    eligible = differ & seen & (still_change >= MIN_STILL_DISSOLVE_CHANGE)
    if eligible.any():
        ok |= eligible & _is_blend(coarse, length, still, STILL_PIXEL_RATIO)
    return [(int(a), int(a) + length) for a in np.flatnonzero(ok)]


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping (or touching) windows merged into one, in order of their starts."""
    ordered = sorted(windows)
    merged = [ordered[0]]
    for start, end in ordered[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _is_blend(
    coarse: FloatArray, length: int, weights: FloatArray | None, max_residual: float
) -> npt.NDArray[np.bool_]:
    """Per window start, whether the frames a quarter, half and three quarters into the window
    of `length` positions are blends of its two ends, with alpha falling and at least one of
    them in mid-blend (see MID_BLEND_ALPHA).

    Args:
        coarse: one flattened luma row per pushed frame, 0..1.
        length: the window's length in positions.
        weights: per window start and pixel, the pixels to test (1) or not (0); None for all.
        max_residual: the largest residual allowed (RMS, relative to the ends' difference).
    """
    starts = len(coarse) - length
    first, last = coarse[:starts], coarse[length:]
    difference = first - last
    weighted = difference if weights is None else weights * difference
    energy = np.maximum(np.sum(weighted * difference, axis=1), 1e-9)
    ok = np.ones(starts, bool)
    alphas = []
    for inner in sorted({min(max(round(length * q), 1), length - 1) for q in (0.25, 0.5, 0.75)}):
        middle = coarse[inner : inner + starts]
        alpha = np.sum((middle - last) * weighted, axis=1) / energy
        misfit = middle - (alpha[:, None] * first + (1.0 - alpha[:, None]) * last)
        squares = misfit * misfit if weights is None else weights * misfit * misfit
        ok &= np.sqrt(np.sum(squares, axis=1) / energy) <= max_residual
        alphas.append(alpha)
    stacked = np.stack(alphas)
    falls = np.all(np.diff(stacked, axis=0) < 0.0, axis=0) & (alphas[0] - alphas[-1] >= 0.25)
    low, high = MID_BLEND_ALPHA
    mixed = np.any((stacked > low) & (stacked < high), axis=0)
    return np.asarray(ok & falls & mixed, bool)


def _still_pixels(
    coarse: FloatArray, length: int, watch: int, difference: FloatArray
) -> FloatArray:
    """Per start of a window of `length` positions, 1 on the pixels where both shots keep still.

    A pixel is still when its range over the `watch` positions before the window plus its range
    over the `watch` positions after it is under STILL_PIXEL_RATIO times its change
    `difference` (first minus last frame of the window) across the window.
    """
    starts = len(coarse) - length
    own = _range_before(coarse, watch)[:starts] + _range_after(coarse, watch)[length:]
    return np.asarray(own < STILL_PIXEL_RATIO * np.abs(difference), np.float32)


def _range_before(values: FloatArray, width: int) -> FloatArray:
    """Per row i, the per-column range (max - min) of rows max(0, i - width) .. i."""
    # Running max and min over width + 1 rows by doubling: log2(width) passes, not width.
    padded = np.concatenate([np.repeat(values[:1], width, axis=0), values])
    high, low = padded, padded
    covered = 1
    while covered * 2 <= width + 1:
        high = np.maximum(high[:-covered], high[covered:])
        low = np.minimum(low[:-covered], low[covered:])
        covered *= 2
    rest = width + 1 - covered
    high = np.maximum(high[: len(high) - rest], high[rest:])
    low = np.minimum(low[: len(low) - rest], low[rest:])
    return np.asarray(high - low, np.float32)


def _range_after(values: FloatArray, width: int) -> FloatArray:
    """Per row i, the per-column range (max - min) of rows i .. min(count - 1, i + width)."""
    return _range_before(values[::-1], width)[::-1]


def _trim_blend(coarse: FloatArray, start: int, end: int, watch: int) -> tuple[int, int]:
    """Narrow [start, end] to the last frame before and the first frame after the blend.

    Alpha (the share of the first picture) is measured for every frame against two reference
    frames, on the pixels where both shots keep still around them (watched over the span's
    length, at least `watch` positions) when there are enough (see STILL_PIXEL_RATIO), else on
    the whole picture; a line fitted through the longest run of frames in mid-blend (see
    MID_BLEND_ALPHA), where the shots' own motion disturbs alpha least, gives where the blend
    leaves 1 and reaches 0. The references start as the span's ends and move to the estimate's ends
    (three rounds), since a shot that moves drifts away from a far reference.
    """
    low, high = start, end
    for _ in range(3):
        first, last = coarse[low], coarse[high]
        difference = first - last
        width = max(high - low, watch)
        own = np.ptp(coarse[max(0, low - width) : low + 1], axis=0) + np.ptp(
            coarse[high : high + width + 1], axis=0
        )
        weights = np.asarray(own < STILL_PIXEL_RATIO * np.abs(difference), np.float32)
        if np.mean(weights * np.abs(difference)) < MIN_STILL_DISSOLVE_CHANGE:
            weights = np.ones_like(difference)
        weighted = weights * difference
        energy = max(float(np.dot(weighted, difference)), 1e-9)
        alphas = (coarse[start : end + 1] - last) @ weighted / energy
        positions = np.flatnonzero((alphas > MID_BLEND_ALPHA[0]) & (alphas < MID_BLEND_ALPHA[1]))
        if len(positions) < 2:
            break
        # The blend is one stretch of falling alpha; a frame elsewhere whose alpha strays into
        # mid-blend is a shot's own motion.
        runs = np.split(positions, np.flatnonzero(np.diff(positions) > 1) + 1)
        positions = max(runs, key=len)
        if len(positions) < 2:
            break
        slope, intercept = np.polyfit(positions.astype(np.float64), alphas[positions], 1)
        if slope >= 0:
            break
        new_low = start + max(0, int(np.floor((1.0 - intercept) / slope)))
        new_high = start + min(end - start, int(np.ceil(-intercept / slope)))
        if (new_low, new_high) == (low, high) or new_high - new_low < 2:
            break
        low, high = new_low, new_high
    return low, high


def _overlaps_any(span: _Span, spans: list[_Span]) -> bool:
    return any(span[1] <= other[2] and other[1] <= span[2] for other in spans)


def _hanning(shape: tuple[int, ...]) -> FloatArray:
    height, width = shape[0], shape[1]
    return np.asarray(cv2.createHanningWindow((width, height), cv2.CV_32F), np.float32)


def _resize_like(thumb: Thumb, reference: Thumb) -> Thumb:
    if thumb.shape == reference.shape:
        return thumb
    size = (reference.shape[1], reference.shape[0])
    return np.asarray(cv2.resize(thumb, size, interpolation=cv2.INTER_AREA), np.uint8)


def _check_thumb(thumb: Thumb) -> Thumb:
    if thumb.dtype != np.uint8 or thumb.ndim != 3 or thumb.shape[2] != 3:
        raise ValueError(f"thumbnail must be HxWx3 uint8 BGR, got {thumb.shape} {thumb.dtype}")
    if min(thumb.shape[:2]) < 8:
        raise ValueError(f"thumbnail {thumb.shape[1]}x{thumb.shape[0]} is too small (< 8 px)")
    return np.ascontiguousarray(thumb)
