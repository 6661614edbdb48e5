"""Lighting of the character image: exposure, clipping, contrast, backlight, colour cast and blur.

Pure measurement (numpy + OpenCV): every value comes back in its own unit (stops, percent of
pixels, CIELAB units, a 0..1 blur score); the thresholds and verdicts live in `kling_prep.checks`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "BLUR_REGION_SIDE_PX",
    "BlurMetrics",
    "ColorCast",
    "LightingMetrics",
    "measure_blur",
    "measure_lighting",
]

FloatArray = npt.NDArray[np.float32]

MIDDLE_GREY_LINEAR: Final = 0.18
"""The photographic middle grey (18 % reflectance) in linear light; 0 stops is this level."""

LUMINANCE_FLOOR_LINEAR: Final = 2.0**-10
"""Floor on linear luminance before a log: about 1/1000 (sRGB code ~3/255). An 8-bit sRGB image
holds ~12 stops below white, but the darkest levels are noise and JPEG quantisation; a floor
ten stops below white keeps `contrast_stops` and the exposure of black images finite."""

CLIPPED_LEVEL: Final = 250
"""A pixel whose luma (Rec. 709 weights on the 8-bit code values) is at or above this carries no
highlight detail any more. Luma, not any single channel: a saturated orange suit has its red
channel at 255 with its detail intact in green and blue, and is not a blown highlight."""

CRUSHED_LEVEL: Final = 5
"""A pixel whose every channel is at or below this 8-bit code value carries no shadow detail."""

BLUR_REGION_SIDE_PX: Final = 512
"""The blur region (subject box or face box) is resized so its longer side is this many pixels
before measuring, so the blur value and its sigma equivalent do not depend on the resolution."""

BLUR_FILTER_TAPS: Final = 9
"""Length of the re-blur averaging filter of Crete-Roffet et al. 2007 (their value)."""

_BINS_PER_STOP: Final = 256

TEXTURED_RANGE_STOPS: Final = (-3.0, 2.0)
"""Zones II-VII around middle grey (zone V): the tones that carry texture in a photograph."""

_TEXTURED_BINS: Final = tuple(
    round((stops - math.log2(LUMINANCE_FLOOR_LINEAR / MIDDLE_GREY_LINEAR)) * _BINS_PER_STOP)
    for stops in TEXTURED_RANGE_STOPS
)

_LUMA_WEIGHTS: Final = np.array([0.2126, 0.7152, 0.0722], np.float32)
"""Rec. 709 luma weights, applied to 8-bit code values for the clipping test."""

MIN_BACKGROUND_FRACTION: Final = 0.05
"""Backlight is only measured when at least this fraction of the image is background."""

NEUTRAL_CHROMA_LAB: Final = 2.3
"""Below this CIELAB chroma a cast is named "neutral": 2.3 is the usual just-noticeable
difference in Delta E*ab (Sharma, Digital Color Imaging Handbook), so a smaller cast is
invisible and naming its hue would only name noise."""

MID_TONE_L_RANGE: Final = (15.0, 95.0)
"""L* range of the pixels that estimate the colour cast: near-black pixels have noisy, meaningless
hue, and near-white ones are often clipped (hence forced neutral)."""

# Sigma-equivalent calibration of the re-blur metric, made by `_calibrate_blur_table()`: a
# 512x512 "dead leaves" image (occluding discs, radii with a 1/r^3 density between 2 and 120 px,
# uniform random grey levels: the standard scale-invariant reference for texture sharpness, as
# in ISO/IEEE camera sharpness test charts) blurred with a Gaussian of each sigma (px at the
# 512 px scale), and the metric measured on it. Seeds 0-3 agree within 0.01 at every sigma.
# tests/vision/test_lighting.py regenerates the table and checks it matches.
_BLUR_SIGMA_TABLE_PX: Final = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
_BLUR_VALUE_TABLE: Final = (
    0.099,
    0.2536,
    0.4109,
    0.5267,
    0.6205,
    0.7505,
    0.8285,
    0.9092,
    0.9472,
    0.9763,
    0.986,
)


@dataclass(frozen=True)
class ColorCast:
    """The image's colour cast in CIELAB (D65), estimated robustly.

    The estimate is the per-channel trimmed mean (the middle 80 %) of a* and b* over the
    mid-tone pixels of the whole image (L* between 15 and 95). Mid tones carry the illuminant's
    colour most faithfully; the trimming drops the most saturated object colours (a red shirt),
    so a scene that is merely colourful reads near neutral while a tinted illuminant, which
    shifts every pixel, reads as a cast.
    """

    a_star: float
    """Mean a* in CIELAB units: positive = towards magenta/red, negative = towards green."""
    b_star: float
    """Mean b* in CIELAB units: positive = towards yellow (warm), negative = towards blue (cool)."""
    chroma_lab: float
    """Strength of the cast, sqrt(a*^2 + b*^2) in CIELAB units (Delta E from neutral grey):
    ~2.3 is just noticeable, ~5 clearly visible side by side, >10 strong."""
    hue_deg: float
    """Hue angle atan2(b*, a*) in degrees, 0..360: 0 red/magenta, 90 yellow, 180 green,
    270 blue."""
    hue_name: str
    """Name of the hue sector: "neutral" (chroma < 2.3), "red" (345-30 deg), "warm" (30-100,
    orange to yellow), "green" (100-200), "cool" (200-290, cyan to blue), "magenta" (290-345)."""


@dataclass(frozen=True)
class BlurMetrics:
    """Perceptual blur of the subject (or face) region, at a fixed scale."""

    blur: float
    """Crete-Roffet et al. 2007 "re-blur" no-reference blur, 0 = sharp .. 1 = very blurred:
    the fraction of the region's neighbouring-pixel variation that survives a further 9-tap
    averaging blur (max of the horizontal and vertical directions). Measured on the region
    resized so its longer side is 512 px. A sharp dead-leaves reference reads 0.10; Gaussian
    blur of sigma 1 px reads 0.41, 2 px 0.62, 4 px 0.83 at that scale."""
    blur_sigma_px_equiv: float
    """The Gaussian sigma, in px at the 512 px scale, that gives a sharp dead-leaves reference
    the same `blur` value (interpolated in a calibration table; 0 when sharper than the
    reference, capped at 16). An equivalence for reading the value, not an estimate of the
    optics: smooth content (skin, sky) reads blurrier than the busy reference."""
    region_box: tuple[int, int, int, int]
    """The measured region (x, y, w, h) in pixels of the input image."""


@dataclass(frozen=True)
class LightingMetrics:
    """Lighting measurements of a character image; each field states its unit."""

    exposure_stops: float
    """log2 of the subject's median linear luminance over 18 % middle grey, in photographic
    stops: 0 = well exposed, -2 = two stops under (a quarter of the light), +1 = one over.
    The subject is the mask (weight > 0.5), else the whole image; with a face box the face
    pixels carry half the weight of the median."""
    face_exposure_stops: float | None
    """The same measure over the face box alone; None without a face box."""
    face_shadow_stops: float | None
    """The face box's 5th percentile of linear luminance over 18 % grey, in stops: its darkest
    features (pupils, lash lines, nostrils, brows), which reflect a few percent and sit 2-3 stops
    under middle grey in a correct exposure of any skin. None without a face box."""
    face_highlight_stops: float | None
    """The face box's 99th percentile, in stops over 18 % grey: its brightest features (the sheen
    on forehead and nose, the whites of the eyes), which reach middle grey or more in a correct
    exposure of any skin. White (sRGB 255) is +2.47. None without a face box."""
    face_clipped_pct: float | None
    """Percent (0..100) of the face box's pixels whose luma is >= 250/255; None without a face."""
    highlight_stops: float
    """The subject's 99th percentile of linear luminance over 18 % grey, in stops: its lit side
    (skin, the sheen on cloth or metal), which reaches middle grey or more in a correct exposure
    whatever the clothes' own colour."""
    shadow_stops: float
    """The subject's 5th percentile of linear luminance over 18 % grey, in stops: where its
    darkest tones sit (hair, folds, shadows: -3 stops or lower in a correct exposure)."""
    textured_share: float
    """Share (0..1) of the whole picture's pixels between -3 and +2 stops over 18 % grey: the
    textured tones of the zone system (zones II-VII). A photograph keeps most of its pixels
    there, however it is exposed; ink or line art on paper has only its anti-aliased edges."""
    ink_share: float
    """Share (0..1) of the whole picture's pixels under -3 stops (below the textured tones):
    the ink of a drawing. A photograph blown to white keeps almost none."""
    clipped_highlights_pct: float
    """Percent (0..100) of subject pixels whose luma is >= 250/255: blown highlights."""
    crushed_shadows_pct: float
    """Percent (0..100) of subject pixels with every channel at <= 5/255: crushed shadows."""
    contrast_stops: float
    """The subject's dynamic range, log2(p95 / p5) of linear luminance (floored at 2^-10), in
    stops: ~0 flat, 3-6 typical for a lit person, >8 harsh."""
    backlight_stops: float | None
    """Background median minus subject median luminance, in stops: positive = the subject is
    darker than the background (+2 = the background has four times the light). None without a
    mask or when the background is under 5 % of the image."""
    background_exposure_stops: float | None
    """The background's median linear luminance over 18 % grey, in stops; None under the same
    conditions as `backlight_stops`."""
    color_cast: ColorCast
    """The colour cast of the whole image; see ColorCast."""
    blur: BlurMetrics | None
    """Blur of the face box when given, else of the subject's bounding box, else of the whole
    image; None when the region is flat (mean step under 0.1 grey level: no edge to judge)."""
    subject_fraction: float
    """Fraction (0..1) of the image covered by the subject pixels used above (1 without a mask)."""
    has_subject_mask: bool = False
    """Whether the subject is a person's mask; False: the whole picture stands for it."""


def measure_lighting(
    image_rgb: npt.NDArray[np.uint8],
    subject_mask: npt.NDArray[np.floating[Any]] | npt.NDArray[np.bool_] | None = None,
    face_box: tuple[int, int, int, int] | None = None,
    blur_box: tuple[int, int, int, int] | None = None,
) -> LightingMetrics:
    """Measure the lighting of a character image.

    Args:
        image_rgb: HxWx3 uint8 RGB image (sRGB encoded).
        subject_mask: optional HxW person mask, bool or float 0..1 (e.g. from a segmentation
            model); pixels with weight > 0.5 are the subject, < 0.5 the background.
        face_box: optional face box (x, y, w, h) in pixels; clipped to the image.
        blur_box: optional region (x, y, w, h) to judge blur on; by default the face box, else
            the subject's bounding box, else the whole image.

    Returns:
        The LightingMetrics of the image.

    Raises:
        ValueError: when the image is not HxWx3 uint8, the mask's shape does not match, or the
            face box is empty after clipping to the image.
    """
    # 1. Validate and prepare: luminance in linear light, the subject and background masks.
    _check_image(image_rgb)
    height, width = image_rgb.shape[:2]
    stop_bins = _stop_bins(_linear_luminance(image_rgb))
    subject, background = _subject_masks(subject_mask, (height, width))
    face = _clip_box(face_box, width, height) if face_box is not None else None
    # Backlight is measured only with a mask and enough background.
    has_background = subject_mask is not None and background.mean() >= MIN_BACKGROUND_FRACTION
    if blur_box is None:
        blur_box = _default_blur_box(face, subject, subject_mask is not None, (width, height))
    return _measured(
        image_rgb, stop_bins, subject, background if has_background else None, face, blur_box,
        has_mask=subject_mask is not None,
    )  # fmt: skip


def _measured(
    image_rgb: npt.NDArray[np.uint8],
    stop_bins: npt.NDArray[np.int32],
    subject: npt.NDArray[np.bool_],
    background: npt.NDArray[np.bool_] | None,
    face: tuple[int, int, int, int] | None,
    blur_box: tuple[int, int, int, int],
    *,
    has_mask: bool,
) -> LightingMetrics:
    """The LightingMetrics of an image already checked and prepared by `measure_lighting`;
    `background` None when backlight is not measured, `has_mask` whether `subject` is a
    person's mask."""
    # 2. Exposure: a (face-weighted) median of linear luminance, in stops over middle grey.
    weights, face_light = _face_weighted(image_rgb, stop_bins, subject.astype(np.float32), face)
    exposure_stops = _stops_quantile(stop_bins, weights, 0.5)

    # 3. Clipping and contrast over the subject's pixels.
    clipped_pct, crushed_pct = _clipping(image_rgb, subject)
    subject_bins = stop_bins[subject]
    shadow_stops = _stops_quantile(subject_bins, None, 0.05)
    highlight_stops = _stops_quantile(subject_bins, None, 0.99)
    contrast_stops = _stops_quantile(subject_bins, None, 0.95) - shadow_stops

    # 4. Backlight: background against subject.
    background_stops, backlight_stops = (
        (None, None) if background is None else _backlight(stop_bins, subject_bins, background)
    )

    # 5. Colour cast and blur.
    color_cast = _measure_color_cast(image_rgb)
    return LightingMetrics(
        exposure_stops=exposure_stops,
        face_exposure_stops=face_light.exposure_stops,
        face_shadow_stops=face_light.shadow_stops,
        face_highlight_stops=face_light.highlight_stops,
        face_clipped_pct=face_light.clipped_pct,
        highlight_stops=highlight_stops,
        shadow_stops=shadow_stops,
        textured_share=float(
            np.mean((stop_bins >= _TEXTURED_BINS[0]) & (stop_bins <= _TEXTURED_BINS[1]))
        ),
        ink_share=float(np.mean(stop_bins < _TEXTURED_BINS[0])),
        clipped_highlights_pct=clipped_pct,
        crushed_shadows_pct=crushed_pct,
        contrast_stops=contrast_stops,
        backlight_stops=backlight_stops,
        background_exposure_stops=background_stops,
        color_cast=color_cast,
        blur=measure_blur(image_rgb, blur_box),
        subject_fraction=float(subject.mean()),
        has_subject_mask=has_mask,
    )


@dataclass(frozen=True)
class _FaceLight:
    """The face box's own measures (the LightingMetrics fields `face_...`); None without one."""

    exposure_stops: float | None = None
    shadow_stops: float | None = None
    highlight_stops: float | None = None
    clipped_pct: float | None = None


def _face_weighted(
    image_rgb: npt.NDArray[np.uint8],
    stop_bins: npt.NDArray[np.int32],
    weights: FloatArray,
    face: tuple[int, int, int, int] | None,
) -> tuple[FloatArray, _FaceLight]:
    """The exposure's pixel `weights` with the face box carrying half of them, and the face's
    own measures; `weights` as given and no measures without a face box."""
    if face is None:
        return weights, _FaceLight()
    x, y, w, h = face
    face_weights = np.zeros_like(weights)
    face_weights[y : y + h, x : x + w] = 1.0
    rest = weights * (1.0 - face_weights)
    # Face and the rest of the subject each carry half of the median's weight.
    weights = rest / max(float(rest.sum()), 1.0) + face_weights / float(face_weights.sum())
    face_bins = stop_bins[y : y + h, x : x + w]
    face_luma = image_rgb[y : y + h, x : x + w].astype(np.float32) @ _LUMA_WEIGHTS
    return weights, _FaceLight(
        exposure_stops=_stops_quantile(face_bins, None, 0.5),
        shadow_stops=_stops_quantile(face_bins, None, 0.05),
        highlight_stops=_stops_quantile(face_bins, None, 0.99),
        clipped_pct=100.0 * float(np.mean(face_luma >= CLIPPED_LEVEL)),
    )


def _clipping(
    image_rgb: npt.NDArray[np.uint8], subject: npt.NDArray[np.bool_]
) -> tuple[float, float]:
    """Percent of the subject's pixels with blown highlights, and with crushed shadows."""
    brightest_channel = image_rgb.max(axis=2)[subject]
    luma = image_rgb[subject].astype(np.float32) @ _LUMA_WEIGHTS
    clipped_pct = 100.0 * float(np.mean(luma >= CLIPPED_LEVEL))
    crushed_pct = 100.0 * float(np.mean(brightest_channel <= CRUSHED_LEVEL))
    return clipped_pct, crushed_pct


def _backlight(
    stop_bins: npt.NDArray[np.int32],
    subject_bins: npt.NDArray[np.int32],
    background: npt.NDArray[np.bool_],
) -> tuple[float, float]:
    """The background's median exposure, and how far above the subject's it lies (stops)."""
    background_stops = _stops_quantile(stop_bins[background], None, 0.5)
    return background_stops, background_stops - _stops_quantile(subject_bins, None, 0.5)


def _default_blur_box(
    face: tuple[int, int, int, int] | None,
    subject: npt.NDArray[np.bool_],
    has_mask: bool,
    size: tuple[int, int],
) -> tuple[int, int, int, int]:
    """Where blur is judged when no box is given: the face box, else the subject's bounding
    box (with a mask), else the whole image of `size` (width, height)."""
    if face is not None:
        return face
    if has_mask and subject.any():
        return _bounding_box(subject)
    return (0, 0, *size)


def measure_blur(
    image_rgb: npt.NDArray[np.uint8], box: tuple[int, int, int, int] | None = None
) -> BlurMetrics | None:
    """Measure the Crete-Roffet re-blur metric of a region at the fixed 512 px scale.

    Crete-Roffet, Dolmiere, Ladret, Nicolas, "The Blur Effect: Perception and Estimation with a
    New No-Reference Perceptual Blur Metric", SPIE Electronic Imaging 2007: a sharp image loses
    much of its neighbouring-pixel variation when blurred again, an already blurred one little.

    Args:
        image_rgb: HxWx3 uint8 RGB image.
        box: region (x, y, w, h) in pixels; the whole image when None. Clipped to the image.

    Returns:
        The BlurMetrics of the region, or None when the region is flat (mean absolute step
        between neighbours under 0.1 grey level), where blur is undefined.

    Raises:
        ValueError: when the image is not HxWx3 uint8 or the box is empty after clipping.
    """
    _check_image(image_rgb)
    height, width = image_rgb.shape[:2]
    x, y, w, h = _clip_box(box, width, height) if box is not None else (0, 0, width, height)
    region = cv2.cvtColor(np.ascontiguousarray(image_rgb[y : y + h, x : x + w]), cv2.COLOR_RGB2GRAY)
    scale = BLUR_REGION_SIDE_PX / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # INTER_AREA averages when shrinking (no aliasing); bicubic when enlarging a small face,
    # which then reads as blurrier: the model too gets that little detail.
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    grey = cv2.resize(region, size, interpolation=interpolation).astype(np.float32)
    value = _reblur_metric(grey)
    if value is None:
        return None
    sigma = float(np.interp(value, _BLUR_VALUE_TABLE, _BLUR_SIGMA_TABLE_PX))
    return BlurMetrics(blur=value, blur_sigma_px_equiv=sigma, region_box=(x, y, w, h))


def _reblur_metric(grey: FloatArray) -> float | None:
    """Crete-Roffet blur of a grey float image, 0 sharp .. 1 blurred; None when flat."""
    if min(grey.shape) < 2:
        return None
    kernel = np.full((1, BLUR_FILTER_TAPS), 1.0 / BLUR_FILTER_TAPS, np.float32)
    values: list[float | None] = []
    for axis, k in ((1, kernel), (0, kernel.T)):
        reblurred = np.asarray(cv2.filter2D(grey, -1, k, borderType=cv2.BORDER_REFLECT))
        step = np.abs(np.diff(grey, axis=axis))
        step_reblurred = np.abs(np.diff(reblurred, axis=axis))
        total = float(step.sum())
        if total / step.size < 0.1:
            values.append(None)
            continue
        lost = float(np.maximum(step - step_reblurred, 0.0).sum())
        values.append((total - lost) / total)
    defined = [v for v in values if v is not None]
    return max(defined) if defined else None


def _calibrate_blur_table(seed: int = 0) -> list[float]:
    """Re-blur values of a dead-leaves reference for each sigma of `_BLUR_SIGMA_TABLE_PX`."""
    rng = np.random.default_rng(seed)
    side = BLUR_REGION_SIDE_PX
    image = np.full((side, side), 128, np.uint8)
    count, r_min, r_max = 6000, 2.0, 120.0
    # Inverse CDF of the 1/r^3 radius density on [r_min, r_max].
    u = rng.random(count)
    radii = 1.0 / np.sqrt(1.0 / r_min**2 - u * (1.0 / r_min**2 - 1.0 / r_max**2))
    for radius in radii:
        centre = (int(rng.integers(0, side)), int(rng.integers(0, side)))
        grey_level = (int(rng.integers(0, 256)),)
        cv2.circle(image, centre, round(float(radius)), grey_level, -1, cv2.LINE_8)
    reference = image.astype(np.float32)
    values = []
    for sigma in _BLUR_SIGMA_TABLE_PX:
        blurred = reference
        if sigma > 0:
            blurred = np.asarray(cv2.GaussianBlur(reference, (0, 0), sigma), dtype=np.float32)
        value = _reblur_metric(blurred)
        values.append(float("nan") if value is None else value)
    return values


def _measure_color_cast(image_rgb: npt.NDArray[np.uint8]) -> ColorCast:
    """Trimmed-mean a*, b* over mid-tone pixels (see ColorCast)."""
    # Shrink first: the cast is a global statistic and Lab of a 12 Mpx image is slow.
    height, width = image_rgb.shape[:2]
    scale = min(1.0, 256.0 / max(height, width))
    small = image_rgb.astype(np.float32) / 255.0
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = np.asarray(cv2.resize(small, size, interpolation=cv2.INTER_AREA), np.float32)
    lab = _cielab(small.reshape(-1, 3))
    low, high = MID_TONE_L_RANGE
    mid = lab[(lab[:, 0] >= low) & (lab[:, 0] <= high)]
    if len(mid) < 16:
        mid = lab
    a_star = _trimmed_mean(mid[:, 1])
    b_star = _trimmed_mean(mid[:, 2])
    chroma = math.hypot(a_star, b_star)
    hue_deg = math.degrees(math.atan2(b_star, a_star)) % 360.0
    return ColorCast(
        a_star=a_star,
        b_star=b_star,
        chroma_lab=chroma,
        hue_deg=hue_deg,
        hue_name=_hue_name(hue_deg, chroma),
    )


# sRGB (D65) to CIE XYZ, and the D65 white point: IEC 61966-2-1 and CIE 15.
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=np.float32,
)
_WHITE_XYZ = np.array([0.950456, 1.0, 1.088754], dtype=np.float32)


def _cielab(rgb: FloatArray) -> FloatArray:
    """CIELAB (L 0..100, a* and b* in Lab units) of N x 3 sRGB values in 0..1.

    Written out rather than taken from OpenCV: its float conversion builds its gamma tables on
    the first call, a fifth of a second in every process, for a few thousand pixels here."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = (linear @ _RGB_TO_XYZ.T) / _WHITE_XYZ
    # CIE's cube root with its linear toe below (6/29)^3.
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lightness = np.where(xyz[:, 1] > 0.008856, 116.0 * f[:, 1] - 16.0, 903.3 * xyz[:, 1])
    a_star = 500.0 * (f[:, 0] - f[:, 1])
    b_star = 200.0 * (f[:, 1] - f[:, 2])
    lab: FloatArray = np.stack([lightness, a_star, b_star], axis=1).astype(np.float32)
    return lab


def _hue_name(hue_deg: float, chroma: float) -> str:
    """Name the sector of a Lab hue angle (see ColorCast.hue_name)."""
    if chroma < NEUTRAL_CHROMA_LAB:
        return "neutral"
    if hue_deg >= 345.0 or hue_deg < 30.0:
        return "red"
    if hue_deg < 100.0:
        return "warm"
    if hue_deg < 200.0:
        return "green"
    if hue_deg < 290.0:
        return "cool"
    return "magenta"


def _trimmed_mean(values: FloatArray, trim: float = 0.1) -> float:
    """Mean of the values between the trim and 1 - trim quantiles."""
    low, high = np.quantile(values, [trim, 1.0 - trim])
    kept = values[(values >= low) & (values <= high)]
    return float(kept.mean()) if len(kept) else float(np.median(values))


def _linear_luminance(image_rgb: npt.NDArray[np.uint8]) -> FloatArray:
    """Relative luminance Y (0..1, linear light) with the sRGB curve undone, Rec. 709 weights."""
    codes = np.arange(256, dtype=np.float64) / 255.0
    linear = np.where(codes <= 0.04045, codes / 12.92, ((codes + 0.055) / 1.055) ** 2.4)
    lut = linear.astype(np.float32)
    rgb = lut[image_rgb]
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    return np.asarray(rgb @ weights, dtype=np.float32)


def _stop_bins(luminance: FloatArray) -> npt.NDArray[np.int32]:
    """Quantise linear luminance to bins of 1/256 stop above the floor (for fast quantiles)."""
    stops = np.log2(np.maximum(luminance, LUMINANCE_FLOOR_LINEAR) / LUMINANCE_FLOOR_LINEAR)
    return np.asarray(np.rint(stops * _BINS_PER_STOP), dtype=np.int32)


def _stops_quantile(
    stop_bins: npt.NDArray[np.int32], weights: FloatArray | None, quantile: float
) -> float:
    """The (weighted) quantile of binned luminance, in stops relative to middle grey.

    A histogram over 1/256-stop bins: O(n) where a sort would cost O(n log n), and exact to
    1/256 stop, far below anything a threshold could care about.
    """
    flat = stop_bins.ravel()
    histogram = np.bincount(flat, weights=None if weights is None else weights.ravel())
    cumulative = np.cumsum(histogram, dtype=np.float64)
    if len(cumulative) == 0 or cumulative[-1] <= 0:
        return math.log2(LUMINANCE_FLOOR_LINEAR / MIDDLE_GREY_LINEAR)
    index = int(np.searchsorted(cumulative, quantile * cumulative[-1]))
    stops_above_floor = min(index, len(histogram) - 1) / _BINS_PER_STOP
    return stops_above_floor + math.log2(LUMINANCE_FLOOR_LINEAR / MIDDLE_GREY_LINEAR)


def _subject_masks(
    subject_mask: npt.NDArray[np.floating[Any]] | npt.NDArray[np.bool_] | None,
    shape: tuple[int, int],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Boolean subject and background masks; the whole image is the subject without a mask."""
    if subject_mask is None:
        return np.ones(shape, bool), np.zeros(shape, bool)
    if subject_mask.shape != shape:
        raise ValueError(f"subject_mask has shape {subject_mask.shape}, the image is {shape}")
    weights = subject_mask.astype(np.float32)
    subject = weights > 0.5
    if not subject.any():
        # An empty mask (no person segmented): measure the whole image as the subject.
        subject = np.ones(shape, bool)
    return subject, weights < 0.5


def _bounding_box(mask: npt.NDArray[np.bool_]) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h) of the True pixels of a non-empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    x0, x1 = int(cols[0]), int(cols[-1])
    y0, y1 = int(rows[0]), int(rows[-1])
    return x0, y0, x1 - x0 + 1, y1 - y0 + 1


def _clip_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """Clip a box (x, y, w, h) to the image; raise ValueError when nothing is left."""
    x, y, w, h = (int(v) for v in box)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError(f"box {box} is empty inside the {width}x{height} image")
    return x0, y0, x1 - x0, y1 - y0


def _check_image(image_rgb: npt.NDArray[np.uint8]) -> None:
    """Raise ValueError unless the image is HxWx3 uint8."""
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(
            f"image_rgb must be HxWx3 uint8, got shape {image_rgb.shape} {image_rgb.dtype}"
        )
