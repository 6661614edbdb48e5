"""The `character_orientation` suggestion, with its reasons.

Rules, in order (docs/CHECKS.md is generated from this docstring):
1. A video (or chosen window) over 10 s forces `video`: `image` takes at most 10 s.
2. Arguments for `image`: the camera moves (the character keeps the image's framing rather
   than following a moving view); the character image has a distinctive pose (arms held clear of
   the body); the character's face is turned (three-quarter or profile) and should stay so.
3. Otherwise `video`: the character follows the person's orientation in the video, and up to
   30 s are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kling_prep.checks.image import ImageReport
from kling_prep.checks.video import VideoReport
from kling_prep.limits import ApiProfile, Orientation


@dataclass(frozen=True)
class OrientationSuggestion:
    value: Orientation
    reasons: list[str]
    is_forced: bool


def suggest_orientation(
    image: ImageReport | None,
    video: VideoReport | None,
    profile: ApiProfile,
    *,
    window_s: float | None = None,
) -> OrientationSuggestion:
    length = window_s if window_s is not None else (video.duration_s if video else None)
    limit = profile.max_duration_s("image")
    if length is not None and length > limit + 1e-3:
        return OrientationSuggestion(
            "video",
            [f"the video is {length:.1f} s; orientation image takes at most {limit:.0f} s"],
            True,
        )
    for_image = []
    if video is not None and any(f.code == "video.camera_motion" for f in video.findings):
        for_image.append("the camera moves in the video; image keeps the character's framing")
    if image is not None and image.has_arms_away_from_body:
        for_image.append("the character image has a distinctive pose (arms clear of the body)")
    if (
        image is not None
        and image.face is not None
        and image.face.view in ("three_quarter", "profile")
    ):
        for_image.append(f"the character's face is turned ({image.face.view.replace('_', '-')})")
    if for_image:
        return OrientationSuggestion("image", for_image, False)
    return OrientationSuggestion(
        "video",
        ["the character follows the person's orientation in the video (up to 30 s)"],
        False,
    )
