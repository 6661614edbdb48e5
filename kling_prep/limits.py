"""The hosted API's documented rules as data: one named profile per provider.

A profile is a table, not code: resellers of the same model differ slightly (a minimum side of
300 px instead of 340, say), so a new provider is a new entry, or a `[limits]` table in
kling-prep.toml, never a new branch in the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

Orientation = Literal["video", "image"]
ORIENTATIONS: tuple[Orientation, ...] = ("video", "image")

MB = 1_000_000


@dataclass(frozen=True)
class ApiProfile:
    """The input rules and prices of one provider of the Kling Motion Control API."""

    name: str
    description: str
    base_url: str
    submit_path: str = "/api/v1/models/kling"
    job_path: str = "/api/v1/jobs/{job_id}"
    credits_per_job: int = 40
    # Character image.
    image_formats: tuple[str, ...] = ("jpeg", "png")
    image_max_bytes: int = 10 * MB
    image_min_side_px: int = 340
    # Width / height, inclusive: 1:2.5 to 2.5:1.
    image_min_aspect: float = 1 / 2.5
    image_max_aspect: float = 2.5
    # Reference video.
    video_containers: tuple[str, ...] = ("mp4", "mov")
    video_max_bytes: int = 100 * MB
    video_min_side_px: int = 340
    video_max_side_px: int = 3850
    video_min_duration_s: float = 3.0
    video_max_duration_s: dict[str, float] = field(
        default_factory=lambda: {"video": 30.0, "image": 10.0}
    )
    # Prompt.
    prompt_max_chars: int = 2500
    is_prompt_required: bool = True

    def max_duration_s(self, orientation: Orientation) -> float:
        """The longest reference video the API accepts for this orientation."""
        return self.video_max_duration_s[orientation]

    def with_overrides(self, overrides: dict[str, Any]) -> ApiProfile:
        """A copy with some fields replaced (from a `[limits]` table in kling-prep.toml).

        Raises:
            KeyError: a key that names no field of the profile.
        """
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise KeyError(", ".join(unknown))
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        # Names are checked above; values come from TOML as the user wrote them.
        return replace(self, **values)  # type: ignore[arg-type]


PROFILES: dict[str, ApiProfile] = {
    "vydra": ApiProfile(
        name="vydra",
        description=(
            "The hosted Kling Motion Control API (vydra.ai), as documented: 40 credits per job, "
            "video 3-30 s (3-10 s with orientation image)."
        ),
        base_url="https://vydra.ai",
    ),
    "lenient-300": ApiProfile(
        name="lenient-300",
        description="A reseller of the same model that accepts sides from 300 px.",
        base_url="https://vydra.ai",
        image_min_side_px=300,
        video_min_side_px=300,
    ),
}
DEFAULT_PROFILE = "vydra"


def get_profile(name: str = DEFAULT_PROFILE) -> ApiProfile:
    """The named profile.

    Raises:
        KeyError: no profile has that name.
    """
    return PROFILES[name]
