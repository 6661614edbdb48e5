"""Fixing the character image (kling_prep.media.imagefix) on generated images whose answers
are known: orientation, formats, bit depth, alpha, sides, bytes, aspect, exposure."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kling_prep.limits import get_profile
from kling_prep.media.imagefix import NEUTRAL_RGB, fix_image, is_heif_supported
from kling_prep.media.probe import probe_image

PROFILE = get_profile()


@pytest.fixture
def photo(astronaut) -> Image.Image:
    return Image.fromarray(astronaut)  # 512x512


def _fix(src, tmp_path, **kwargs):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return fix_image(src, out / "character", profile=PROFILE, **kwargs)


def _load(path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image


def _actions(result) -> list[str]:
    return [s.action for s in result.steps]


def test_exif_orientation_is_applied_to_the_pixels(photo, tmp_path):
    wide = photo.crop((0, 0, 512, 400))  # 512x400, stored sideways with orientation 6
    src = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    wide.transpose(Image.Transpose.ROTATE_90).save(src, exif=exif.tobytes(), quality=95)
    result = _fix(src, tmp_path)
    assert "exif_orientation" in _actions(result)
    probe = probe_image(result.path)
    assert (probe.width, probe.height, probe.exif_orientation) == (512, 400, 1)
    upright = np.asarray(_load(result.path), dtype=int)
    assert np.abs(upright - np.asarray(wide, dtype=int)).mean() < 6


def test_a_compliant_jpeg_is_copied_byte_for_byte(photo, tmp_path):
    src = tmp_path / "fine.jpg"
    photo.save(src, quality=90)
    result = _fix(src, tmp_path)
    assert _actions(result) == ["copy"]
    assert result.path.read_bytes() == src.read_bytes()


def test_alpha_is_flattened_on_neutral_grey_and_png_stays_png(photo, tmp_path):
    rgba = photo.convert("RGBA")
    alpha = np.full((512, 512), 255, np.uint8)
    alpha[:, :100] = 0
    rgba.putalpha(Image.fromarray(alpha))
    src = tmp_path / "cutout.png"
    rgba.save(src)
    result = _fix(src, tmp_path)
    assert "flatten_alpha" in _actions(result)
    assert result.format == "png"
    out = _load(result.path)
    assert out.mode == "RGB"
    assert out.getpixel((10, 10)) == NEUTRAL_RGB


@pytest.mark.parametrize("fmt", ["WEBP", "AVIF", "TIFF"])
def test_other_formats_become_jpeg(photo, tmp_path, fmt):
    src = tmp_path / f"photo.{fmt.lower()}"
    photo.save(src, fmt)
    result = _fix(src, tmp_path)
    assert result.format == "jpeg"
    assert probe_image(result.path).format == "jpeg"
    assert "format" in _actions(result)


def test_cmyk_becomes_rgb(photo, tmp_path):
    src = tmp_path / "print.jpg"
    photo.convert("CMYK").save(src, quality=95)
    result = _fix(src, tmp_path)
    assert "cmyk_to_rgb" in _actions(result)
    out = _load(result.path)
    assert out.mode == "RGB"
    assert np.abs(np.asarray(out, dtype=int) - np.asarray(photo, dtype=int)).mean() < 12


def test_16_bit_greyscale_is_scaled_to_8_bits(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 400).astype(np.uint16), (400, 1))
    src = tmp_path / "deep.png"
    Image.fromarray(ramp).save(src)
    assert _load(src).mode.startswith("I")
    result = _fix(src, tmp_path)
    assert "bit_depth" in _actions(result)
    out = np.asarray(_load(result.path).convert("L"), dtype=int)
    assert out[:, 0].mean() < 3
    assert out[:, -1].mean() > 252


@pytest.mark.skipif(not is_heif_supported(), reason="pillow-heif is not installed")
def test_heic_from_a_phone_becomes_jpeg(photo, tmp_path):
    import pillow_heif

    pillow_heif.register_heif_opener()
    src = tmp_path / "IMG_0001.HEIC"
    photo.save(src, "HEIF", quality=90)
    result = _fix(src, tmp_path)
    assert result.format == "jpeg"
    assert (result.width, result.height) == (512, 512)


def test_heic_without_the_plug_in_is_refused_clearly(photo, tmp_path, monkeypatch):
    import builtins

    src = tmp_path / "IMG_0002.HEIC"
    src.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    real_import = builtins.__import__

    def no_heif(name, *args, **kwargs):
        if name == "pillow_heif":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_heif)
    from kling_prep.errors import UnsupportedMediaError

    with pytest.raises(UnsupportedMediaError, match=r"HEIC.*pillow-heif"):
        _fix(src, tmp_path)


def test_a_small_image_is_upscaled_to_the_minimum_side(photo, tmp_path):
    src = tmp_path / "tiny.jpg"
    photo.resize((200, 300)).save(src)
    result = _fix(src, tmp_path)
    assert "upscale" in _actions(result)
    assert min(result.width, result.height) == PROFILE.image_min_side_px


def test_a_panorama_is_padded_not_cropped(photo, tmp_path):
    wide = Image.new("RGB", (1500, 400), (10, 200, 10))
    wide.paste(photo.resize((400, 400)), (550, 0))
    src = tmp_path / "wide.png"
    wide.save(src)
    result = _fix(src, tmp_path)
    assert "pad" in _actions(result)
    assert result.width == 1500
    assert abs(result.width / result.height - PROFILE.image_max_aspect) < 0.01
    out = np.asarray(_load(result.path), dtype=int)
    top = (result.height - 400) // 2
    # All the original pixels are there, between grey bands.
    assert np.abs(out[top : top + 400] - np.asarray(wide, dtype=int)).max() == 0
    assert tuple(out[0, 0]) == NEUTRAL_RGB


def test_a_crop_around_the_person_when_asked(photo, tmp_path):
    wide = Image.new("RGB", (1500, 400), (10, 200, 10))
    wide.paste(photo.resize((400, 400)), (550, 0))
    src = tmp_path / "wide.jpg"
    wide.save(src, quality=95)
    result = _fix(src, tmp_path, crop_to_person=True, person_box=(600, 20, 300, 380))
    assert "crop" in _actions(result)
    assert "pad" not in _actions(result)
    assert PROFILE.image_min_aspect <= result.width / result.height <= PROFILE.image_max_aspect


def test_a_file_over_10_mb_is_compressed_under_it(tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (2000, 2200, 3), dtype=np.uint8)
    src = tmp_path / "noise.png"
    Image.fromarray(noise).save(src)
    assert src.stat().st_size > PROFILE.image_max_bytes
    result = _fix(src, tmp_path)
    assert result.size_bytes <= PROFILE.image_max_bytes
    assert result.format == "jpeg"


def test_lighting_is_never_changed_unless_asked(photo, tmp_path):
    from kling_prep.media.synthetic import darken

    dark = Image.fromarray(darken(np.asarray(photo), -2.0))
    src = tmp_path / "dark.webp"
    dark.save(src, "WEBP", lossless=True)
    kept = _fix(src, tmp_path)
    assert "auto_exposure" not in _actions(kept)
    assert np.abs(np.asarray(_load(kept.path), dtype=int) - np.asarray(dark, dtype=int)).mean() < 3
    fixed = _fix(src, tmp_path, auto_exposure=True, exposure_stops=-2.0)
    step = next(s for s in fixed.steps if s.action == "auto_exposure")
    assert "+2.00 stops" in step.detail
    assert np.asarray(_load(fixed.path)).mean() > np.asarray(dark).mean() + 30
