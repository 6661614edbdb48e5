"""Lighting measurements on generated images with known answers, and on the shared photographs."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from kling_prep.checks.image import check_image, lighting_findings
from kling_prep.checks.thresholds import Thresholds
from kling_prep.settings import Settings
from kling_prep.vision.lighting import (
    _BLUR_VALUE_TABLE,
    _calibrate_blur_table,
    measure_blur,
    measure_lighting,
)

SHARED_MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
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


# The judgement of lighting (kling_prep.checks.image) on generated faces of known tones.


def face_picture(
    skin_linear: float, features_linear: float, sheen_linear: float, background_linear: float
) -> tuple[Image, npt.NDArray[np.bool_], tuple[int, int, int, int]]:
    """A grey picture with a square 'face' of skin, dark features (pupils, brows, nostrils: 8%
    of the face) and sheen (3%), on a background; returns the image, person mask and face box."""
    size, box = 240, (80, 60, 80, 100)
    linear = np.full((size, size), background_linear)
    x, y, w, h = box
    face = np.full((h, w), skin_linear)
    face[10:18, :] = features_linear  # brows: 8% of the face's rows
    face[40:43, 20:60] = sheen_linear  # sheen on the nose, 40 x 3 px: 1.5%
    face[60:63, 20:60] = sheen_linear
    linear[y : y + h, x : x + w] = face
    mask = np.zeros((size, size), bool)
    mask[y - 20 : y + h + 60, x - 20 : x + w + 20] = True
    linear[mask & (linear == background_linear)] = skin_linear / 2  # clothes
    return rgb(to_srgb(linear)), mask, box


def _lighting_codes(
    image: Image, mask: npt.NDArray[np.bool_], box: tuple[int, int, int, int]
) -> dict[str, str]:
    """The exposure findings (code: severity) of the picture."""
    metrics = measure_lighting(image, subject_mask=mask, face_box=box)
    return {
        f.code: f.severity
        for f in lighting_findings("x", metrics, Thresholds())
        if f.code in ("image.underexposed", "image.overexposed", "image.backlit")
    }


def test_face_tones_are_measured_in_stops_over_middle_grey() -> None:
    image, mask, box = face_picture(0.36, 0.02, 0.9, 0.18)
    metrics = measure_lighting(image, subject_mask=mask, face_box=box)
    assert metrics.face_exposure_stops == pytest.approx(1.0, abs=0.05)  # 36% skin: +1 stop
    assert metrics.face_shadow_stops == pytest.approx(math.log2(0.02 / 0.18), abs=0.05)
    assert metrics.face_highlight_stops == pytest.approx(math.log2(0.9 / 0.18), abs=0.05)
    assert metrics.face_clipped_pct == 0.0


def test_a_pale_face_two_stops_over_grey_is_not_overexposed() -> None:
    # Skin at 72% (+2 stops, a pale or drawn face) whose features stay dark: well exposed.
    assert _lighting_codes(*face_picture(0.72, 0.03, 0.95, 0.18)) == {}


def test_a_washed_out_face_is_overexposed() -> None:
    # The same face with every tone lifted: even its darkest features over middle grey.
    codes = _lighting_codes(*face_picture(0.72, 0.3, 0.95, 0.18))
    assert codes == {"image.overexposed": "warn"}


def test_a_dark_face_with_lit_highlights_is_not_underexposed() -> None:
    # Dark skin at 5% (-1.8 stops) whose sheen reaches 40%: lit right, not underexposed.
    assert _lighting_codes(*face_picture(0.05, 0.005, 0.4, 0.05)) == {}


def test_a_face_whose_highlights_stay_under_grey_is_underexposed() -> None:
    assert _lighting_codes(*face_picture(0.04, 0.004, 0.12, 0.04)) == {"image.underexposed": "warn"}
    assert _lighting_codes(*face_picture(0.01, 0.001, 0.03, 0.01)) == {
        "image.underexposed": "block"
    }


def test_a_bright_background_beside_a_lit_face_is_not_backlit() -> None:
    # A bright street (+2.3 stops) beside a face at middle grey with lit highlights.
    assert "image.backlit" not in _lighting_codes(*face_picture(0.18, 0.02, 0.6, 0.9))


def test_a_dark_face_against_a_bright_background_is_backlit_not_underexposed() -> None:
    codes = _lighting_codes(*face_picture(0.04, 0.004, 0.12, 0.3))
    assert codes == {"image.backlit": "warn"}
    codes = _lighting_codes(*face_picture(0.02, 0.002, 0.06, 0.9))
    assert codes == {"image.backlit": "block"}


def faceless_figure(
    cloth_linear: float, lit_linear: float, background_linear: float
) -> tuple[Image, npt.NDArray[np.bool_]]:
    """A figure seen without a face (from behind, hooded): dark cloth over most of its mask,
    its lit side (a strip of skin or sheen, 2% of the figure) at `lit_linear`."""
    size = 200
    linear = np.full((size, size), background_linear)
    mask = np.zeros((size, size), bool)
    mask[30:190, 60:140] = True  # 160 x 80 px
    linear[mask] = cloth_linear
    linear[40:56, 120:136] = lit_linear  # 256 px: 2% of the figure
    return rgb(to_srgb(linear)), mask


def _faceless_codes(image: Image, mask: npt.NDArray[np.bool_]) -> dict[str, str]:
    metrics = measure_lighting(image, subject_mask=mask)
    return {
        f.code: f.severity
        for f in lighting_findings("x", metrics, Thresholds())
        if f.code in ("image.underexposed", "image.overexposed", "image.backlit")
    }


def test_a_figure_in_black_whose_lit_side_reaches_grey_is_not_dark() -> None:
    # Black cloth at 3% (-2.6 stops: the median) in a dim room, its lit side at 40%: lit right.
    assert _faceless_codes(*faceless_figure(0.03, 0.4, 0.04)) == {}


def test_a_faceless_figure_whose_lit_side_stays_under_grey_is_dark() -> None:
    assert _faceless_codes(*faceless_figure(0.01, 0.08, 0.02)) == {"image.underexposed": "warn"}
    assert _faceless_codes(*faceless_figure(0.002, 0.02, 0.004)) == {"image.underexposed": "block"}


def test_a_faceless_figure_against_the_light_is_backlit_though_its_rim_is_lit() -> None:
    # A figure seen from behind against a bright sky, a rim of light on its edge. The median
    # names the shade; the rim does not undo it. At -2.2 stops it is backlit; at -3.2 stops
    # it has lost its detail too, and is also underexposed (a block), as before this rule.
    image, mask = faceless_figure(0.04, 0.5, 0.5)
    found = {
        f.code: f
        for f in lighting_findings("x", measure_lighting(image, subject_mask=mask), Thresholds())
    }
    assert set(found) & {"image.backlit", "image.underexposed"} == {"image.backlit"}
    assert "median" in found["image.backlit"].message
    image, mask = faceless_figure(0.02, 0.5, 0.5)
    codes = _faceless_codes(image, mask)
    assert codes["image.underexposed"] == "block"
    assert "image.backlit" in codes


def test_with_nobody_found_the_picture_is_judged_and_named_as_such() -> None:
    metrics = measure_lighting(grey_image(0.18 / 16))
    (dark,) = [
        f for f in lighting_findings("x", metrics, Thresholds()) if f.code == "image.underexposed"
    ]
    assert "the picture" in dark.message


def test_a_block_for_a_dark_backlit_face_names_its_own_measure() -> None:
    # The background two stops over the face (a backlit warning) and the face's highlights
    # two and a half stops under grey (dark enough to block on their own).
    image, mask, box = face_picture(0.01, 0.001, 0.03, 0.04)
    metrics = measure_lighting(image, subject_mask=mask, face_box=box)
    found = {f.code: f for f in lighting_findings("dim", metrics, Thresholds())}
    assert found["image.backlit"].severity == "warn"
    assert found["image.backlit"].threshold == Thresholds().backlit_warn_stops
    assert found["image.underexposed"].severity == "block"
    assert found["image.underexposed"].threshold == Thresholds().face_dark_highlight_block_stops


def test_paper_white_behind_ink_lines_is_not_overexposed() -> None:
    # A figure in black ink on white paper: two tones, no textured mid-tones.
    paper = np.full((300, 200, 3), 252, np.uint8)
    cv2.circle(paper, (100, 50), 25, (20, 20, 20), 3)
    for a, b in (((100, 75), (100, 200)), ((100, 100), (50, 160)), ((100, 200), (70, 290))):
        cv2.line(paper, a, b, (20, 20, 20), 3)
    metrics = measure_lighting(paper)
    assert metrics.textured_share < 0.05
    assert metrics.clipped_highlights_pct > 90.0
    codes = {f.code for f in lighting_findings("ink", metrics, Thresholds())}
    assert "image.overexposed" not in codes
    # A photograph blown as white keeps textured tones, and is overexposed.
    blown = np.clip(rgb(to_srgb(textured_linear() * 6.0)), 0, 255).astype(np.uint8)
    blown_metrics = measure_lighting(blown)
    assert blown_metrics.textured_share > 0.1
    blown_codes = {f.code for f in lighting_findings("photo", blown_metrics, Thresholds())}
    assert "image.overexposed" in blown_codes


@pytest.mark.parametrize("gain", [5.0, 8.0, 20.0])
def test_a_photograph_blown_past_its_textured_tones_is_not_taken_for_line_art(gain) -> None:
    # Blown so far that under a tenth of it stays in the textured tones, like paper, but with
    # no ink left: still overexposed, and blocked.
    blown = np.clip(rgb(to_srgb(textured_linear() * gain)), 0, 255).astype(np.uint8)
    metrics = measure_lighting(blown)
    codes = {(f.code, f.severity) for f in lighting_findings("photo", metrics, Thresholds())}
    assert ("image.overexposed", "block") in codes


REALSET = Path(__file__).resolve().parents[3] / "shared" / "realset" / "images"


@pytest.mark.shared_media
@pytest.mark.skipif(not REALSET.is_dir(), reason=f"the real set {REALSET} is absent")
@pytest.mark.parametrize(
    ("name", "lighting"),
    [
        ("render-cartoon-policewoman-head.png", set()),  # dark skin, well lit
        ("photo-figure-skater-spiral.jpg", set()),  # a pale face on white ice
        ("photo-man-camel-coat-looking-sideways.png", set()),  # a bright street beside him
        ("photo-basketball-player-fullbody.png", set()),  # dark skin on a light backdrop
        ("photo-elderly-woman-glasses-overexposed.JPG", {"image.overexposed"}),  # washed out
        ("ai-blonde-woman-sunset-backlit.png", {"image.underexposed", "image.backlit"}),
        ("ai-hooded-faceless-figure-gold-suit.png", set()),  # no face; black and gold, lit
        # no face; against the sun: backlit, and dark enough by its median to be underexposed
        ("photo-woman-cap-back-view-backlit.jpg", {"image.backlit", "image.underexposed"}),
    ],
)
def test_real_faces_are_judged_against_their_own_tones(kit, name: str, lighting: set[str]) -> None:
    report = check_image(REALSET / name, settings=Settings(), kit=kit)
    said = {f.code for f in report.findings} & {
        "image.underexposed", "image.overexposed", "image.backlit"
    }  # fmt: skip
    if lighting:
        assert said & lighting, report.findings
        assert said <= lighting, report.findings
    else:
        assert not said, report.findings
