"""Every threshold of the checks in one table, with its unit and why it has its value.

Values come from what a measure means (degrees of yaw, stops of exposure, people counted, shares
of the frame), never from fitting sample files. Override any of them in kling-prep.toml under
`[thresholds]`; the docs' table is generated from this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any


def _t(default: float, unit: str, why: str) -> Any:
    return field(default=default, metadata={"unit": unit, "why": why})


@dataclass(frozen=True)
class Thresholds:
    """The numbers the checks compare measurements with."""

    # People.
    other_person_block_ratio: float = _t(
        0.5, "x main body size",
        "A second person at least half the main person's size competes for the model's "
        "attention (the API follows the largest person): blocks.",
    )  # fmt: skip
    other_person_warn_ratio: float = _t(
        0.25, "x main body size",
        "A smaller background person is reported as a warning down to a quarter of the size.",
    )  # fmt: skip
    multi_person_min_samples: float = _t(
        2, "samples",
        "A second person must be seen in this many sampled frames to block a video (one sample "
        "warns); a background person must be seen as often to warn.",
    )  # fmt: skip
    no_person_block_share: float = _t(
        0.2, "share of samples", "Nobody in a fifth of the video blocks; less warns."
    )
    # Face view (yaw boundaries halfway between the named views 0, 45 and 90 degrees).
    frontal_max_yaw_deg: float = _t(22.5, "deg", "Halfway between frontal (0) and 3/4 (45).")
    three_quarter_max_yaw_deg: float = _t(67.5, "deg", "Halfway between 3/4 (45) and profile (90).")
    face_away_min_yaw_deg: float = _t(
        110, "deg",
        "Past profile (90) by the head's own curve: the nose tip and near eye are behind the "
        "cheek's outline, the camera sees an ear and the back of the head: no face (blocks).",
    )  # fmt: skip
    face_min_skin_share: float = _t(
        0.25, "share of face area",
        "A profile read from the pose alone shows skin on about half its face landmarks (near "
        "cheek, nose, lips); under a quarter, hair or a cover hides the face: no face.",
    )  # fmt: skip
    max_pitch_deg: float = _t(30, "deg", "A head tilted more than this up or down hides the face.")
    video_face_hidden_warn_share: float = _t(
        0.5, "share of samples", "The face unseen in over half the video: the model guesses it."
    )
    # Lighting of the character image (stops relative to 18% middle grey, linear light).
    underexposed_warn_stops: float = _t(-1.5, "stops", "A stop and a half under: visibly dark.")
    underexposed_block_stops: float = _t(
        -3.0, "stops", "An eighth of the light: face detail is lost in 8-bit images."
    )
    overexposed_warn_stops: float = _t(
        1.5, "stops",
        "The face (else the person) half a stop over light skin's correct level (+1 stop) AND "
        "its darkest twentieth lifted past the washed-out floor: washed out (warn).",
    )  # fmt: skip
    face_dark_highlight_stops: float = _t(
        0.0, "stops",
        "The face's brightest 1% (sheen on forehead and nose, whites of the eyes) under middle "
        "grey: it reaches that on any skin in a correct exposure, so the face is dark (warn). "
        "A person without a face is judged by its own brightest 1% (skin, the sheen on cloth).",
    )  # fmt: skip
    face_dark_highlight_block_stops: float = _t(
        -2.0, "stops",
        "The face's brightest 1% at a quarter of middle grey: three stops under where it sits "
        "on any face exposed right (about +1), an eighth of the light: detail is lost (block).",
    )  # fmt: skip
    line_art_max_textured_share: float = _t(
        0.1, "share of pixels",
        "Under a tenth of the picture in the textured tones (zones II-VII), with ink (see "
        "line_art_min_ink_share): line art on paper, whose white is the paper, not overexposure "
        "(a photograph keeps most pixels there).",
    )  # fmt: skip
    line_art_min_ink_share: float = _t(
        0.005, "share of pixels",
        "A drawing has lines: at least a two-hundredth of the picture darker than the textured "
        "tones. A photograph blown to white has lost its dark tones too, so it is not taken for "
        "a drawing.",
    )  # fmt: skip
    washed_out_shadow_stops: float = _t(
        0.0, "stops",
        "The darkest twentieth of the face (pupils, lash lines, nostrils: a few % reflectance, "
        "2-3 stops under middle grey when correctly exposed) lighter than middle grey: every "
        "tone lifted by two stops or more, washed out (warn).",
    )  # fmt: skip
    clipped_warn_pct: float = _t(5, "% of person pixels", "Blown highlights lose texture.")
    clipped_block_pct: float = _t(25, "% of person pixels", "A quarter of the person blown out.")
    low_contrast_stops: float = _t(
        1.5, "stops", "The person's 5th-95th percentile range under 1.5 stops looks flat or hazy."
    )
    backlit_warn_stops: float = _t(
        1.5, "stops",
        "The background 1.5 stops brighter than the face (else the person) while that face or "
        "person is itself dark (the underexposure rules): a bright street beside a well-lit "
        "person is not backlight.",
    )  # fmt: skip
    backlit_block_stops: float = _t(
        3.0, "stops",
        "Eight times brighter than a dark face or person: a silhouette (block).",
    )  # fmt: skip
    color_cast_info: float = _t(
        18,
        "Lab chroma",
        "The image's mean colour this far from neutral is a visible tint (info):"
        " warm daylight and colourful clothes reach it too.",
    )
    color_cast_warn: float = _t(
        30, "Lab chroma", "A tint this strong changes how the animated character looks (warn)."
    )
    blur_warn_sigma_px: float = _t(
        3.0, "px Gaussian sigma at 512 px",
        "The face (or person) region, scaled to 512 px, as soft as a 3 px Gaussian blur: "
        "visibly out of focus.",
    )  # fmt: skip
    # Body in the image and the video.
    min_person_height_share: float = _t(
        0.2, "share of frame height", "A person under a fifth of the frame is too small to read."
    )
    landmark_min_visibility: float = _t(
        0.5, "0-1", "BlazePose visibility at which a landmark counts as seen."
    )
    leaves_frame_warn_share: float = _t(
        0.1, "share of samples", "The head or torso out of frame in a tenth of the video."
    )
    # Motion in the video (in torso lengths, ~50 cm in an adult: framing-independent).
    low_motion_range: float = _t(
        0.08, "torso lengths RMS",
        "Elbows, wrists, knees and ankles staying within ~4 cm (RMS) of their mean position: a "
        "near-still person. The pose's own jitter on a perfectly still clip is ~0.05-0.06.",
    )  # fmt: skip
    fast_motion_speed: float = _t(
        6.0, "torso lengths/s", "Wrist or ankle speed over ~3 m/s in most samples: too fast."
    )
    fast_motion_warn_share: float = _t(
        0.25, "share of intervals",
        "Hands or feet over fast_motion_speed in more than a quarter of the intervals between "
        "poses: fast action throughout, not one quick gesture (warn).",
    )  # fmt: skip
    camera_pan_warn_pct_per_s: float = _t(
        5, "% of frame/s",
        "The background crossing the frame in 20 s or less (median over the clip): a pan or tilt.",
    )  # fmt: skip
    camera_zoom_warn_pct_per_s: float = _t(
        3, "%/s", "The background scaling 3% a second (median): a zoom or dolly; about twice the "
        "estimator's floor on static real footage.",
    )  # fmt: skip
    camera_min_tracked_share: float = _t(
        0.5, "share of intervals",
        "Camera motion is judged only where the background was tracked in half the intervals.",
    )  # fmt: skip
    camera_shake_warn_pct: float = _t(
        0.8, "% of diagonal", "Jitter of the background beyond this is handheld shake."
    )
    # The pair.
    framing_size_ratio_warn: float = _t(
        2.5, "x", "The person 2.5 times larger (share of frame height) in one than the other."
    )
    framing_outside_warn_pct: float = _t(
        10, "% of the mapped skeleton's length",
        "The video's body, placed on the image by the two torsos (else heads), has a tenth of "
        "its skeleton outside the image's frame over the clip: about a lower leg, or both "
        "forearms, that the model has to crop or squeeze in (warn).",
    )  # fmt: skip
    limb_moves_range: float = _t(
        0.1, "torso lengths RMS",
        "A wrist or ankle whose position (relative to the shoulders) spreads 0.1 torso lengths "
        "(~5 cm) moves: past the pose's own jitter on a still clip (0.05-0.06). A limb the video "
        "moves and the image does not show is one the model invents (warn).",
    )  # fmt: skip

    def with_overrides(self, overrides: dict[str, Any]) -> Thresholds:
        """A copy with some values replaced.

        Raises:
            KeyError: a key that names no threshold.
        """
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise KeyError(", ".join(unknown))
        return replace(self, **{k: float(v) for k, v in overrides.items()})


def threshold_table() -> list[tuple[str, float, str, str]]:
    """(name, default, unit, why) for every threshold, for the docs."""
    defaults = Thresholds()
    return [
        (f.name, getattr(defaults, f.name), f.metadata["unit"], f.metadata["why"])
        for f in fields(Thresholds)
    ]
