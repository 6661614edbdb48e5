"""Checks of the character image: the API's limits, people, face view, body, lighting."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from kling_prep.checks.findings import (
    Finding,
    Measured,
    Severity,
    file_limit_findings,
    score_from,
)
from kling_prep.checks.thresholds import Thresholds
from kling_prep.errors import KlingPrepError, MediaDecodeError, MediaTooLargeError, plain_reason
from kling_prep.limits import ApiProfile
from kling_prep.media.probe import ImageProbe, bomb_message, probe_image, quiet_bomb_warning
from kling_prep.vision.face import FaceView
from kling_prep.vision.image import ImageAnalysis, analyse_image, arms_away_from_body
from kling_prep.vision.kit import VisionKit
from kling_prep.vision.lighting import LightingMetrics
from kling_prep.vision.people import Person, relative_height, relative_size
from kling_prep.vision.pose import UPPER_BODY_PARTS, BodyPose, framing_of

if TYPE_CHECKING:  # settings imports checks.thresholds: the type only, no import cycle
    from kling_prep.settings import Settings

log = logging.getLogger(__name__)

# Analysis runs on at most this many pixels on the longer side: the detectors see 224-256 px
# anyway, and lighting statistics do not need more.
ANALYSIS_MAX_SIDE_PX = 1280


@dataclass(frozen=True)
class PersonSummary:
    box: tuple[int, int, int, int]  # x, y, w, h in the analysed image's pixels
    size_ratio: float  # body size relative to the largest person
    score: float


@dataclass(frozen=True)
class ImageArtefacts:
    """Pictures and points for the HTML report; never in the JSON."""

    rgb: NDArray[Any]
    pose: BodyPose | None
    face: FaceView | None
    people: list[Person]
    # People seen by shape and silhouette where no pose was read (x, y, w, h), largest first.
    unread_boxes: tuple[tuple[int, int, int, int], ...] = ()


@dataclass(frozen=True)
class ImageReport:
    """Everything measured on the character image, and what it means."""

    path: str
    format: str
    width: int
    height: int
    size_bytes: int
    people: list[PersonSummary]
    face: FaceView | None
    visible_parts: dict[str, bool]
    framing: str  # "full_body", "upper_body", "head_and_shoulders", "unknown"
    person_height_share: float | None  # the main person's seen extent / image height
    has_arms_away_from_body: bool | None
    lighting: LightingMetrics | None
    lighting_score: int | None
    findings: list[Finding]
    score: int
    artefacts: ImageArtefacts | None = field(default=None, repr=False, compare=False)


# Pillow's own decompression-bomb limit (0x5555555 px: a 256 MB RGB buffer, and each of
# load_rgb's conversions makes another): a JPEG above it is decoded reduced, anything else is
# refused. Phone cameras stay far below it (a 200 MP sensor's JPEG is decoded reduced).
MAX_DECODE_PIXELS = 89_478_485


def load_rgb(path: Path, max_side_px: int) -> NDArray[Any]:
    """The image upright (EXIF applied), RGB, alpha flattened on grey, at most max_side_px.

    Raises:
        MediaTooLargeError: more than MAX_DECODE_PIXELS that cannot be decoded reduced.
        MediaDecodeError: the decoder fails on the file's data (truncated, corrupt).
    """
    from PIL import Image

    try:
        with quiet_bomb_warning(), Image.open(path) as opened:
            return _decode_rgb(path, opened, max_side_px)
    except Image.DecompressionBombError as exc:
        raise MediaTooLargeError(bomb_message(path, exc)) from exc
    except KlingPrepError:
        raise
    except Exception as exc:  # any failure inside Pillow's decoders is the file's
        log.debug("Pillow failed to decode %s", path, exc_info=True)
        raise MediaDecodeError(
            f"{path}: the image is damaged and could not be decoded ({plain_reason(exc)})"
        ) from exc


def _decode_rgb(path: Path, opened: Any, max_side_px: int) -> NDArray[Any]:
    from PIL import Image, ImageOps

    pixels = opened.width * opened.height
    if pixels > MAX_DECODE_PIXELS and opened.format in ("JPEG", "MPO"):
        # The JPEG decoder scales by 1/2, 1/4 or 1/8 as it decodes: ask for no less than the
        # analysis needs.
        scale = max_side_px / max(opened.size)
        opened.draft(
            "RGB", (max(1, round(opened.width * scale)), max(1, round(opened.height * scale)))
        )
        pixels = opened.width * opened.height
    if pixels > MAX_DECODE_PIXELS:
        raise MediaTooLargeError(
            f"{path}: {opened.width} x {opened.height} px ({pixels / 1e6:.0f} MP) to decode, "
            f"more than the {MAX_DECODE_PIXELS / 1e6:.1f} MP kling_prep decodes (Pillow's "
            "decompression-bomb limit); not decoded"
        )
    image = ImageOps.exif_transpose(opened)
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        flat.alpha_composite(rgba)
        image = flat
    image = image.convert("RGB")
    scale = max_side_px / max(image.size)
    if scale < 1:
        new_size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(new_size, Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8).copy()


def backlight_of(m: LightingMetrics) -> float | None:
    """Background minus face in stops when the face was measured (a dark coat is not a shadow),
    else background minus the whole person."""
    if m.face_exposure_stops is not None and m.background_exposure_stops is not None:
        return m.background_exposure_stops - m.face_exposure_stops
    return m.backlight_stops


def lighting_score(m: LightingMetrics) -> int:
    """0-100: 100 less penalties that grow with each measure's distance from good practice."""
    if m.face_highlight_stops is not None and m.face_shadow_stops is not None:
        # A face is dark when its highlights fall under middle grey and washed out when its
        # darkest features rise over it (see lighting_findings); 20 points a stop beyond.
        dark = max(0.0, -m.face_highlight_stops)
        penalty = 20 * (dark + max(0.0, m.face_shadow_stops))
    else:
        dark = max(0.0, -0.75 - m.exposure_stops)
        penalty = 20 * max(0.0, abs(m.exposure_stops) - 0.75)
    penalty += 1.5 * max(m.clipped_highlights_pct, m.face_clipped_pct or 0.0)
    # Backlight costs only where it darkens the character.
    if dark > 0:
        penalty += 15 * max(0.0, (backlight_of(m) or 0.0) - 0.5)
    penalty += 20 * max(0.0, 2.0 - m.contrast_stops)
    penalty += max(0.0, m.color_cast.chroma_lab - 10)
    if m.blur is not None:
        penalty += 8 * max(0.0, m.blur.blur_sigma_px_equiv - 1.0)
    return round(max(0.0, min(100.0, 100 - penalty)))


def _limit_findings(probe: ImageProbe, profile: ApiProfile) -> list[Finding]:
    """The profile's documented image rules; a rule it leaves undocumented (None) is skipped."""
    name = probe.path.name
    out = file_limit_findings(
        "image", name, file_format=probe.format,
        shown_format=probe.format.upper() or "an unknown format", size_bytes=probe.size_bytes,
        profile=profile,
    )  # fmt: skip
    if probe.is_decodable:
        short, long_ = min(probe.width, probe.height), max(probe.width, probe.height)
        least = profile.image_min_side_px
        if least is not None and short < least:
            out.append(Finding(
                "image.too_small", "block",
                f"{name} is {probe.width}x{probe.height} px; each side must be at least "
                f"{least} px{profile.provenance('image_min_side_px')}",
                short, least, "px",
            ))  # fmt: skip
        most = profile.image_max_side_px
        if most is not None and long_ > most:
            out.append(Finding(
                "image.side_too_long", "block",
                f"{name} is {probe.width}x{probe.height} px; each side must be at most "
                f"{most} px{profile.provenance('image_max_side_px')}",
                long_, most, "px",
            ))  # fmt: skip
        aspect = probe.width / max(1, probe.height)
        low, high = profile.image_min_aspect, profile.image_max_aspect
        if (low is not None and aspect < low) or (high is not None and aspect > high):
            rule = f"{low or 0:.2f}-{high:.2f}" if high is not None else f"at least {low:.2f}"
            out.append(Finding(
                "image.aspect_ratio", "block",
                f"{name} has aspect ratio {aspect:.2f} (width/height); the API takes "
                f"{rule}{profile.provenance('image_min_aspect', 'image_max_aspect')}",
                round(aspect, 3), rule,
            ))  # fmt: skip
    return out


def _people_findings(name: str, analysis: ImageAnalysis, settings: Settings) -> list[Finding]:
    people, unread, t = analysis.people, analysis.unread, settings.thresholds
    if people:
        return _others_findings(name, [relative_size(p, people[0]) for p in people[1:]], t)
    if not unread:
        return [Finding("image.no_person", "block", f"{name}: no person found", 0, 1, "people")]
    # Someone is there, but no model reads a face or a body on them: the model needs the face.
    return [
        _no_face_finding(
            name, "a person is there (its shape and its silhouette agree) but no face or body can "
            "be read on it (covered, hooded or hidden)", "no_face", "frontal or three_quarter",
            settings.allow_no_face,
        ),
        *_others_findings(name, [relative_height(p, unread[0]) for p in unread[1:]], t),
    ]  # fmt: skip


def _others_findings(name: str, ratios: list[float], t: Thresholds) -> list[Finding]:
    """People beside the main one, by their size beside it: comparable ones block, smaller
    ones down to the warn ratio warn."""
    rivals = [r for r in ratios if r >= t.other_person_block_ratio]
    background = [r for r in ratios if t.other_person_warn_ratio <= r < t.other_person_block_ratio]
    out = []
    if rivals:
        out.append(Finding(
            "image.multiple_people", "block",
            f"{name}: {1 + len(rivals)} people of comparable size (the largest other is "
            f"{max(rivals):.0%} of the main person); the API wants exactly one",
            1 + len(rivals), 1, "people",
        ))  # fmt: skip
    if background:
        out.append(Finding(
            "image.background_person", "warn",
            f"{name}: {len(background)} smaller person(s) in the background, up to "
            f"{max(background):.0%} of the main person's size (warned from "
            f"{t.other_person_warn_ratio:.0%})",
            round(max(background), 2), t.other_person_warn_ratio, "x main size",
        ))  # fmt: skip
    return out


def face_findings(
    name: str, face: FaceView | None, settings: Settings, *, prefix: str = "image"
) -> list[Finding]:
    """The face-view rule: frontal and three-quarter pass, profile warns, no face blocks (warns
    with the settings' `allow_no_face`)."""
    if face is None:
        return []
    t, allow_no_face = settings.thresholds, settings.allow_no_face
    if (
        face.view == "no_face"
        and face.yaw_deg is not None
        and abs(face.yaw_deg) > t.face_away_min_yaw_deg
    ):
        # The head is measured, turned away: its back is toward the camera.
        return [_no_face_finding(
            name, f"head turned {face.yaw_deg:+.0f} deg, away from the camera (a face ends at "
            f"{t.face_away_min_yaw_deg:.0f} deg)", round(face.yaw_deg, 1),
            t.face_away_min_yaw_deg, allow_no_face, prefix=prefix, unit="deg",
        )]  # fmt: skip
    if face.view == "no_face":
        return [_no_face_finding(
            name, "no face seen (turned away, hidden or too small)", "no_face",
            "frontal or three_quarter", allow_no_face, prefix=prefix,
        )]  # fmt: skip
    out = []
    if face.view == "profile" and face.yaw_deg is not None:
        out.append(Finding(
            f"{prefix}.face_profile", "warn",
            f"{name}: face in profile, yaw {face.yaw_deg:+.0f} deg (three-quarter ends at "
            f"{t.three_quarter_max_yaw_deg:.1f} deg); the far side of the face will be invented",
            round(face.yaw_deg, 1), t.three_quarter_max_yaw_deg, "deg",
        ))  # fmt: skip
    if face.pitch_deg is not None and abs(face.pitch_deg) > t.max_pitch_deg:
        out.append(Finding(
            f"{prefix}.face_pitch", "warn",
            f"{name}: head tilted {face.pitch_deg:+.0f} deg (over {t.max_pitch_deg:.0f} deg "
            "up or down)",
            round(face.pitch_deg, 1), t.max_pitch_deg, "deg",
        ))  # fmt: skip
    return out


def _no_face_finding(
    name: str,
    why: str,
    measured: Measured,
    rule: Measured,
    allow_no_face: bool,
    *,
    prefix: str = "image",
    unit: str = "",
) -> Finding:
    """`{prefix}.no_face`: blocks, or warns with `allow_no_face`; `why` says what was seen."""
    return Finding(
        f"{prefix}.no_face", "warn" if allow_no_face else "block",
        f"{name}: {why}; the model needs the character's face"
        + (" (allowed by --allow-no-face)" if allow_no_face else ""),
        measured, rule, unit,
    )  # fmt: skip


def lighting_findings(name: str, m: LightingMetrics, t: Thresholds) -> list[Finding]:
    """Dark or backlit, overexposed, then flat, tinted or soft: the lighting rules in order."""
    where = (
        "face" if m.face_exposure_stops is not None
        else "person" if m.has_subject_mask else "picture"
    )  # fmt: skip
    return [
        *_dark_findings(name, m, t, where),
        *_overexposed_findings(name, m, t, where),
        *_tone_findings(name, m, t),
    ]


def _dark_findings(name: str, m: LightingMetrics, t: Thresholds, where: str) -> list[Finding]:
    out = []
    severity: Severity
    # 1. Is the character dark? A face is judged by its own highlights, not its median: skin
    # reflects from under 10% to over 40%, so a dark face well lit and a pale face in shade
    # share a median, but the lit side of any face reaches middle grey when it is exposed right.
    # A person without a face is judged the same way by its own highlights: a black coat or
    # hood lowers the median, not the lit side of the figure (skin, the sheen on cloth). With
    # nobody found, the picture's median against middle grey.
    has_person = m.has_subject_mask
    if m.face_highlight_stops is not None or has_person:
        dark_by = (
            m.face_highlight_stops if m.face_highlight_stops is not None else m.highlight_stops
        )
        dark_warn, dark_block = t.face_dark_highlight_stops, t.face_dark_highlight_block_stops
        dark_what = f"the {where}'s brightest 1%"
    else:
        dark_by = m.exposure_stops
        dark_warn, dark_block = t.underexposed_warn_stops, t.underexposed_block_stops
        dark_what = f"the {where}"
    is_dark = dark_by < dark_warn
    # 2. Backlight names the cause of a dark character: the background much brighter than the
    # face (else the person) while the character is dark. A bright street beside a well-lit
    # person is no backlight. A figure without a face seen against the light keeps a bright
    # rim, so there its median says whether it is dark.
    back = backlight_of(m)
    shade_what, shade_by, shade_block = dark_what, dark_by, dark_block
    if not is_dark and m.face_highlight_stops is None and has_person:
        shade_what, shade_by = "the person's median", m.exposure_stops
        shade_block = t.underexposed_block_stops
    is_shadowed = is_dark or shade_by < t.underexposed_warn_stops
    is_backlit = is_shadowed and back is not None and back >= t.backlit_warn_stops
    if is_backlit and back is not None:
        severity = "block" if back >= t.backlit_block_stops else "warn"
        limit = t.backlit_block_stops if severity == "block" else t.backlit_warn_stops
        out.append(Finding(
            "image.backlit", severity,
            f"{name}: the background is {back:.1f} stops brighter than the {where}, and "
            f"{shade_what} is {shade_by:+.1f} stops from middle grey ({severity} from "
            f"{limit:.1f})",
            round(back, 2), limit, "stops",
        ))  # fmt: skip
    # A backlit character dark enough to lose its detail is also underexposed: that blocks
    # on its own measure, whatever the background (a faceless figure's: its median).
    if (is_dark and not is_backlit) or (is_backlit and shade_by < shade_block):
        severity = "block" if shade_by < shade_block else "warn"
        limit = shade_block if severity == "block" else dark_warn
        out.append(Finding(
            "image.underexposed", severity,
            f"{name}: {shade_what} is {shade_by:+.1f} stops from middle grey ({severity} under "
            f"{limit:+.1f})",
            round(shade_by, 2), limit, "stops",
        ))  # fmt: skip
    return out


def _overexposed_findings(
    name: str, m: LightingMetrics, t: Thresholds, where: str
) -> list[Finding]:
    out = []
    severity: Severity
    # 3. Overexposure is lost highlight detail on the character, not a bright picture: pixels
    # clipped on the face or the person, or the darkest tones lifted (washed out). The white
    # of a drawing's paper is neither.
    clipped = max(m.clipped_highlights_pct, m.face_clipped_pct or 0.0)
    # Washed out: brighter than even light skin's correct level AND the darkest features lifted;
    # either alone is a pale face or a bright, soft picture.
    ev = m.face_exposure_stops if m.face_exposure_stops is not None else m.exposure_stops
    shadow = m.face_shadow_stops if m.face_shadow_stops is not None else m.shadow_stops
    is_washed_out = shadow >= t.washed_out_shadow_stops and ev > t.overexposed_warn_stops
    is_line_art = (
        m.textured_share < t.line_art_max_textured_share and m.ink_share >= t.line_art_min_ink_share
    )
    if not is_line_art and (clipped >= t.clipped_warn_pct or is_washed_out):
        severity = "block" if clipped >= t.clipped_block_pct else "warn"
        out.append(Finding(
            "image.overexposed", severity,
            f"{name}: {clipped:.1f}% of the {where}'s pixels are clipped, its darkest twentieth "
            f"at {shadow:+.1f} stops (warn from {t.clipped_warn_pct:.0f}% or "
            f"{t.washed_out_shadow_stops:+.1f} stops, block from {t.clipped_block_pct:.0f}%)",
            round(clipped, 2), t.clipped_block_pct if severity == "block" else t.clipped_warn_pct,
            "% clipped",
        ))  # fmt: skip
    return out


def _tone_findings(name: str, m: LightingMetrics, t: Thresholds) -> list[Finding]:
    out = []
    severity: Severity
    if m.contrast_stops < t.low_contrast_stops:
        out.append(Finding(
            "image.low_contrast", "warn",
            f"{name}: the person's tonal range is {m.contrast_stops:.1f} stops (under "
            f"{t.low_contrast_stops:.1f}): flat or hazy",
            round(m.contrast_stops, 2), t.low_contrast_stops, "stops",
        ))  # fmt: skip
    cast = m.color_cast
    if cast.chroma_lab >= t.color_cast_info:
        severity = "warn" if cast.chroma_lab >= t.color_cast_warn else "info"
        limit = t.color_cast_warn if severity == "warn" else t.color_cast_info
        out.append(Finding(
            "image.color_cast", severity,
            f"{name}: a {cast.hue_name} colour cast of {cast.chroma_lab:.0f} Lab units "
            f"({severity} from {limit:.0f})",
            round(cast.chroma_lab, 1), limit, "Lab chroma",
        ))  # fmt: skip
    if m.blur is not None and m.blur.blur_sigma_px_equiv >= t.blur_warn_sigma_px:
        out.append(Finding(
            "image.blurry", "warn",
            f"{name}: the face/person is as soft as a {m.blur.blur_sigma_px_equiv:.1f} px "
            f"Gaussian blur at 512 px (warn from {t.blur_warn_sigma_px:.1f})",
            round(m.blur.blur_sigma_px_equiv, 2), t.blur_warn_sigma_px, "px",
        ))  # fmt: skip
    return out


def _body_findings(
    name: str, pose: BodyPose | None, share: float | None, t: Thresholds
) -> list[Finding]:
    out = []
    if pose is not None:
        seen = pose.visible_parts(min_visibility=t.landmark_min_visibility)
        cut_off = [part for part in UPPER_BODY_PARTS if part in pose.out_of_frame_parts()]
        unsure = [part for part in UPPER_BODY_PARTS if not seen[part] and part not in cut_off]
        if cut_off:
            out.append(Finding(
                "image.limbs_hidden", "warn",
                f"{name}: out of frame: {', '.join(cut_off)}; the guide asks for the head and "
                "all limbs in view",
                ",".join(cut_off), "head, shoulders, both arms in frame",
            ))  # fmt: skip
        elif unsure:
            out.append(Finding(
                "image.limbs_hidden", "info",
                f"{name}: possibly occluded (pose visibility under "
                f"{t.landmark_min_visibility:.1f}): {', '.join(unsure)}",
                ",".join(unsure), t.landmark_min_visibility, "visibility",
            ))  # fmt: skip
    if share is not None and share < t.min_person_height_share:
        out.append(Finding(
            "image.small_person", "warn",
            f"{name}: the person spans {share:.0%} of the image height (warn under "
            f"{t.min_person_height_share:.0%})",
            round(share, 3), t.min_person_height_share, "share of height",
        ))  # fmt: skip
    return out


def check_image(
    path: Path,
    *,
    settings: Settings,
    kit: VisionKit,
    display_name: str | None = None,
) -> ImageReport:
    """Probe, analyse and judge a character image against the settings' profile (the API's
    file rules), thresholds and `allow_no_face`.

    Raises:
        UnsupportedMediaError: the file is not an image.
        MediaDecodeError: the image is damaged.
    """
    thresholds = settings.thresholds
    probe = probe_image(path)
    findings = _limit_findings(probe, settings.profile)
    if not probe.is_decodable:
        return ImageReport(
            path=str(path), format=probe.format, width=0, height=0, size_bytes=probe.size_bytes,
            people=[], face=None, visible_parts={}, framing="unknown", person_height_share=None,
            has_arms_away_from_body=None, lighting=None, lighting_score=None, findings=findings,
            score=score_from(findings),
        )  # fmt: skip
    analysis = analyse_image(load_rgb(path, ANALYSIS_MAX_SIDE_PX), kit, thresholds)
    name = display_name or path.name
    findings += image_findings(analysis, name, settings)
    return image_report(path, probe, analysis, findings, thresholds)


def image_findings(analysis: ImageAnalysis, name: str, settings: Settings) -> list[Finding]:
    """What the analysis breaks of the settings' thresholds (the API's file rules apart):
    people, the face view, the body in the frame, the lighting."""
    t = settings.thresholds
    return [
        *_people_findings(name, analysis, settings),
        *face_findings(name, analysis.face, settings),
        *_body_findings(name, analysis.pose, analysis.person_height_share, t),
        *lighting_findings(name, analysis.lighting, t),
    ]


def image_report(
    path: Path, probe: ImageProbe, analysis: ImageAnalysis, findings: list[Finding], t: Thresholds
) -> ImageReport:
    """The report of a judged analysis: the probe's facts and the analysis' summaries."""
    people, pose, seen = analysis.people, analysis.pose, t.landmark_min_visibility
    share = analysis.person_height_share
    return ImageReport(
        path=str(path), format=probe.format, width=probe.width, height=probe.height,
        size_bytes=probe.size_bytes,
        people=[
            PersonSummary(p.detection.box, round(relative_size(p, people[0]), 3), p.detection.score)
            for p in people
        ] + [
            PersonSummary(
                u.detection.box, round(relative_height(u, analysis.unread[0]), 3),
                u.detection.score,
            )
            for u in analysis.unread
        ],
        face=analysis.face,
        visible_parts=pose.visible_parts(min_visibility=seen) if pose is not None else {},
        framing=framing_of(pose, min_visibility=seen),
        person_height_share=None if share is None else round(share, 3),
        has_arms_away_from_body=arms_away_from_body(pose, min_visibility=seen),
        lighting=analysis.lighting, lighting_score=lighting_score(analysis.lighting),
        findings=findings, score=score_from(findings),
        artefacts=ImageArtefacts(
            rgb=analysis.rgb, pose=pose, face=analysis.face, people=people,
            unread_boxes=tuple(u.detection.box for u in analysis.unread),
        ),
    )  # fmt: skip
