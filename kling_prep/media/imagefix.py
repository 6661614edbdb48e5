"""Fixing the character image for the API: EXIF orientation applied, converted to JPEG or PNG
(HEIC, WebP, AVIF, CMYK, 16-bit and alpha handled), sides and bytes within the limits, an
aspect ratio outside the API's range padded (or cropped around the person when asked), and
exposure changed only when asked (`auto_exposure`), always said."""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kling_prep.errors import MediaDecodeError, MediaTooLargeError, UnsupportedMediaError
from kling_prep.limits import ApiProfile
from kling_prep.media.outputs import write_atomically
from kling_prep.media.probe import bomb_message
from kling_prep.media.transcode import Step

if TYPE_CHECKING:
    from PIL import Image as PILImage

log = logging.getLogger(__name__)

NEUTRAL_RGB = (128, 128, 128)  # the background alpha is flattened on and padding is filled with
JPEG_QUALITIES = (95, 90, 85, 75)
# Written where a profile documents no image format: every provider of the model takes these.
PORTABLE_IMAGE_FORMATS = ("jpeg", "png")
AUTO_EXPOSURE_MAX_STOPS = 2.0


@dataclass(frozen=True)
class ImageFix:
    """The prepared image and what was done to it."""

    path: Path
    format: str  # "jpeg" or "png"
    width: int
    height: int
    size_bytes: int
    steps: list[Step]


def is_heif_supported() -> bool:
    """Whether HEIC/HEIF photos can be opened here (the pillow-heif plug-in)."""
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        return False
    return True


def _open(path: Path) -> PILImage.Image:
    from PIL import Image, UnidentifiedImageError

    head = path.read_bytes()[:16]
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim"):
        try:
            import pillow_heif
        except ImportError as exc:
            raise UnsupportedMediaError(
                f"{path}: a HEIC/HEIF photo, which this installation cannot convert (the "
                "pillow-heif package is missing); export it as JPEG on the phone"
            ) from exc
        pillow_heif.register_heif_opener()
    try:
        image = Image.open(path)
        image.load()
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaError(f"{path}: not an image kling_prep can convert") from exc
    except Image.DecompressionBombError as exc:
        raise MediaTooLargeError(bomb_message(path, exc)) from exc
    except OSError as exc:
        raise MediaDecodeError(f"{path}: the image is damaged or truncated ({exc})") from exc
    except Exception as exc:  # any other failure inside Pillow's decoders is the file's
        raise MediaDecodeError(
            f"{path}: the image could not be decoded ({type(exc).__name__}: {exc})"
        ) from exc
    return image


def _to_rgb(image: PILImage.Image, steps: list[Step]) -> PILImage.Image:
    """8-bit RGB: alpha flattened on neutral grey, CMYK through its ICC profile when it has
    one, 16-bit scaled to 8 bits."""
    from PIL import Image, ImageCms

    mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (*NEUTRAL_RGB, 255))
        flat.alpha_composite(rgba)
        steps.append(Step(
            "flatten_alpha", f"transparency flattened on neutral grey {NEUTRAL_RGB}", mode, "RGB"
        ))  # fmt: skip
        return flat.convert("RGB")
    if mode == "CMYK":
        icc = image.info.get("icc_profile")
        if icc:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            if converted is not None:
                image = converted
            how = "through its ICC profile"
        else:
            image = image.convert("RGB")
            how = "without an ICC profile (approximate colours)"
        steps.append(Step("cmyk_to_rgb", f"CMYK converted to sRGB {how}", "CMYK", "RGB"))
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max() > 255 else 255.0
        grey = np.clip(values / peak * 255 + 0.5, 0, 255).astype(np.uint8)
        steps.append(Step("bit_depth", "16-bit greyscale scaled to 8 bits", mode, "L"))
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        steps.append(Step("bit_depth", "32-bit float scaled to 8 bits", mode, "RGB"))
        return image.convert("L").convert("RGB")
    if mode != "RGB":
        steps.append(Step("convert_mode", f"{mode} converted to RGB", mode, "RGB"))
        return image.convert("RGB")
    return image


def _crop_around(
    image: PILImage.Image, box: tuple[int, int, int, int], profile: ApiProfile, steps: list[Step]
) -> PILImage.Image:
    """A crop around the person's box grown by a quarter a side, then to the API's aspect."""
    x, y, w, h = box
    x0, y0 = max(0, int(x - 0.25 * w)), max(0, int(y - 0.25 * h))
    x1, y1 = min(image.width, int(x + 1.25 * w)), min(image.height, int(y + 1.25 * h))
    cw, ch = x1 - x0, y1 - y0
    aspect = cw / max(1, ch)
    low, high = _aspect_range(profile)
    if aspect > high:  # too wide: narrow around the centre
        target = int(ch * high)
        x0 += (cw - target) // 2
        x1 = x0 + target
    elif aspect < low:  # too tall: widen within the image, else pad later
        target = min(image.width, int(ch * low + 1))
        cx = (x0 + x1) // 2
        x0 = max(0, min(image.width - target, cx - target // 2))
        x1 = x0 + target
    cropped = image.crop((x0, y0, x1, y1))
    steps.append(Step(
        "crop", f"cropped around the detected person to {cropped.width}x{cropped.height} px "
        f"(box {x0},{y0}-{x1},{y1})",
        f"{image.width}x{image.height}", f"{cropped.width}x{cropped.height}",
    ))  # fmt: skip
    return cropped


def _aspect_range(profile: ApiProfile) -> tuple[float, float]:
    """The profile's width/height range; a bound it does not document bounds nothing."""
    low, high = profile.image_min_aspect, profile.image_max_aspect
    return (0.0 if low is None else low, math.inf if high is None else high)


def _pad_to_aspect(image: PILImage.Image, profile: ApiProfile, steps: list[Step]) -> PILImage.Image:
    from PIL import Image

    aspect = image.width / image.height
    low, high = _aspect_range(profile)
    if low <= aspect <= high:
        return image
    if aspect > high:
        size = (image.width, int(image.width / high + 0.999))
    else:
        size = (int(image.height * low + 0.999), image.height)
    canvas = Image.new("RGB", size, NEUTRAL_RGB)
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    steps.append(Step(
        "pad", f"aspect ratio {aspect:.2f} padded (not cropped) with neutral grey to "
        f"{size[0]}x{size[1]} px ({size[0] / size[1]:.2f}; the API takes "
        f"{low:.2f}-{high:.2f})",
        round(aspect, 3), round(size[0] / size[1], 3),
    ))  # fmt: skip
    return canvas


def _fit_min_side(image: PILImage.Image, profile: ApiProfile, steps: list[Step]) -> PILImage.Image:
    from PIL import Image

    short, least = min(image.size), profile.image_min_side_px
    if least is None or short >= least:
        return image
    factor = least / short
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    size = (max(size[0], least) if image.width == short else size[0],
            max(size[1], least) if image.height == short else size[1])  # fmt: skip
    steps.append(Step(
        "upscale", f"upscaled {image.width}x{image.height} -> {size[0]}x{size[1]} px (each side "
        f"at least {least} px; upscaling adds no detail)",
        f"{image.width}x{image.height}", f"{size[0]}x{size[1]}",
    ))  # fmt: skip
    return image.resize(size, Image.Resampling.LANCZOS)


def _auto_exposure(
    image: PILImage.Image, exposure_stops: float | None, steps: list[Step]
) -> PILImage.Image:
    """Scale the light in linear light so the measured exposure moves to middle grey (at most
    two stops), highlights rolled off instead of clipped."""
    import numpy as np
    from PIL import Image

    if exposure_stops is None:
        steps.append(Step("auto_exposure", "not applied: no exposure was measured", None, None))
        return image
    gain_stops = max(-AUTO_EXPOSURE_MAX_STOPS, min(AUTO_EXPOSURE_MAX_STOPS, -exposure_stops))
    if abs(gain_stops) < 0.25:
        steps.append(Step(
            "auto_exposure", f"not applied: exposure {exposure_stops:+.2f} stops is within "
            "0.25 stops of middle grey", round(exposure_stops, 2), round(exposure_stops, 2),
        ))  # fmt: skip
        return image
    x = np.asarray(image, dtype=np.float32) / 255
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) * 2.0**gain_stops
    # Reinhard-style shoulder above 0.8 so brightened highlights roll off, not clip.
    knee = 0.8
    over = np.maximum(linear - knee, 0)
    linear = np.where(linear > knee, knee + over / (1 + over / (1 - knee)), linear)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    out = np.clip(srgb * 255 + 0.5, 0, 255).astype(np.uint8)
    steps.append(Step(
        "auto_exposure", f"exposure changed by {gain_stops:+.2f} stops in linear light (measured "
        f"{exposure_stops:+.2f} stops from middle grey; asked with --auto-exposure)",
        round(exposure_stops, 2), round(exposure_stops + gain_stops, 2),
    ))  # fmt: skip
    return Image.fromarray(out, "RGB")


def _encode(
    image: PILImage.Image, fmt: str, icc: bytes | None, profile: ApiProfile, steps: list[Step]
) -> tuple[bytes, str, PILImage.Image]:
    """Encoded bytes within the size limit: PNG if asked and it fits, else JPEG at the best
    quality that fits, then smaller sizes (never under the minimum side)."""
    from PIL import Image

    def save(img: PILImage.Image, kind: str, quality: int = 95) -> bytes:
        buffer = io.BytesIO()
        options: dict[str, Any] = {"icc_profile": icc} if icc else {}
        if kind == "png":
            img.save(buffer, "PNG", optimize=False, **options)
        else:
            img.save(buffer, "JPEG", quality=quality, subsampling="4:2:0", **options)
        return buffer.getvalue()

    # No documented size limit: any size is within it, so nothing is compressed for it.
    limit = math.inf if profile.image_max_bytes is None else profile.image_max_bytes
    if fmt == "png":
        data = save(image, "png")
        if len(data) <= limit:
            return data, "png", image
        steps.append(Step(
            "format", f"PNG would be {len(data) / 1e6:.1f} MB (limit {limit / 1e6:.0f} MB): "
            "written as JPEG", "png", "jpeg",
        ))  # fmt: skip
    current = image
    while True:
        for quality in JPEG_QUALITIES:
            data = save(current, "jpeg", quality)
            if len(data) <= limit:
                if quality != JPEG_QUALITIES[0]:
                    steps.append(Step(
                        "compress", f"JPEG quality {quality} to stay under "
                        f"{limit / 1e6:.0f} MB", None, quality,
                    ))  # fmt: skip
                return data, "jpeg", current
        smaller = (round(current.width * 0.85), round(current.height * 0.85))
        if min(smaller) < (profile.image_min_side_px or 1):
            return data, "jpeg", current  # the check will report image.too_large
        steps.append(Step(
            "downscale", f"downscaled {current.width}x{current.height} -> "
            f"{smaller[0]}x{smaller[1]} px to stay under {limit / 1e6:.0f} MB",
            f"{current.width}x{current.height}", f"{smaller[0]}x{smaller[1]}",
        ))  # fmt: skip
        current = current.resize(smaller, Image.Resampling.LANCZOS)


def fix_image(
    source: Path,
    dest_stem: Path,
    *,
    profile: ApiProfile,
    person_box: tuple[int, int, int, int] | None = None,
    crop_to_person: bool = False,
    auto_exposure: bool = False,
    exposure_stops: float | None = None,
) -> ImageFix:
    """Write a version of `source` the API accepts as `dest_stem` + ".jpg" or ".png".

    A file that already complies (JPEG/PNG, upright, RGB, within sides, aspect and size) is
    copied byte for byte. Lighting is never changed unless `auto_exposure` is asked.

    Args:
        source: the character image.
        dest_stem: the output path without its suffix; its folder must exist.
        profile: the API's limits.
        person_box: the main person's box (x, y, w, h) in the upright image's pixels, from the
            check; used only with `crop_to_person`.
        crop_to_person: crop around the person instead of padding an out-of-range aspect.
        auto_exposure: move the measured exposure to middle grey (at most 2 stops).
        exposure_stops: the exposure the check measured (face, else person), in stops.

    Returns:
        The ImageFix with the steps done.

    Raises:
        UnsupportedMediaError: not an image that can be converted here (HEIC without
            pillow-heif, say).
        MediaDecodeError: the image is damaged.
    """
    steps: list[Step] = []
    # 1-2. Upright, 8-bit RGB.
    image, fmt_in, icc = _upright_rgb(source, steps)
    # 3. Geometry: crop when asked, else pad; then the minimum side.
    image = _reshaped(image, profile, person_box, crop_to_person, steps)
    # 4. Light, only when asked.
    if auto_exposure:
        image = _auto_exposure(image, exposure_stops, steps)
    # 5. Encode: an untouched compliant file is copied as is.
    # No documented formats: JPEG and PNG, which every provider of the model takes.
    is_compliant_format = fmt_in in (profile.image_formats or PORTABLE_IMAGE_FORMATS)
    within_bytes = profile.image_max_bytes is None or (
        source.stat().st_size <= profile.image_max_bytes
    )
    if not steps and is_compliant_format and within_bytes:
        return _copied(source, dest_stem, fmt_in, image)
    if not is_compliant_format:
        wanted = "png" if fmt_in == "png" else "jpeg"
        steps.append(Step(
            "format", f"{fmt_in.upper() or 'unknown format'} converted to {wanted.upper()}",
            fmt_in, wanted,
        ))  # fmt: skip
    return _written(image, fmt_in, icc, profile, dest_stem, steps)


def _upright_rgb(source: Path, steps: list[Step]) -> tuple[PILImage.Image, str, bytes | None]:
    """`source` decoded, its EXIF orientation applied to the pixels, in 8-bit RGB (each said in
    `steps`); with its format and the colour profile that still applies to it."""
    from PIL import ImageOps

    with _open(source) as opened:
        fmt_in = (opened.format or "").lower()
        fmt_in = "jpeg" if fmt_in == "mpo" else fmt_in
        orientation = int(opened.getexif().get(0x0112, 1) or 1)
        icc = opened.info.get("icc_profile")
        mode_in = opened.mode
        image = ImageOps.exif_transpose(opened) or opened
        if orientation != 1:
            steps.append(Step(
                "exif_orientation", f"EXIF orientation {orientation} applied to the pixels",
                orientation, 1,
            ))  # fmt: skip
        image = _to_rgb(image, steps)
    if mode_in == "CMYK":
        icc = None  # converted to sRGB; the CMYK profile no longer applies
    return image, fmt_in, icc


def _reshaped(
    image: PILImage.Image,
    profile: ApiProfile,
    person_box: tuple[int, int, int, int] | None,
    crop_to_person: bool,
    steps: list[Step],
) -> PILImage.Image:
    """Cropped around the person when asked, else padded to the API's aspect range; then
    brought up to the minimum side."""
    if crop_to_person:
        if person_box is not None:
            image = _crop_around(image, person_box, profile, steps)
        else:
            steps.append(Step("crop", "not cropped: no person was found", None, None))
    image = _pad_to_aspect(image, profile, steps)
    return _fit_min_side(image, profile, steps)


def _copied(source: Path, dest_stem: Path, fmt_in: str, image: PILImage.Image) -> ImageFix:
    """A compliant file nothing was done to, copied byte for byte (unless it is the dest)."""
    dest = dest_stem.with_suffix(".jpg" if fmt_in == "jpeg" else ".png")
    if dest.resolve() != source.resolve():
        write_atomically(source.read_bytes(), dest)
    return ImageFix(dest, fmt_in, image.width, image.height, dest.stat().st_size,
                    [Step("copy", "already complies: copied unchanged")])  # fmt: skip


def _written(
    image: PILImage.Image,
    fmt_in: str,
    icc: bytes | None,
    profile: ApiProfile,
    dest_stem: Path,
    steps: list[Step],
) -> ImageFix:
    """`image` encoded within the size limit (PNG stays PNG when it fits, else JPEG) and
    written without its EXIF metadata."""
    wanted = "png" if fmt_in == "png" else "jpeg"
    data, fmt_out, image = _encode(image, wanted, icc, profile, steps)
    steps.append(Step(
        "metadata", "EXIF metadata (location, camera) left out; the colour profile is kept"
        if icc else "EXIF metadata (location, camera) left out",
    ))  # fmt: skip
    dest = dest_stem.with_suffix(".jpg" if fmt_out == "jpeg" else ".png")
    write_atomically(data, dest)
    return ImageFix(dest, fmt_out, image.width, image.height, len(data), steps)
