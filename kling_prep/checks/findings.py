"""Findings: one problem, its stable code, its severity, what was measured and the rule.

Every code is registered here with what it means, so the docs' table is generated from this
module and cannot drift. A code, once published, keeps its meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from kling_prep.limits import ApiProfile

Severity = Literal["block", "warn", "info"]
SEVERITY_ORDER: dict[Severity, int] = {"block": 0, "warn": 1, "info": 2}
Measured = float | int | str | None


@dataclass(frozen=True)
class CodeInfo:
    """What a finding code means and whether `kling-prep prepare` can fix it."""

    subject: Literal["image", "video", "pair", "prompt"]
    meaning: str
    is_fixable: bool = False


CODES: dict[str, CodeInfo] = {
    # The character image.
    "image.format": CodeInfo("image", "The API takes JPEG or PNG only.", is_fixable=True),
    "image.too_large": CodeInfo("image", "The file is over the API's size limit.", True),
    "image.too_small": CodeInfo("image", "A side is under the API's minimum.", True),
    "image.side_too_long": CodeInfo("image", "A side is over the API's maximum (65536 px)."),
    "image.aspect_ratio": CodeInfo("image", "Width:height is outside 1:2.5-2.5:1.", True),
    "image.no_person": CodeInfo("image", "No person was found in the image."),
    "image.multiple_people": CodeInfo("image", "More than one person of comparable size."),
    "image.background_person": CodeInfo("image", "A smaller second person in the background."),
    "image.no_face": CodeInfo(
        "image", "The person's face is hidden, covered or turned away (back of the head)."
    ),
    "image.face_profile": CodeInfo("image", "The face is seen in profile."),
    "image.face_pitch": CodeInfo("image", "The head is tilted far up or down."),
    "image.underexposed": CodeInfo("image", "The person is too dark."),
    "image.overexposed": CodeInfo("image", "The person's highlights are blown out."),
    "image.low_contrast": CodeInfo("image", "The person's tones are flat."),
    "image.backlit": CodeInfo("image", "The person is much darker than the background."),
    "image.color_cast": CodeInfo("image", "A strong colour cast over the image."),
    "image.blurry": CodeInfo("image", "The person is out of focus or motion-blurred."),
    "image.limbs_hidden": CodeInfo("image", "Body parts are out of frame or hidden."),
    "image.small_person": CodeInfo("image", "The person fills little of the picture."),
    # The reference video.
    "video.format": CodeInfo("video", "The API takes MP4 or MOV only.", is_fixable=True),
    "video.too_large": CodeInfo("video", "The file is over the API's size limit.", True),
    "video.too_long": CodeInfo("video", "Longer than the API takes for this orientation.", True),
    "video.too_short": CodeInfo("video", "Shorter than the API's minimum."),
    "video.resolution": CodeInfo("video", "A side is outside the API's pixel range.", True),
    "video.no_audio": CodeInfo("video", "keep_original_sound is asked but there is no audio."),
    "video.no_person": CodeInfo("video", "Stretches of the video show nobody."),
    "video.multiple_people": CodeInfo("video", "More than one person of comparable size."),
    "video.background_person": CodeInfo("video", "A smaller second person in the background."),
    "video.scene_cut": CodeInfo("video", "A hard cut: the API wants one continuous shot.", True),
    "video.transition": CodeInfo("video", "A fade or dissolve between shots.", True),
    "video.person_leaves_frame": CodeInfo("video", "The person's body leaves the frame."),
    "video.face_hidden": CodeInfo("video", "The face is hidden or turned away much of the time."),
    "video.camera_motion": CodeInfo("video", "The camera pans, tilts, zooms or shakes."),
    "video.fast_motion": CodeInfo("video", "Motion too fast for the model to follow."),
    "video.low_motion": CodeInfo("video", "The person barely moves: little motion to transfer."),
    # The pair.
    "pair.framing_mismatch": CodeInfo("pair", "Image and video frame the body differently."),
    # The prompt.
    "prompt.missing": CodeInfo(
        "prompt", "No prompt: warns in check and prepare; blocks submit, gate, batch --submit."
    ),
    "prompt.too_long": CodeInfo("prompt", "The prompt is over the API's character limit."),
    "prompt.lint": CodeInfo("prompt", "The prompt misses parts the API's guide asks for."),
}


@dataclass(frozen=True)
class Finding:
    """One problem found in an input, with the measured value and the rule it breaks."""

    code: str
    severity: Severity
    message: str
    measured: Measured = None
    threshold: Measured = None
    unit: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered finding code {self.code!r}")

    @property
    def is_fixable(self) -> bool:
        return CODES[self.code].is_fixable


def worst_severity(findings: list[Finding]) -> Severity | None:
    if not findings:
        return None
    return min((f.severity for f in findings), key=SEVERITY_ORDER.__getitem__)


def file_limit_findings(
    subject: Literal["image", "video"],
    name: str,
    *,
    file_format: str,
    shown_format: str,
    size_bytes: int,
    profile: ApiProfile,
) -> list[Finding]:
    """The API's two file rules, the same for both inputs: an accepted format, and at most the
    profile's size. `subject.format` and `subject.too_large` both block (prepare converts).

    A rule the profile does not document (None) is not checked. Where the provider does not
    document a limit, the messages end with where it comes from (`ApiProfile.provenance`).
    """
    if subject == "image":
        accepted, max_bytes = profile.image_formats, profile.image_max_bytes
        format_note = profile.provenance("image_formats")
        size_note = profile.provenance("image_max_bytes")
    else:
        accepted, max_bytes = profile.video_containers, profile.video_max_bytes
        format_note = profile.provenance("video_containers")
        size_note = profile.provenance("video_max_bytes")
    out: list[Finding] = []
    if accepted is not None and file_format not in accepted:
        out.append(Finding(
            f"{subject}.format", "block",
            f"{name} is {shown_format}; the API takes "
            f"{'/'.join(f.upper() for f in accepted)} (prepare converts it){format_note}",
            file_format, "/".join(accepted),
        ))  # fmt: skip
    if max_bytes is not None and size_bytes > max_bytes:
        out.append(Finding(
            f"{subject}.too_large", "block",
            f"{name} is {size_bytes / 1e6:.1f} MB; the API takes at most "
            f"{max_bytes / 1e6:.0f} MB{size_note}",
            size_bytes, max_bytes, "bytes",
        ))  # fmt: skip
    return out


def score_from(findings: list[Finding]) -> int:
    """Readiness 0-100: 100 less 45 a blocking finding, 12 a warning, 2 an info; floor 0.

    Any block drives the score under 60, so a sorted batch shows blocked inputs last.
    """
    penalty = {"block": 45, "warn": 12, "info": 2}
    return max(0, 100 - sum(penalty[f.severity] for f in findings))
