"""Checks of the pair: does the video's body framing match the character image's?

Besides the two framings and sizes compared as wholes, the video's poses are placed on the image
(`checks/motionmap.py`): how much of that body falls outside the image's frame, and which limbs
the video moves that the image does not show, each with what the user can do about it.
"""

from __future__ import annotations

from kling_prep.checks.findings import Finding
from kling_prep.checks.image import ImageReport
from kling_prep.checks.motionmap import MotionMap, map_motion
from kling_prep.checks.thresholds import Thresholds
from kling_prep.checks.video import VideoReport

_FRAMINGS = ("full_body", "upper_body", "head_and_shoulders")


def pair_motion(image: ImageReport, video: VideoReport, t: Thresholds) -> MotionMap | None:
    """The video's read poses mapped onto the image (None without both reports' poses: a
    report rebuilt without its artefacts, no pose in the image, or no anchor seen in both)."""
    if image.artefacts is None or video.artefacts is None:
        return None
    return map_motion(
        image.artefacts.pose, video.artefacts.poses,
        min_visibility=t.landmark_min_visibility, limb_moves_range=t.limb_moves_range,
    )  # fmt: skip


def _names(limbs: tuple[str, ...]) -> str:
    return ", ".join(limb.replace("_", " ") for limb in limbs)


def limb_advice(motion: MotionMap) -> str:
    """What to do about limbs the video moves and the image lacks ("" when none)."""
    if not any(limb.endswith("_leg") for limb in motion.lacked_moved_limbs):
        return "use an image that shows the character's arms" if motion.lacked_moved_limbs else ""
    span = motion.upper_body_span
    window = (
        f"pick a window where the dancer stays in the upper body (no legs seen "
        f"{span[0]:.1f}-{span[1]:.1f} s), or "
        if span is not None
        else ""
    )
    return window + "use a full-body image of the character, or a video framed on the upper body"


def room_advice(motion: MotionMap) -> str:
    """What to do about the mapped body leaving the frame, by the edges it crosses: sideways or
    up, the body needs room (or the image's orientation); down, past legs the image lacks,
    that is the limbs' advice, and past a body the image cuts off, the image needs more of it."""
    legs_lacked = any(limb.endswith("_leg") for limb in motion.lacked_moved_limbs)
    parts = []
    if "bottom" in motion.sides:
        parts.append(
            limb_advice(motion)
            if legs_lacked
            else "use an image that shows more of the character below, or a video framed "
            "closer on the body"
        )
    if {"left", "right", "top"} & set(motion.sides):
        parts.append(
            "choose orientation image, or give the character room in the image (nearer the "
            "centre, a wider frame)"
        )
    return "; ".join(parts)


def motion_findings(motion: MotionMap | None, t: Thresholds) -> list[Finding]:
    """`pair.framing_mismatch` from the mapped body: outside the frame, limbs to invent."""
    if motion is None:
        return []
    out: list[Finding] = []
    how = {"torso": "torsos", "shoulders": "shoulders", "head": "heads"}[motion.mapping.anchor]
    if motion.outside_pct >= t.framing_outside_warn_pct:
        worst, advice = "", room_advice(motion)
        if motion.worst is not None:
            worst = f", {motion.worst[1]:.0f}% at {motion.worst[0]:.1f} s"
        out.append(Finding(
            "pair.framing_mismatch", "warn",
            f"the video's body, placed on the image by the two {how} at "
            f"{motion.mapping.anchor_time_s:.1f} s, reaches past the image's "
            f"{'/'.join(motion.sides) or 'edge'}: {motion.outside_pct:.0f}% of its skeleton "
            f"outside the frame over the clip{worst} (warn from "
            f"{t.framing_outside_warn_pct:.0f}%)" + (f"; {advice}" if advice else ""),
            round(motion.outside_pct, 1), t.framing_outside_warn_pct,
            "% of the mapped skeleton",
        ))  # fmt: skip
    if motion.lacked_moved_limbs:
        out.append(Finding(
            "pair.framing_mismatch", "warn",
            f"the video moves the {_names(motion.lacked_moved_limbs)}, which the image does not "
            f"show: the model invents them; {limb_advice(motion)}",
            ",".join(motion.lacked_moved_limbs), "none", "limbs",
        ))  # fmt: skip
    return out


def check_pair(
    image: ImageReport, video: VideoReport, t: Thresholds, motion: MotionMap | None = None
) -> list[Finding]:
    """Warn when the model would have to invent limbs or crop: the image shows a half body
    and the video a full body (or the reverse), the person is much smaller in one, the video's
    body placed on the image leaves its frame, or the video moves limbs the image lacks.

    Args:
        motion: the video's poses on the image (`pair_motion`); None: those measures skipped.
    """
    out: list[Finding] = []
    # Full body against anything less means legs to invent or to drop; upper body against head
    # and shoulders is left to the size comparison below.
    known = image.framing in _FRAMINGS and video.framing in _FRAMINGS
    if known and (image.framing == "full_body") != (video.framing == "full_body"):
        # A full-body image driven by a half body: the legs have nothing to follow.
        crop = "; crop the image to the upper body" if image.framing == "full_body" else ""
        out.append(Finding(
            "pair.framing_mismatch", "warn",
            f"the image shows the {image.framing.replace('_', ' ')} but the video mostly the "
            f"{video.framing.replace('_', ' ')}: the model has to invent or crop body parts"
            f"{crop}",
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
    return out + motion_findings(motion, t)
