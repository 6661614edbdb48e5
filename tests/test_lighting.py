"""Lighting measurements on generated images with known answers, and on the shared photographs."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from kling_prep.vision.lighting import (
    _BLUR_VALUE_TABLE,
    _calibrate_blur_table,
    measure_blur,
    measure_lighting,
)

SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
needs_shared_media = pytest.mark.skipif(
    not SHARED_MEDIA.is_dir(), reason=f"shared media folder {SHARED_MEDIA} is absent"
)

Image = npt.NDArray[np.uint8]


def to_srgb(linear: npt.NDArray[np.float64]) -> Image:
    """Encode linear light 0..1 as 8-bit sRGB."""
    linear = np.clip(linear, 0.0, 1.0)
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.asarray(np.rint(encoded * 255.0), dtype=np.uint8)


def grey_image(linear_level: float, size: tuple[int, int] = (120, 160)) -> Image:
    """A flat grey RGB image at a linear-light level."""
    return np.repeat(to_srgb(np.full((*size, 1), linear_level)), 3, axis=2)


def textured_linear(size: int = 256, seed: int = 0) -> npt.NDArray[np.float64]:
    """A mid-grey texture in linear light: random rectangles, edges of all sizes."""
    rng = np.random.default_rng(seed)
    canvas = np.full((size, size), 0.18)
    for _ in range(400):
        x, y = rng.integers(0, size, 2)
        w, h = rng.integers(2, size // 4, 2)
        canvas[y : y + h, x : x + w] = rng.uniform(0.05, 0.6)
    return canvas


def rgb(grey: Image) -> Image:
    return np.repeat(grey[:, :, None], 3, axis=2)


def test_middle_grey_is_zero_stops() -> None:
    metrics = measure_lighting(grey_image(0.18))
    assert metrics.exposure_stops == pytest.approx(0.0, abs=0.1)
    assert metrics.contrast_stops == pytest.approx(0.0, abs=0.05)
    assert metrics.clipped_highlights_pct == 0.0
    assert metrics.crushed_shadows_pct == 0.0
    assert metrics.backlight_stops is None
    assert metrics.color_cast.hue_name == "neutral"
    assert metrics.blur is None  # a flat image has no edge to judge


def test_a_quarter_of_the_light_is_two_stops_under() -> None:
    assert measure_lighting(grey_image(0.18 / 4)).exposure_stops == pytest.approx(-2.0, abs=0.1)
    texture = textured_linear()
    normal = measure_lighting(rgb(to_srgb(texture)))
    dark = measure_lighting(rgb(to_srgb(texture / 4)))
    assert dark.exposure_stops - normal.exposure_stops == pytest.approx(-2.0, abs=0.1)
    # Scaling the light keeps the ratio p95/p5, hence the contrast in stops.
    assert dark.contrast_stops == pytest.approx(normal.contrast_stops, abs=0.1)


def test_contrast_is_the_ratio_of_bright_to_dark_in_stops() -> None:
    linear = np.full((100, 100), 0.04)
    linear[:, 50:] = 0.64
    metrics = measure_lighting(rgb(to_srgb(linear)))
    assert metrics.contrast_stops == pytest.approx(4.0, abs=0.1)


def test_backlit_subject_reads_the_planted_difference() -> None:
    linear = np.full((200, 300), 0.72)  # background two stops over middle grey
    mask = np.zeros((200, 300), np.float32)
    mask[40:200, 100:200] = 1.0
    linear[mask > 0.5] = 0.09  # subject one stop under
    metrics = measure_lighting(rgb(to_srgb(linear)), subject_mask=mask)
    assert metrics.backlight_stops == pytest.approx(3.0, abs=0.1)
    assert metrics.exposure_stops == pytest.approx(-1.0, abs=0.1)
    assert metrics.subject_fraction == pytest.approx(160 * 100 / (200 * 300))


def test_backlight_needs_a_mask_and_some_background() -> None:
    image = grey_image(0.18)
    assert measure_lighting(image).backlight_stops is None
    almost_all = np.ones(image.shape[:2], bool)
    almost_all[:2, :] = False  # under 5 % background
    assert measure_lighting(image, subject_mask=almost_all).backlight_stops is None


def test_clipped_and_crushed_pixels_are_counted_in_percent_of_the_subject() -> None:
    image = grey_image(0.18, (100, 100))
    image[:3, :] = 255  # 3 % blown
    image[3:4, :, 0] = (
        252  # 1 % with only the red channel at the top: colour, not a blown highlight
    )
    image[-2:, :] = 0  # 2 % crushed
    image[-3:-2, :] = (4, 5, 30)  # not crushed: the blue channel has detail
    metrics = measure_lighting(image)
    assert metrics.clipped_highlights_pct == pytest.approx(3.0)
    assert metrics.crushed_shadows_pct == pytest.approx(2.0)
    mask = np.zeros((100, 100), bool)
    mask[:50, :] = True  # the subject holds all the clipped pixels in half the area
    assert measure_lighting(image, subject_mask=mask).clipped_highlights_pct == pytest.approx(6.0)


def test_face_box_is_measured_alone_and_weighted_into_exposure() -> None:
    linear = np.full((200, 200), 0.18)
    linear[20:60, 80:120] = 0.045  # a face two stops darker than the body
    image = rgb(to_srgb(linear))
    metrics = measure_lighting(image, face_box=(80, 20, 40, 40))
    assert metrics.face_exposure_stops == pytest.approx(-2.0, abs=0.1)
    # The face carries half the weight: the median sits on the edge between the two levels.
    assert -2.1 <= metrics.exposure_stops <= 0.1
    assert measure_lighting(image).exposure_stops == pytest.approx(0.0, abs=0.1)


def test_blur_is_measured_on_the_face_box_else_the_subject_box() -> None:
    image = rgb(to_srgb(textured_linear(200)))
    with_face = measure_lighting(image, face_box=(80, 20, 40, 40)).blur
    assert with_face is not None
    assert with_face.region_box == (80, 20, 40, 40)
    mask = np.zeros((200, 200), bool)
    mask[50:180, 60:140] = True
    with_mask = measure_lighting(image, subject_mask=mask).blur
    assert with_mask is not None
    assert with_mask.region_box == (60, 50, 80, 130)
    # An explicit region wins over both (the check reads blur on the whole person).
    chosen = measure_lighting(
        image, subject_mask=mask, face_box=(80, 20, 40, 40), blur_box=(10, 10, 100, 90)
    ).blur
    assert chosen is not None
    assert chosen.region_box == (10, 10, 100, 90)


def test_blur_grows_with_gaussian_blur() -> None:
    sharp = to_srgb(textured_linear(384))
    values = []
    for sigma in (0, 1, 2, 4):
        blurred = (
            sharp if sigma == 0 else np.asarray(cv2.GaussianBlur(sharp, (0, 0), sigma), np.uint8)
        )
        blur = measure_blur(rgb(blurred))
        assert blur is not None
        values.append(blur.blur)
    assert values == sorted(values)
    assert values[0] < 0.35
    assert values[-1] > 0.75


def test_blur_sigma_equivalent_recovers_the_sigma_on_a_dead_leaves_image() -> None:
    # The calibration's own reference at another seed, blurred at the 512 px scale.
    for sigma in (1.0, 2.0, 4.0):
        reference = _dead_leaves(seed=7)
        blurred = cv2.GaussianBlur(reference.astype(np.float32), (0, 0), sigma)
        blur = measure_blur(rgb(np.rint(blurred).astype(np.uint8)))
        assert blur is not None
        assert blur.blur_sigma_px_equiv == pytest.approx(sigma, rel=0.15)


def test_blur_does_not_depend_on_the_resolution() -> None:
    big = np.asarray(
        cv2.GaussianBlur(to_srgb(textured_linear(1024, seed=3)), (0, 0), 3.0), np.uint8
    )
    small = np.asarray(cv2.resize(big, (512, 512), interpolation=cv2.INTER_AREA), np.uint8)
    big_blur, small_blur = measure_blur(rgb(big)), measure_blur(rgb(small))
    assert big_blur is not None
    assert small_blur is not None
    assert big_blur.blur == pytest.approx(small_blur.blur, abs=0.03)


@pytest.mark.slow
def test_blur_calibration_table_is_reproducible() -> None:
    assert _calibrate_blur_table(seed=0) == pytest.approx(list(_BLUR_VALUE_TABLE), abs=1e-3)


def test_warm_tint_reads_positive_b_and_warm() -> None:
    texture = textured_linear(128)
    tinted = np.stack([texture * 1.0, texture * 0.85, texture * 0.6], axis=2)
    cast = measure_lighting(to_srgb(tinted)).color_cast
    assert cast.b_star > 5.0
    assert cast.hue_name == "warm"
    cool = np.stack([texture * 0.7, texture * 0.85, texture * 1.0], axis=2)
    cool_cast = measure_lighting(to_srgb(cool)).color_cast
    assert cool_cast.b_star < -5.0
    assert cool_cast.hue_name == "cool"
    green = np.stack([texture * 0.8, texture * 1.0, texture * 0.8], axis=2)
    assert measure_lighting(to_srgb(green)).color_cast.hue_name == "green"


def test_neutral_greys_have_no_cast() -> None:
    cast = measure_lighting(rgb(to_srgb(textured_linear(128)))).color_cast
    assert cast.chroma_lab < 0.5
    assert cast.hue_name == "neutral"


def test_invalid_inputs_raise_value_error() -> None:
    image = grey_image(0.18)
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        measure_lighting(image.astype(np.float32))
    with pytest.raises(ValueError, match="subject_mask"):
        measure_lighting(image, subject_mask=np.ones((5, 5), bool))
    with pytest.raises(ValueError, match="empty"):
        measure_lighting(image, face_box=(1000, 1000, 10, 10))


@pytest.mark.shared_media
@needs_shared_media
@pytest.mark.parametrize("name", ["elf-character.jpeg", "robed-man.jpeg", "dancer-photo.jpg"])
def test_shared_photographs_give_finite_plausible_values(name: str) -> None:
    bgr = cv2.imread(str(SHARED_MEDIA / name))
    assert bgr is not None
    metrics = measure_lighting(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8))
    values = [
        metrics.exposure_stops,
        metrics.contrast_stops,
        metrics.clipped_highlights_pct,
        metrics.crushed_shadows_pct,
        metrics.color_cast.chroma_lab,
    ]
    assert all(math.isfinite(v) for v in values)
    assert -7.0 < metrics.exposure_stops < 2.0
    assert 0.0 < metrics.contrast_stops < 10.0
    assert metrics.clipped_highlights_pct < 5.0
    assert metrics.blur is not None
    assert 0.0 < metrics.blur.blur < 0.7  # none of these photographs is blurred
    if name == "robed-man.jpeg":
        assert metrics.color_cast.hue_name == "warm"  # warm daylight
    if name == "elf-character.jpeg":
        assert metrics.exposure_stops < -2.0  # a dark picture
        assert metrics.clipped_highlights_pct < 0.5  # but nothing blown


def _dead_leaves(seed: int, side: int = 512) -> Image:
    rng = np.random.default_rng(seed)
    image = np.full((side, side), 128, np.uint8)
    u = rng.random(6000)
    radii = 1.0 / np.sqrt(1.0 / 4.0 - u * (1.0 / 4.0 - 1.0 / 120.0**2))
    for radius in radii:
        centre = (int(rng.integers(0, side)), int(rng.integers(0, side)))
        cv2.circle(image, centre, round(float(radius)), (int(rng.integers(0, 256)),), -1)
    return image
