"""Checks of the prompt: present, within the limit, and (info) naming what the API's prompt
guide asks for: an action, the setting, the lighting and the movement style."""

from __future__ import annotations

import re

from kling_prep.checks.findings import Finding
from kling_prep.limits import ApiProfile

# Word stems for each part the guide names; matched at word starts, case-insensitive.
_PARTS: dict[str, tuple[str, ...]] = {
    "action": (
        "danc", "walk", "run", "jump", "wav", "turn", "spin", "gestur", "talk", "speak", "sing",
        "sway", "mov", "step", "clap", "point", "nod", "shrug", "kick", "punch", "pos", "stretch",
        "bow", "laugh", "smil", "perform", "stand", "sit", "lift", "raise", "swing", "march",
    ),
    "setting": (
        "studio", "room", "stage", "street", "park", "beach", "forest", "office", "city",
        "background", "outdoor", "indoor", "hall", "garden", "courtyard", "kitchen", "field",
        "wall", "scene", "landscape", "club", "gym", "in front of",
    ),
    "lighting": (
        "light", "lit", "sun", "shadow", "glow", "bright", "dim", "neon", "golden hour",
        "daylight", "backlight", "soft", "spotlight", "ambient",
    ),
    "movement style": (
        "slow", "fast", "smooth", "energetic", "graceful", "gentle", "quick", "fluid", "rhythm",
        "dynamic", "calm", "lively", "steady", "elegant", "powerful", "subtle", "playful",
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
