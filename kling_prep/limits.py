"""The documented input rules of each provider of the Kling Motion Control model, as data.

A profile is a table, not code: the same model is sold through several APIs whose documented
rules differ slightly (a minimum side of 300 px instead of 340, say), so a provider is an entry
here, or a `[limits]` table in kling-prep.toml, never a branch in the checks. A limit a
provider does not document is `None`: not checked, never invented. Every value was read from
the provider's public documentation as quoted in issue 14; none was measured against a live
service.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from kling_prep.errors import ConfigError

Orientation = Literal["video", "image"]
ORIENTATIONS: tuple[Orientation, ...] = ("video", "image")

MB = 1_000_000
# A download whose provider documents no size limit still stops somewhere, so that a wrong URL
# cannot fill the disk: 1 GB is ten times the largest documented limit (100 MB, video).
UNDOCUMENTED_MAX_FETCH_BYTES = 1000 * MB
# The one wire contract kling_prep.client speaks (endpoints, JSON fields, keep_original_sound
# as a boolean). Other providers' APIs differ (Kling's own takes "yes"/"no"), so their profiles
# are for checking and preparing only.
VYDRA_WIRE_CONTRACT = "vydra"
# The API's default root: vydra's, the one API `submit` speaks. The one place it is written;
# the settings, the vydra profile and the client's default all take it from here.
DEFAULT_BASE_URL = "https://vydra.ai"
# What a profile's data records about where its values came from.
READ_ON = "as given in issue 14 (2026-12); not re-read here: no network"

# Each limit field, in the order the tables show them, with how a person reads it.
LIMIT_FIELDS: tuple[tuple[str, str], ...] = (
    ("image_formats", "image formats"),
    ("image_max_bytes", "image max bytes"),
    ("image_min_side_px", "image min side (px)"),
    ("image_max_side_px", "image max side (px)"),
    ("image_min_aspect", "image min aspect (w/h)"),
    ("image_max_aspect", "image max aspect (w/h)"),
    ("video_containers", "video containers"),
    ("video_max_bytes", "video max bytes"),
    ("video_min_side_px", "video min side (px)"),
    ("video_max_side_px", "video max side (px)"),
    ("video_min_duration_s", "video min duration (s)"),
    ("video_max_duration_s", "video max duration (s) by orientation"),
    ("prompt_max_chars", "prompt max characters"),
    ("is_prompt_required", "prompt required (documented)"),
    ("credits_per_job", "credits per job"),
    ("output_aspects", "output aspect ratios"),
    ("wire_contract", "wire contract (client can submit)"),
)


@dataclass(frozen=True)
class ApiProfile:
    """The documented input rules of one provider of the Kling Motion Control model.

    A field that is `None` is a limit the provider does not document: it is not checked, and
    prepare leaves that property as it is (or, for a file format, writes JPEG/PNG/MP4, which
    every provider takes).
    """

    name: str
    description: str
    # What documentation the values were read from, and when.
    source: str = ""
    read_on: str = READ_ON
    # The fields whose values the provider does not document, taken from the model's own API.
    assumed_fields: tuple[str, ...] = ()
    # Where an assumed value is not the model's own, why it was chosen (field -> words).
    assumed_notes: dict[str, str] = field(default_factory=dict)
    # The API kling_prep.client can submit to; None: for checking and preparing only.
    wire_contract: str | None = None
    base_url: str | None = None
    submit_path: str = "/api/v1/models/kling"
    job_path: str = "/api/v1/jobs/{job_id}"
    credits_per_job: int | None = None
    # Character image. Aspect is width / height, inclusive.
    image_formats: tuple[str, ...] | None = None
    image_max_bytes: int | None = None
    image_min_side_px: int | None = None
    image_max_side_px: int | None = None
    image_min_aspect: float | None = None
    image_max_aspect: float | None = None
    # Reference video.
    video_containers: tuple[str, ...] | None = None
    video_max_bytes: int | None = None
    video_min_side_px: int | None = None
    video_max_side_px: int | None = None
    # Every provider documents the durations (all agree: 3 s, then 30 s or 10 s).
    video_min_duration_s: float = 3.0
    video_max_duration_s: dict[str, float] = field(
        default_factory=lambda: {"video": 30.0, "image": 10.0}
    )
    # Prompt.
    prompt_max_chars: int | None = None
    is_prompt_required: bool = False
    # What the provider produces, for information only (no input is checked against it).
    output_aspects: tuple[str, ...] | None = None

    def max_duration_s(self, orientation: Orientation) -> float:
        """The longest reference video the API accepts for this orientation."""
        return self.video_max_duration_s[orientation]

    @property
    def can_submit(self) -> bool:
        """Whether kling_prep.client speaks this provider's API."""
        return self.wire_contract == VYDRA_WIRE_CONTRACT

    def is_assumed(self, field_name: str) -> bool:
        """Whether a limit is the model's own, not documented by this provider."""
        return field_name in self.assumed_fields

    def provenance(self, *field_names: str) -> str:
        """The suffix a finding's message carries when its limit is assumed, else ''."""
        for name in field_names:
            if name in self.assumed_notes and self.is_assumed(name):
                return f" ({self.assumed_notes[name]}; {self.name} documents none)"
        if any(self.is_assumed(n) for n in field_names):
            return f" (Kling's own limit; {self.name} documents none)"
        return ""

    def with_overrides(self, overrides: dict[str, Any]) -> ApiProfile:
        """A copy with some fields replaced (from a `[limits]` table in kling-prep.toml); a
        replaced field is no longer assumed: the user set it.

        Raises:
            KeyError: a key that names no field of the profile.
        """
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise KeyError(", ".join(unknown))
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        if values:
            values.setdefault(
                "assumed_fields", tuple(n for n in self.assumed_fields if n not in values)
            )
        # Names are checked above; values come from TOML as the user wrote them.
        return replace(self, **values)  # type: ignore[arg-type]


# The model's own limits as Kling's API documents them (v2.6 and v3, std and pro).
_KLING_IMAGE: dict[str, Any] = {
    "image_formats": ("jpeg", "png"),
    "image_max_bytes": 10 * MB,
    "image_min_side_px": 300,
    "image_max_side_px": 65536,
    "image_min_aspect": 1 / 2.5,
    "image_max_aspect": 2.5,
}
_KLING_VIDEO: dict[str, Any] = {
    "video_containers": ("mp4", "mov"),
    "video_max_bytes": 100 * MB,
    "video_min_side_px": 340,
    "video_max_side_px": 3850,
}

PROFILES: dict[str, ApiProfile] = {
    "vydra": ApiProfile(
        name="vydra",
        description=(
            "vydra.ai's Kling Motion Control API, the default and the only one `submit` speaks: "
            "URL inputs, video at most 30 s (10 s with orientation image), prompt required, "
            "keep_original_sound a boolean, 40 credits a job. vydra documents no file limits; "
            "the model's own (Kling API) are assumed, except a 340 px minimum image side "
            "(as ComfyUI and Runway; kling_prep's limit before profiles) and no maximum image "
            "side."
        ),
        source="vydra.ai API documentation of the Kling Motion Control model",
        assumed_fields=(
            "image_formats",
            "image_max_bytes",
            "image_min_side_px",
            "image_min_aspect",
            "image_max_aspect",
            "video_containers",
            "video_max_bytes",
            "video_min_side_px",
            "video_max_side_px",
            "video_min_duration_s",
            "prompt_max_chars",
        ),
        assumed_notes={
            # kling_prep's limit before profiles, kept so that vydra's results do not change;
            # the stricter of the model's documented minimums (Kling's own API takes 300).
            "image_min_side_px": "340 px as ComfyUI and Runway; Kling's own API takes 300",
        },
        wire_contract=VYDRA_WIRE_CONTRACT,
        base_url=DEFAULT_BASE_URL,
        credits_per_job=40,
        **{**_KLING_IMAGE, "image_min_side_px": 340, "image_max_side_px": None},
        **_KLING_VIDEO,
        prompt_max_chars=2500,
        is_prompt_required=True,
    ),
    "kling": ApiProfile(
        name="kling",
        description=(
            "Kling's own API (v2.6 and v3, std and pro), for checking and preparing: "
            'keep_original_sound is "yes"/"no" there and external_task_id must be unique '
            "per user, which kling_prep's client does not send. Price not documented here."
        ),
        source="Kling AI API documentation, Motion Control (v2.6, v3)",
        **_KLING_IMAGE,
        **_KLING_VIDEO,
        prompt_max_chars=2500,
    ),
    "comfyui": ApiProfile(
        name="comfyui",
        description=(
            "ComfyUI's Kling Motion Control node, for checking and preparing: it documents "
            "sides, aspect, durations and the prompt, no file formats or sizes."
        ),
        source="ComfyUI Kling node documentation (partner nodes)",
        image_min_side_px=340,
        image_min_aspect=1 / 2.5,
        image_max_aspect=2.5,
        video_min_side_px=340,
        video_max_side_px=3850,
        prompt_max_chars=2500,
    ),
    "runway": ApiProfile(
        name="runway",
        description=(
            "Runway's API for Kling 3.0 Motion Control, for checking and preparing. Its "
            "'sides over 340 and under 65536 / 3850 px' are read as the inclusive bounds the "
            "other providers give; no image aspect or prompt limit is documented; the output "
            "is 16:9, 9:16 or 1:1."
        ),
        source="Runway API documentation, Kling 3.0 Motion Control",
        image_formats=("jpeg", "png"),
        image_max_bytes=10 * MB,
        image_min_side_px=340,
        image_max_side_px=65536,
        **_KLING_VIDEO,
        output_aspects=("16:9", "9:16", "1:1"),
    ),
    "kie": ApiProfile(
        name="kie",
        description=(
            "kie.ai's Kling Motion Control API, for checking and preparing: images over 300 px "
            "(read as at least 300), aspect 2:5-5:2, no video sides documented. Its v2.6 also "
            "takes Matroska video; this profile keeps MP4/MOV, which every version takes."
        ),
        source="kie.ai API documentation, Kling Motion Control (2.6, 3.0)",
        image_formats=("jpeg", "png"),
        image_max_bytes=10 * MB,
        image_min_side_px=300,
        image_min_aspect=2 / 5,
        image_max_aspect=5 / 2,
        video_containers=("mp4", "mov"),
        video_max_bytes=100 * MB,
        prompt_max_chars=2500,
    ),
}
DEFAULT_PROFILE = "vydra"


def get_profile(name: str = DEFAULT_PROFILE) -> ApiProfile:
    """The named profile.

    Raises:
        ConfigError: no profile has that name (the message lists the known names and the
            nearest one).
    """
    if name not in PROFILES:
        near = difflib.get_close_matches(name, sorted(PROFILES), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ConfigError(f"profile {name!r} is unknown{hint}; known: {', '.join(PROFILES)}")
    return PROFILES[name]


def fetch_cap_bytes(max_bytes: int | None, factor: float) -> int:
    """The most a download of an input may weigh: `factor` times the documented limit (prepare
    shrinks what is over it), or UNDOCUMENTED_MAX_FETCH_BYTES where none is documented."""
    return UNDOCUMENTED_MAX_FETCH_BYTES if max_bytes is None else int(factor * max_bytes)


def require_submittable(profile: ApiProfile) -> None:
    """Refuse a profile whose API kling_prep.client does not speak.

    Raises:
        ConfigError: the profile is for checking and preparing only.
    """
    if not profile.can_submit:
        submittable = [p.name for p in PROFILES.values() if p.can_submit]
        raise ConfigError(
            f"profile {profile.name!r} is for checking and preparing only: kling_prep's client "
            f"speaks only {VYDRA_WIRE_CONTRACT}'s API (profile {', '.join(submittable)}), not "
            f"{profile.name}'s; nothing was checked or sent"
        )


def format_limit(profile: ApiProfile, field_name: str) -> str:
    """One limit as a person reads it: `-` where not documented, `*` where assumed."""
    value = getattr(profile, field_name)
    if value is None:
        return "-"
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, dict):
        text = ", ".join(f"{k} {v:g}" for k, v in value.items())
    elif isinstance(value, tuple):
        text = "/".join(value)
    elif field_name.endswith("_bytes"):
        text = f"{value / MB:g} MB"
    elif isinstance(value, float):
        text = f"{value:.2f}" if not field_name.endswith("_s") else f"{value:g}"
    else:
        text = str(value)
    return text + (" *" if profile.is_assumed(field_name) else "")


@dataclass(frozen=True)
class LimitRow:
    """One limit across profiles: its label, each profile's value, and whether they differ."""

    field_name: str
    label: str
    values: tuple[str, ...]
    differs: bool


def limit_rows(profiles: tuple[ApiProfile, ...] | None = None) -> list[LimitRow]:
    """Every limit of every profile side by side (the docs' table and `kling-prep profiles`).

    A row differs when the providers' values differ; an assumed value equal to another
    provider's documented one does not make a difference.
    """
    chosen = tuple(PROFILES.values()) if profiles is None else profiles
    rows = []
    for field_name, label in LIMIT_FIELDS:
        values = tuple(format_limit(p, field_name) for p in chosen)
        plain = {v.removesuffix(" *") for v in values}
        rows.append(LimitRow(field_name, label, values, len(plain) > 1))
    return rows


def table_legend() -> str:
    """What `-` and `*` mean in the limits table, with each assumed value that is not the
    model's own."""
    notes = [
        f"{p.name}'s {name}: {note}"
        for p in PROFILES.values()
        for name, note in p.assumed_notes.items()
    ]
    return (
        "`-`: the provider documents no such limit; kling_prep does not check it. "
        "`*`: the provider documents none; the model's own limit (Kling API) is assumed"
        + (f" (except {'; '.join(notes)})" if notes else "")
        + "."
    )
