"""Checks of the prompt: present, within the limit, and (info) naming what the API's prompt
guide asks for: an action, the setting, the lighting and the movement style; and the prompt
suggested from what the analysis measured."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kling_prep.checks.findings import Finding
from kling_prep.checks.thresholds import Thresholds
from kling_prep.limits import ApiProfile

if TYPE_CHECKING:  # the reports' modules load OpenCV; a prompt's lint needs none of it
    from kling_prep.checks.image import ImageReport
    from kling_prep.checks.video import VideoReport, VideoSample

# Verbs of motion that also say how the body moves (a sway is slow and rocking, a stride long
# and even): a prompt that uses one names its movement style as well as its action.
_MANNER_VERBS = (
    "sway", "twirl", "glid", "bounc", "strut", "strid", "stroll", "saunter", "shuffl", "sashay",
    "shimmy", "wiggl", "wobbl", "swagger", "tiptoe", "stomp", "pranc", "skip", "hop", "leap",
    "sprint", "jog", "rock", "bob", "groov", "flail", "float", "drift", "lung", "pirouett",
    "stagger", "trudg", "limp", "march", "spin", "whirl", "undulat", "ripple",
)  # fmt: skip

# Word stems for each part the guide names; matched at word starts, case-insensitive.
_PARTS: dict[str, tuple[str, ...]] = {
    "action": (
        "danc", "walk", "run", "jump", "wav", "turn", "gestur", "talk", "speak", "sing", "mov",
        "step", "clap", "point", "nod", "shrug", "kick", "punch", "pos", "stretch", "bow",
        "laugh", "smil", "perform", "stand", "sit", "lift", "raise", "swing", "reach", "lean",
        "crouch", "squat", "kneel", "climb", "crawl", "roll", "throw", "catch", "fight",
        "swim", "skat", "flex", "shak", "tilt", "look", "wander", "approach",
        "cross", "salut", "hug", "balanc", "twist", "bend", *_MANNER_VERBS,
    ),
    "setting": (
        "studio", "room", "stage", "street", "park", "beach", "forest", "office", "city",
        "background", "outdoor", "indoor", "hall", "garden", "courtyard", "kitchen", "field",
        "wall", "scene", "landscape", "club", "gym", "in front of", "setting", "backdrop",
        "market", "desk", "road", "town", "village", "square", "alley", "bedroom", "living room",
        "sky", "snow", "desert", "mountain", "lake", "river", "shop", "cafe",
    ),
    "lighting": (
        "light", "lit", "sun", "shadow", "glow", "bright", "dim", "neon", "golden hour",
        "daylight", "backlight", "soft", "spotlight", "ambient", "dark", "moody", "candle",
        "lamp", "overcast", "dusk", "dawn", "night",
    ),
    "movement style": (
        "slow", "fast", "smooth", "energetic", "graceful", "gentl", "quick", "fluid", "rhythm",
        "dynamic", "calm", "lively", "stead", "elegant", "powerful", "subtl", "playful",
        "relax", "loose", "brisk", "vigor", "leisure", "deliberate", "casual",
        "expressive", "animated", "confident", "lazy", "sharp", "crisp", "flowing", "bouncy",
        "languid", "measured", "controlled", "swift", "light-footed", "in slow motion",
        "upbeat", "tempo", "beat", *_MANNER_VERBS,
    ),
}  # fmt: skip


def missing_parts(prompt: str) -> list[str]:
    """The guide's parts the prompt does not name."""
    text = prompt.lower()
    return [
        part
        for part, stems in _PARTS.items()
        if not any(re.search(r"\b" + re.escape(stem), text) for stem in stems)
    ]


# A body that grows by half its height in the picture came a third of the way to the camera
# (apparent size is inverse to distance): it walked, where a dancer stepping in place does not.
_APPROACH_RATIO = 1.5


# How much of the body a framing shows, widest first (`framing_of`).
_FRAMING_RANK = {"full_body": 3, "upper_body": 2, "head_and_shoulders": 1}


def _action(video: VideoReport, t: Thresholds) -> str:
    """What the person does, from how the main person's place in the picture changes over the
    clip and how much the limbs move.

    1. Travel, on the samples whose pose was read (their boxes are the landmarks' own):
       a. the box grows or shrinks by `_APPROACH_RATIO` from the clip's first third to its
          last, or, with a camera that does not move (no camera-motion warning), the widest
          framing of the last third shows less of the body than that of the first (a body cut
          by the frame from the feet up came closer) and the box grew (the reverse: away): walking toward
          or away from the camera;
       b. the box's centre moves sideways by more than the body's own height (a dancer's sway
          moves it by a fraction): walking across the frame.
    2. Otherwise the range of motion: under the low-motion threshold the person holds still;
       with the legs in view the whole body moves (dancing), without them the arms (gesturing).
    """
    read = [s for s in video.samples if s.pose_read and s.people >= 1 and s.main_box is not None]
    if len(read) >= 3:
        third = max(1, len(read) // 3)
        early, late = read[:third], read[-third:]

        def median_height(part: list[VideoSample]) -> float:
            return sorted(s.main_box[3] for s in part if s.main_box)[len(part) // 2]

        def widest(part: list[VideoSample]) -> int:
            return max(_FRAMING_RANK.get(s.framing, 0) for s in part)

        is_camera_moving = any(f.code == "video.camera_motion" for f in video.findings)
        grown = median_height(late) / max(1.0, median_height(early))
        widest_early, widest_late = widest(early), widest(late)
        # The framing alone flickers where a landmark sits on the frame's edge (hips seen in
        # one read, not the next): the box must not say the opposite.
        if grown >= _APPROACH_RATIO or (
            not is_camera_moving and widest_late and widest_early > widest_late and grown > 1
        ):
            return "walks toward the camera"
        if grown <= 1 / _APPROACH_RATIO or (
            not is_camera_moving and widest_early and widest_late > widest_early and grown < 1
        ):
            return "walks away from the camera"
        centres = [s.main_box[0] + s.main_box[2] / 2 for s in read if s.main_box]
        heights = sorted(s.main_box[3] for s in read if s.main_box)
        if max(centres) - min(centres) > heights[len(heights) // 2]:
            return "walks across the frame"
    rom = video.motion.range_of_motion
    if rom is not None and rom < t.low_motion_range:
        return "stands almost still"
    if video.framing == "full_body":
        return "dances"
    return "talks and gestures with the hands"


def _camera(video: VideoReport, t: Thresholds) -> str | None:
    """Moving where the check warned of camera motion, still where the background was tracked
    well enough to tell (`camera_min_tracked_share`) and did not move; unsaid otherwise."""
    if any(f.code == "video.camera_motion" for f in video.findings):
        return "moving camera"
    tracked = video.camera.tracked_fraction if video.camera is not None else 0.0
    return "static camera" if tracked >= t.camera_min_tracked_share else None


def suggest_prompt(
    image: ImageReport | None, video: VideoReport | None, thresholds: Thresholds | None = None
) -> str:
    """A prompt in the API guide's shape (action, framing, setting, lighting, movement style,
    camera), built from what the analysis measured; the setting is the character image's own,
    which the analysis does not name."""
    t = thresholds or Thresholds()
    action, style, camera = "moves", "smooth, natural movement", None
    if video is not None:
        action, camera = _action(video, t), _camera(video, t)
        speed = video.motion.median_speed
        # Limb speeds in torso lengths a second: a torso and a half a second is a dance's
        # swing, half a torso an easy gesture.
        if speed is not None and speed >= 1.5:
            style = "fast, energetic movement"
        elif speed is not None and speed >= 0.5:
            style = "lively, fluid movement"
        elif speed is not None:
            style = "slow, steady movement"
    framing = video.framing if video is not None and video.framing != "unknown" else None
    framing = framing or (image.framing if image is not None else None) or "upper_body"
    body = {
        "full_body": "full body in view",
        "head_and_shoulders": "head and shoulders in view",
    }.get(framing, "upper body in view")
    light = "soft, even lighting"
    if image is not None and image.lighting is not None and image.lighting.exposure_stops < -1.5:
        light = "dim, moody lighting"
    parts = [f"The character {action}", body, "in the setting of the character image", light, style]
    return ", ".join([*parts, *([camera] if camera else [])])


def check_prompt(
    prompt: str | None, profile: ApiProfile, suggestion: str, *, is_submission: bool = False
) -> list[Finding]:
    """The prompt's findings. A missing prompt blocks only where a submission is made (the API
    refuses a job without one); in a check or a prepare nothing is sent yet, so it warns."""
    if prompt is None or not prompt.strip():
        blocks = is_submission and profile.is_prompt_required
        return [Finding(
            "prompt.missing", "block" if blocks else "warn",
            f"no prompt given; the API {'requires' if profile.is_prompt_required else 'takes'} "
            f"one to submit (e.g. --prompt \"{suggestion}\")",
            0, 1, "characters",
        )]  # fmt: skip
    out = []
    most = profile.prompt_max_chars  # None: the provider documents no limit
    if most is not None and len(prompt) > most:
        out.append(Finding(
            "prompt.too_long", "block",
            f"the prompt has {len(prompt)} characters; the API takes at most "
            f"{most}{profile.provenance('prompt_max_chars')}",
            len(prompt), most, "characters",
        ))  # fmt: skip
    missing = missing_parts(prompt)
    if missing:
        out.append(Finding(
            "prompt.lint", "info",
            f"the prompt names no {', no '.join(missing)} (the API's guide asks for an action, "
            f"the setting, the lighting and the movement style); e.g. \"{suggestion}\"",
            ",".join(missing), "action, setting, lighting, movement style",
        ))  # fmt: skip
    return out
