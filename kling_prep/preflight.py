"""The pre-flight check: the one code path that `check`, `prepare`, `submit` and `batch` call.

result = kling_prep.check(
    kling_prep.CheckRequest(image="character.jpg", video="dance.mp4", prompt="...")
)
result.verdict  # "ready", "warnings" or "blocked"
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypedDict, Unpack

from kling_prep.checks.findings import SEVERITY_ORDER, Finding, worst_severity
from kling_prep.checks.image import ImageReport, check_image
from kling_prep.checks.motionmap import MotionMap
from kling_prep.checks.pair import check_pair, pair_motion
from kling_prep.checks.prompt import check_prompt, suggest_prompt
from kling_prep.checks.video import VideoReport, check_video
from kling_prep.errors import KlingPrepError
from kling_prep.limits import Orientation, fetch_cap_bytes
from kling_prep.media.fetch import is_url, localise_input
from kling_prep.plan.orientation import OrientationSuggestion, suggest_orientation
from kling_prep.plan.window import NoWindow, Window, choose_window
from kling_prep.settings import Settings
from kling_prep.version import __version__
from kling_prep.vision.kit import VisionKit
from kling_prep.vision.video import VideoDecoding

SCHEMA_VERSION = "2.0"
EXIT_CODES = {"ready": 0, "warnings": 1, "blocked": 2}
ProgressSink = Callable[[str, float], None]


@dataclass(frozen=True)
class CheckResult:
    """Everything one check found; the CLI renders it, the JSON mirrors it."""

    image: ImageReport | None
    video: VideoReport | None
    requested_orientation: Orientation | None
    orientation: OrientationSuggestion
    window: Window | NoWindow | None
    pair_findings: list[Finding]
    prompt: str | None
    prompt_findings: list[Finding]
    suggested_prompt: str
    keep_sound: bool
    credits: int | None  # None: the profile's provider documents no price
    profile: str
    tool_version: str = __version__
    schema_version: str = SCHEMA_VERSION
    sources: dict[str, str] = field(default_factory=dict)  # input -> the URL it came from
    # The video's poses placed on the image, for the HTML report and `kling-prep preview`;
    # never in the JSON (the pair's findings carry its measures).
    motion_map: MotionMap | None = field(default=None, repr=False, compare=False)

    @property
    def findings(self) -> list[Finding]:
        """Every finding, worst first."""
        every = [
            *(self.image.findings if self.image else []),
            *(self.video.findings if self.video else []),
            *self.pair_findings,
            *self.prompt_findings,
        ]
        return sorted(every, key=lambda f: SEVERITY_ORDER[f.severity])

    @property
    def verdict(self) -> str:
        worst = worst_severity([f for f in self.findings if f.severity != "info"])
        return {None: "ready", "warn": "warnings", "block": "blocked"}[worst]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


def _localise(
    value: str | Path | None, workdir: Path, max_bytes: int, settings: Settings, role: str
) -> tuple[Path | None, str | None]:
    """The input as a local path, and the URL it came from (None for a local file)."""
    if value is None:
        return None, None
    path = localise_input(
        value, workdir, max_bytes=max_bytes, timeout_s=settings.fetch_timeout_s, role=role,
        policy=settings.fetch_policy(),
    )  # fmt: skip
    return path, str(value) if is_url(str(value)) else None


@dataclass(frozen=True)
class CheckRequest:
    """What to check and what will be sent with it: the request `check` answers.

    Args:
        image: the character image, a path or an http(s) URL.
        video: the reference video, a path or an http(s) URL.
        orientation: the `character_orientation` to be used; None to take the suggestion.
        prompt: the prompt to be sent; None when not yet written (then `prompt.missing`).
        keep_sound: whether `keep_original_sound` will be asked.
        is_submission: a submission follows this check (`submit`, `gate`, `batch --submit`):
            then a missing prompt blocks, since the API refuses a job without one; otherwise
            it warns.
    """

    image: str | Path | None = None
    video: str | Path | None = None
    orientation: Orientation | None = None
    prompt: str | None = None
    keep_sound: bool = True
    is_submission: bool = False


class CheckFields(TypedDict, total=False):
    """CheckRequest's fields as keywords: `check(image=..., video=...)`."""

    image: str | Path | None
    video: str | Path | None
    orientation: Orientation | None
    prompt: str | None
    keep_sound: bool
    is_submission: bool


def check(
    request: CheckRequest | None = None,
    *,
    settings: Settings | None = None,
    on_progress: ProgressSink | None = None,
    kit: VisionKit | None = None,
    **fields: Unpack[CheckFields],
) -> CheckResult:
    """Check a character image and/or a reference video before they cost credits.

    `check(image="a.jpg", video="b.mp4", prompt="...")` is short for
    `check(CheckRequest(image="a.jpg", video="b.mp4", prompt="..."))`.

    Args:
        request: the inputs and what will be sent with them (see CheckRequest); or leave it
            out and give its fields as keywords.
        settings: profile, thresholds and options (defaults when None); `allow_no_face`
            accepts a character without a visible face (warns instead of blocking).
        on_progress: called with (stage, share 0..1) while working.
        kit: models to reuse across calls (a batch worker's); built and closed here when None.

    Returns:
        The CheckResult; nothing printed, nothing exited.

    Raises:
        KlingPrepError: an input could not be read or fetched (a problem *in* an input is a
            Finding, not an exception).
    """
    settings = settings or Settings()
    if request is None:
        request = CheckRequest(**fields)
    elif fields:
        raise TypeError(f"check: give a CheckRequest or its fields ({', '.join(fields)}), not both")
    if request.image is None and request.video is None:
        raise KlingPrepError("give an image, a video or both")
    image_report, video_report, sources = _check_inputs(request, settings, on_progress, kit)
    return _judge_together(image_report, video_report, sources, request, settings)


def _check_inputs(
    request: CheckRequest,
    settings: Settings,
    on_progress: ProgressSink | None,
    kit: VisionKit | None,
) -> tuple[ImageReport | None, VideoReport | None, dict[str, str]]:
    """Each input fetched if it is a URL, then checked on its own (the video's decode started
    first, in a thread: it runs while the models load and the image is checked); the reports
    name a URL input by its URL, and the sources map each input to its URL."""
    image, video = request.image, request.video
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kling-prep-")))
        if kit is None:
            kit = stack.enter_context(_own_kit(settings))
        if image is not None:
            kit.start_image_models()  # read in a thread while the inputs are fetched and probed
        image_path, image_url = _localise(
            image, workdir, fetch_cap_bytes(settings.profile.image_max_bytes, 4), settings, "image"
        )
        video_path, video_url = _localise(
            video, workdir, fetch_cap_bytes(settings.profile.video_max_bytes, 2), settings, "video"
        )
        decoding = None
        if video_path is not None:
            on_share = (lambda share: on_progress("decoding", share)) if on_progress else None
            decoding = stack.enter_context(VideoDecoding(video_path, kit, on_share=on_share))
        image_report = None
        if image_path is not None:
            if on_progress:
                on_progress("image", 0.0)
            image_report = check_image(
                image_path, settings=settings, kit=kit, display_name=image_path.name
            )
            if on_progress:
                on_progress("image", 1.0)
        # The video's duration limit follows the requested orientation, else 30 s.
        video_report = None
        if video_path is not None:
            video_report = check_video(
                video_path, settings=settings, kit=kit,
                orientation=request.orientation or "video", keep_sound=request.keep_sound,
                on_progress=(lambda share: on_progress("video", share)) if on_progress else None,
                decoding=decoding,
            )  # fmt: skip
    # The reports name a URL input by its URL: the temporary download is gone by now.
    if image_report is not None and image_url is not None:
        image_report = replace(image_report, path=image_url)
    if video_report is not None and video_url is not None:
        video_report = replace(video_report, path=video_url)
    sources = {k: v for k, v in (("image", image_url), ("video", video_url)) if v}
    return image_report, video_report, sources


def _own_kit(settings: Settings) -> VisionKit:
    t = settings.thresholds
    return VisionKit(
        frontal_max_deg=t.frontal_max_yaw_deg,
        three_quarter_max_deg=t.three_quarter_max_yaw_deg,
        away_min_deg=t.face_away_min_yaw_deg,
        min_face_skin_share=t.face_min_skin_share,
    )


def _judge_together(
    image_report: ImageReport | None,
    video_report: VideoReport | None,
    sources: dict[str, str],
    request: CheckRequest,
    settings: Settings,
) -> CheckResult:
    """The plan (the window and the orientation), the pair and the prompt."""
    t = settings.thresholds
    orientation, prompt = request.orientation, request.prompt
    window: Window | NoWindow | None = None
    if video_report is not None:
        longest = settings.profile.max_duration_s(orientation or "video")
        window = choose_window(
            video_report, max_s=longest, min_s=settings.profile.video_min_duration_s
        )
    suggestion = suggest_orientation(
        image_report, video_report, settings.profile,
        window_s=None if video_report is None else video_report.duration_s,
    )  # fmt: skip
    motion = pair_motion(image_report, video_report, t) if image_report and video_report else None
    pair = (
        check_pair(image_report, video_report, t, motion) if image_report and video_report else []
    )
    proposed = suggest_prompt(image_report, video_report, t)
    return CheckResult(
        image=image_report,
        video=video_report,
        requested_orientation=orientation,
        orientation=suggestion,
        window=window,
        pair_findings=pair,
        prompt=prompt,
        # The prompt matters for a submission: both inputs, or a prompt given to lint.
        prompt_findings=(
            check_prompt(prompt, settings.profile, proposed, is_submission=request.is_submission)
            if prompt is not None or (image_report and video_report)
            else []
        ),
        suggested_prompt=proposed,
        keep_sound=request.keep_sound,
        credits=settings.profile.credits_per_job,
        profile=settings.profile.name,
        sources=sources,
        motion_map=motion,
    )
