"""Checks of the pair: does the video's body framing match the character image's?"""

from __future__ import annotations

from kling_prep.checks.findings import Finding
from kling_prep.checks.image import ImageReport
from kling_prep.checks.thresholds import Thresholds
from kling_prep.checks.video import VideoReport

_FRAMINGS = ("full_body", "upper_body", "head_and_shoulders")


def check_pair(image: ImageReport, video: VideoReport, t: Thresholds) -> list[Finding]:
    """Warn when the model would have to invent limbs or crop: the image shows a half body
    and the video a full body (or the reverse), or the person is much smaller in one."""
    out: list[Finding] = []
    # Full body against anything less means legs to invent or to drop; upper body against head
    # and shoulders is left to the size comparison below.
    known = image.framing in _FRAMINGS and video.framing in _FRAMINGS
    if known and (image.framing == "full_body") != (video.framing == "full_body"):
        out.append(Finding(
            "pair.framing_mismatch", "warn",
            f"the image shows the {image.framing.replace('_', ' ')} but the video mostly the "
            f"{video.framing.replace('_', ' ')}: the model has to invent or crop body parts",
            f"{image.framing}/{video.framing}", "same framing",
        ))  # fmt: skip
    a, b = image.person_height_share, video.person_height_share
    if a and b:
        ratio = max(a, b) / min(a, b)
        if ratio >= t.framing_size_ratio_warn:
            out.append(Finding(
                "pair.framing_mismatch", "warn",
                f"the person spans {a:.0%} of the image's height but {b:.0%} of the video's "
                f"({ratio:.1f}x; warn from {t.framing_size_ratio_warn:.1f}x)",
                round(ratio, 2), t.framing_size_ratio_warn, "x",
            ))  # fmt: skip
    return out
