"""Prepare: turn the user's files into files the API accepts, checked by the one pre-flight
path (`kling_prep.preflight.check`) before and after.

result = kling_prep.prepare(PrepareOptions(image="me.heic", video="dance.mov", out_dir="ready/"))
result.video_path, result.path_taken, result.window, result.check.verdict
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from kling_prep.errors import KlingPrepError
from kling_prep.limits import Orientation, fetch_cap_bytes
from kling_prep.media.fetch import localise_input
from kling_prep.media.imagefix import ImageFix, fix_image
from kling_prep.media.outputs import write_atomically
from kling_prep.media.probe import probe_video
from kling_prep.media.transcode import (
    PathTaken,
    Step,
    TranscodeResult,
    VideoTarget,
    normalize_video,
)
from kling_prep.plan.window import NoWindow, Window, choose_window
from kling_prep.preflight import CheckRequest, CheckResult, check
from kling_prep.report.json_report import prepare_json
from kling_prep.settings import Settings

if TYPE_CHECKING:
    from kling_prep.vision.kit import VisionKit

log = logging.getLogger(__name__)

ProgressSink = Callable[[str, float], None]
REPORT_NAME = "report.json"
# Inputs may be larger than the API takes (that is what prepare fixes), within reason.
INPUT_SIZE_FACTOR = 10
EXIT_CODES = {"ready": 0, "warnings": 1, "fixed": 1, "blocked": 2, "refused": 2}


@dataclass(frozen=True)
class Refusal:
    """Why nothing was prepared: the file, what was measured and the rule."""

    file: str
    message: str
    measured: str | float | None
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "message": self.message,
            "measured": self.measured,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class PrepareResult:
    """What prepare wrote, what it did to each file, and the check of what it wrote."""

    out_dir: Path
    input_check: CheckResult | None  # the inputs' analysis (None when none was needed)
    check: CheckResult | None  # the check of the prepared files (None when refused)
    image_path: Path | None = None
    video_path: Path | None = None
    report_path: Path | None = None
    image_steps: list[Step] = field(default_factory=list)
    video_steps: list[Step] = field(default_factory=list)
    window: Window | None = None  # the kept span of the input, with its candidates
    window_source: Literal["chosen", "pinned"] | None = None
    path_taken: PathTaken | None = None
    transcode: TranscodeResult | None = None
    image_fix: ImageFix | None = None
    refusal: Refusal | None = None
    # With force: what an earlier prepare had written here and this one removed, and the
    # other files it found here and left alone.
    removed_paths: list[Path] = field(default_factory=list)
    kept_paths: list[Path] = field(default_factory=list)

    @property
    def is_refused(self) -> bool:
        return self.refusal is not None

    @property
    def is_changed(self) -> bool:
        """Whether any input was changed (not merely copied)."""
        kept = {"copy", "stream_copy"}
        video_kept = all(s.action in kept for s in self.video_steps)
        return not (video_kept and all(s.action in kept for s in self.image_steps))

    @property
    def verdict(self) -> str:
        """ "refused", else the prepared files' verdict, with "fixed" for a ready result that
        needed changes: "ready", "fixed", "warnings" or "blocked"."""
        if self.refusal is not None or self.check is None:
            return "refused"
        verdict = self.check.verdict
        return "fixed" if verdict == "ready" and self.is_changed else verdict

    @property
    def exit_code(self) -> int:
        """0 ready as given, 1 fixed or warnings, 2 blocked or refused."""
        return EXIT_CODES[self.verdict]


def _destination(out_dir: Path, source: Path, suffix: str) -> Path:
    dest = out_dir / f"{source.stem}{suffix}"
    # Never overwrite the input itself (out_dir may be the input's own folder).
    if dest.resolve() == source.resolve() or dest.with_suffix(".jpg").resolve() == source.resolve():
        dest = out_dir / f"{source.stem}-prepared{suffix}"
    return dest


@dataclass(frozen=True)
class _OutDir:
    """What --out-dir holds before this run: the files an earlier prepare wrote (its
    report.json and the files that report lists) and everything else."""

    earlier: list[Path]
    others: list[Path]


def _survey_out_dir(out: Path, force: bool) -> _OutDir:
    """Refuse a folder that holds anything unless `force`: report.json must describe every
    file beside it, or a user can submit an earlier run's video with this run's image.

    Raises:
        KlingPrepError: `out` is a file, or holds files and `force` is off.
    """
    if not out.exists():
        return _OutDir([], [])
    if not out.is_dir():
        raise KlingPrepError(f"--out-dir {out}: a file, not a folder")
    entries = sorted(out.iterdir())
    if entries and not force:
        names = ", ".join(p.name for p in entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise KlingPrepError(
            f"--out-dir {out} is not empty ({len(entries)} entries: {names}); prepare writes "
            "into an empty folder so that its report.json describes every file there. Give "
            "--force to replace what an earlier prepare wrote (other files are left alone), "
            "or another --out-dir"
        )
    earlier = sorted(_earlier_outputs(out))
    return _OutDir(earlier, [p for p in entries if p not in earlier])


def _earlier_outputs(out: Path) -> list[Path]:
    """The files an earlier prepare wrote into `out`: its report.json, when it is one (it has
    a `prepare` section), and the video and image that report lists, by name in `out`."""
    report = out / REPORT_NAME
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    section = data.get("prepare") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return []
    found = [report]
    for key in ("video", "image"):
        entry = section.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            # The report holds the path as given then (relative to that run's folder, or
            # absolute); the file itself was written straight into `out`.
            path = out / Path(entry["path"]).name
            if path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def _refuse_overwrite(survey: _OutDir, planned: list[Path]) -> None:
    """Never replace a file kling-prep did not write, even with force."""
    for path in planned:
        if path in survey.others:
            raise KlingPrepError(
                f"{path}: prepare would write over this file, which no earlier prepare wrote "
                "(it is not in that folder's report.json); move it or choose another --out-dir"
            )


def _pinned_window(
    video_path: Path, start_s: float | None, end_s: float | None, longest_s: float, min_s: float
) -> Window:
    duration_s = probe_video(video_path).duration_s
    start = 0.0 if start_s is None else start_s
    end = min(duration_s, start + longest_s) if end_s is None else min(end_s, duration_s)
    if start < 0 or start >= duration_s:
        raise KlingPrepError(
            f"{video_path.name}: --start {start:.2f} s is outside the video (0-{duration_s:.2f} s)"
        )
    if end - start < min_s - 1e-3 or end - start > longest_s + 1e-3:
        raise KlingPrepError(
            f"{video_path.name}: the pinned window {start:.2f}-{end:.2f} s lasts "
            f"{end - start:.2f} s; it must last {min_s:.0f}-{longest_s:.0f} s"
        )
    return Window(start, end, 0.0, "pinned with --start/--end", [(start, end, 0.0)])


@dataclass(frozen=True)
class PrepareOptions:
    """What to prepare, where and how: the request `prepare` carries out (the settings apart).

    Args:
        image: the character image (path or http(s) URL), or None.
        video: the reference video (path or http(s) URL), or None.
        out_dir: the folder for the prepared video (.mp4), image (.jpg/.png) and report.json.
        orientation: the `character_orientation` to be sent; it sets the longest window
            (30 s for video, 10 s for image). None: as for video.
        max_seconds: a shorter longest window than the orientation allows.
        start_s, end_s: pin the window instead of choosing it (either may be left out).
        max_height: the output's shorter side at most this many pixels (downscaled above).
        prompt, keep_sound: as for `check`; without keep_sound the audio is left out.
        crop_to_person: crop the image around the person instead of padding its aspect.
        auto_exposure: correct the image's exposure towards middle grey (said in the steps).
        allow_stream_copy: False re-encodes even a compliant video.
        force: write into an `out_dir` that is not empty: the files an earlier prepare wrote
            there (its report.json and the files it lists) are removed first; other files
            are left alone and never written over.
    """

    image: str | Path | None = None
    video: str | Path | None = None
    out_dir: str | Path = "prepared"
    orientation: Orientation | None = None
    max_seconds: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    max_height: int = 1080
    prompt: str | None = None
    keep_sound: bool = True
    crop_to_person: bool = False
    auto_exposure: bool = False
    allow_stream_copy: bool = True
    force: bool = False

    @property
    def is_pinned(self) -> bool:
        """Whether the window is pinned (--start/--end) rather than chosen."""
        return self.start_s is not None or self.end_s is not None


@dataclass(frozen=True)
class _Inputs:
    """The inputs as local files (URLs downloaded into the call's temporary folder)."""

    image: Path | None
    video: Path | None


@dataclass(frozen=True)
class _Plan:
    """What prepare decided before writing anything."""

    request: PrepareOptions
    settings: Settings
    out: Path
    survey: _OutDir
    inputs: _Inputs
    longest_s: float
    input_check: CheckResult | None
    window: Window | None


class PrepareFields(TypedDict, total=False):
    """PrepareOptions' fields as keywords: `prepare(image=..., video=..., out_dir=...)`."""

    image: str | Path | None
    video: str | Path | None
    out_dir: str | Path
    orientation: Orientation | None
    max_seconds: float | None
    start_s: float | None
    end_s: float | None
    max_height: int
    prompt: str | None
    keep_sound: bool
    crop_to_person: bool
    auto_exposure: bool
    allow_stream_copy: bool
    force: bool


def prepare(
    request: PrepareOptions | None = None,
    *,
    settings: Settings | None = None,
    on_progress: ProgressSink | None = None,
    input_check: CheckResult | None = None,
    kit: VisionKit | None = None,
    **fields: Unpack[PrepareFields],
) -> PrepareResult:
    """Trim and normalize the video, fix the image, and check what was written.

    `prepare(image=..., video=..., out_dir="ready/")` is short for
    `prepare(PrepareOptions(image=..., video=..., out_dir="ready/"))`.

    Args:
        request: the inputs, the output folder and the choices (see PrepareOptions); or leave
            it out and give its fields as keywords.
        settings: profile, thresholds and options (defaults when None); `allow_no_face` as
            for `check`.
        on_progress: called with (stage, share 0..1).
        input_check: the check of these same inputs with the same options, when the caller
            has just run it (a batch row): reused instead of analysing the inputs again.
        kit: models to reuse across calls (a batch worker's); built per check when None.

    Returns:
        The PrepareResult. When no window of the minimum length qualifies, it carries a
        `refusal` and nothing was written.

    Raises:
        KlingPrepError: `out_dir` is not empty and `force` is off, an input cannot be read or
            fetched, a pinned window is invalid, or ffmpeg failed (FFmpegFailedError, with its
            stderr tail); files this call wrote are removed.
    """
    settings = settings or Settings()
    if request is None:
        request = PrepareOptions(**fields)
    elif fields:
        raise TypeError(
            f"prepare: give PrepareOptions or their fields ({', '.join(fields)}), not both"
        )
    if request.image is None and request.video is None:
        raise KlingPrepError("give an image, a video or both")
    longest = _longest_window_s(request, settings)
    out = Path(request.out_dir)
    survey = _survey_out_dir(out, request.force)
    with tempfile.TemporaryDirectory(prefix="kling-prep-") as tmp:
        # 1. Inputs: local paths, or URLs downloaded within (generous) limits.
        inputs = _localise_inputs(request, Path(tmp), settings)
        # Never write over a file no earlier prepare wrote: known before any analysis.
        _refuse_overwrite(survey, _planned_outputs(out, inputs))
        # 2. The inputs' analysis, through the one check path, where a decision needs it.
        input_check = _analyse_inputs(request, inputs, settings, input_check, on_progress, kit)
        # 3. The window: pinned, or the best one; none qualifying refuses before any write.
        window = _window(request, inputs.video, input_check, longest, settings)
        if isinstance(window, Refusal):
            return PrepareResult(out_dir=out, input_check=input_check, check=None, refusal=window)
        plan = _Plan(request, settings, out, survey, inputs, longest, input_check, window)
        return _write_outputs(plan, on_progress, kit)


def _longest_window_s(request: PrepareOptions, settings: Settings) -> float:
    """The longest window the orientation allows, or the shorter --max-seconds.

    Raises:
        KlingPrepError: --max-seconds under the API's minimum length.
    """
    profile = settings.profile
    longest = profile.max_duration_s(request.orientation or "video")
    if request.max_seconds is not None:
        if request.max_seconds < profile.video_min_duration_s:
            raise KlingPrepError(
                f"--max-seconds {request.max_seconds:g} is under the API's minimum of "
                f"{profile.video_min_duration_s:.0f} s"
            )
        longest = min(longest, request.max_seconds)
    return longest


def _localise_inputs(request: PrepareOptions, workdir: Path, settings: Settings) -> _Inputs:
    """Each input as a local path; a URL downloaded into `workdir` within `INPUT_SIZE_FACTOR`
    times the API's size limit."""
    profile = settings.profile

    def local(value: str | Path | None, max_bytes: int | None, role: str) -> Path | None:
        if value is None:
            return None
        return localise_input(
            value, workdir, max_bytes=fetch_cap_bytes(max_bytes, INPUT_SIZE_FACTOR),
            timeout_s=settings.fetch_timeout_s, role=role, policy=settings.fetch_policy(),
        )  # fmt: skip

    return _Inputs(
        image=local(request.image, profile.image_max_bytes, "image"),
        video=local(request.video, profile.video_max_bytes, "video"),
    )


def _planned_outputs(out: Path, inputs: _Inputs) -> list[Path]:
    """Every file prepare may write into `out` for these inputs."""
    planned = [out / REPORT_NAME]
    if inputs.video is not None:
        planned.append(_destination(out, inputs.video, ".mp4"))
    if inputs.image is not None:
        stem = _destination(out, inputs.image, "")
        planned += [stem.with_name(stem.name + suffix) for suffix in (".jpg", ".png")]
    return planned


def _check_files(
    image: Path | None,
    video: Path | None,
    request: PrepareOptions,
    settings: Settings,
    stage: str,
    on_progress: ProgressSink | None,
    kit: VisionKit | None,
) -> CheckResult:
    """The one check path on the inputs ("input") or the prepared files ("output"), its
    progress stages named with that word first."""
    return check(
        CheckRequest(
            image, video, orientation=request.orientation, prompt=request.prompt,
            keep_sound=request.keep_sound,
        ),
        settings=settings,
        on_progress=(lambda name, share: on_progress(f"{stage} {name}", share))
        if on_progress else None, kit=kit,
    )  # fmt: skip


def _analyse_inputs(
    request: PrepareOptions,
    inputs: _Inputs,
    settings: Settings,
    input_check: CheckResult | None,
    on_progress: ProgressSink | None,
    kit: VisionKit | None,
) -> CheckResult | None:
    """The inputs' check where a decision needs it (the image's box or exposure, a window to
    choose), unless `input_check` already covers it."""
    analyse_image = inputs.image is not None and (request.crop_to_person or request.auto_exposure)
    analyse_video = inputs.video is not None and not request.is_pinned
    is_covered = input_check is not None and (
        (not analyse_image or input_check.image is not None)
        and (not analyse_video or input_check.video is not None)
    )
    if (analyse_image or analyse_video) and not is_covered:
        return _check_files(
            inputs.image if analyse_image else None, inputs.video if analyse_video else None,
            request, settings, "input", on_progress, kit,
        )  # fmt: skip
    return input_check


def _window(
    request: PrepareOptions,
    video_path: Path | None,
    input_check: CheckResult | None,
    longest_s: float,
    settings: Settings,
) -> Window | Refusal | None:
    """The window to keep: pinned, or the best one of the input's check; a Refusal when none
    qualifies; None without a video.

    Raises:
        KlingPrepError: a pinned window outside the video or of the wrong length.
    """
    if video_path is None:
        return None
    min_s = settings.profile.video_min_duration_s
    if request.is_pinned:
        return _pinned_window(video_path, request.start_s, request.end_s, longest_s, min_s)
    if input_check is None or input_check.video is None:
        raise KlingPrepError(f"{video_path}: the video was not analysed")
    chosen = choose_window(input_check.video, max_s=longest_s, min_s=min_s)
    if isinstance(chosen, NoWindow):
        return Refusal(
            file=str(request.video), measured=input_check.video.duration_s,
            message=f"{video_path.name}: nothing prepared: {chosen.reason}",
            rule=f"a window of {min_s:.0f}-{longest_s:.0f} s "
            "with one person, the body in frame and no cut",
        )  # fmt: skip
    return chosen


def _write_outputs(
    plan: _Plan, on_progress: ProgressSink | None, kit: VisionKit | None
) -> PrepareResult:
    """Write: the earlier prepare's files out, then video, then image, the prepared files'
    check and report.json; on any failure remove what this call wrote."""
    request, out = plan.request, plan.out
    out.mkdir(parents=True, exist_ok=True)
    for path in plan.survey.earlier:
        path.unlink(missing_ok=True)
    written: list[Path] = []
    try:
        transcode = _write_video(plan, on_progress)
        if transcode is not None:
            written.append(transcode.path)
        fixed = None
        if plan.inputs.image is not None:
            fixed = _fix(
                plan.inputs.image, out, plan.input_check, request.crop_to_person,
                request.auto_exposure, plan.settings,
            )  # fmt: skip
            written.append(fixed.path)
        # 5. The prepared files through the same check.
        result_check = _check_files(
            fixed.path if fixed else None, transcode.path if transcode else None,
            request, plan.settings, "output", on_progress, kit,
        )  # fmt: skip
        result = _result(plan, result_check, transcode, fixed)
        # 6. The report: the check's JSON of the output plus what prepare did.
        write_atomically(
            (prepare_json(result) + "\n").encode(),
            out / REPORT_NAME,
        )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return result


def _write_video(plan: _Plan, on_progress: ProgressSink | None) -> TranscodeResult | None:
    """The window of the video cut and normalized into the output folder (None: no video)."""
    video_path, window, request = plan.inputs.video, plan.window, plan.request
    if video_path is None or window is None:
        return None
    return normalize_video(
        video_path, _destination(plan.out, video_path, ".mp4"),
        VideoTarget(
            window.start_s, window.end_s, request.max_height, request.keep_sound,
            max_duration_s=plan.longest_s,
        ),
        profile=plan.settings.profile, allow_stream_copy=request.allow_stream_copy,
        on_progress=(lambda share: on_progress("encoding the video", share))
        if on_progress else None, ffmpeg=plan.settings.ffmpeg,
    )  # fmt: skip


def _result(
    plan: _Plan,
    result_check: CheckResult,
    transcode: TranscodeResult | None,
    fixed: ImageFix | None,
) -> PrepareResult:
    """The PrepareResult of a prepare that wrote its files."""
    window = plan.window
    return PrepareResult(
        out_dir=plan.out, input_check=plan.input_check, check=result_check,
        image_path=fixed.path if fixed else None,
        video_path=transcode.path if transcode else None,
        report_path=plan.out / REPORT_NAME,
        image_steps=fixed.steps if fixed else [],
        video_steps=transcode.steps if transcode else [],
        window=window, window_source=None if window is None else
        ("pinned" if plan.request.is_pinned else "chosen"),
        path_taken=transcode.path_taken if transcode else None,
        transcode=transcode, image_fix=fixed,
        removed_paths=plan.survey.earlier, kept_paths=plan.survey.others,
    )  # fmt: skip


def _fix(
    image_path: Path,
    out: Path,
    input_check: CheckResult | None,
    crop_to_person: bool,
    auto_exposure: bool,
    settings: Settings,
) -> ImageFix:
    box = None
    exposure = None
    report = input_check.image if input_check is not None else None
    if report is not None:
        # The check's boxes are in the analysed image (at most 1280 px a side, upright).
        from kling_prep.checks.image import ANALYSIS_MAX_SIDE_PX

        scale = 1 / min(1.0, ANALYSIS_MAX_SIDE_PX / max(report.width, report.height, 1))
        if report.people:
            x, y, w, h = report.people[0].box
            box = (round(x * scale), round(y * scale), round(w * scale), round(h * scale))
        if report.lighting is not None:
            m = report.lighting
            exposure = (
                m.face_exposure_stops if m.face_exposure_stops is not None else m.exposure_stops
            )
    return fix_image(
        image_path, _destination(out, image_path, ""), profile=settings.profile,
        person_box=box, crop_to_person=crop_to_person, auto_exposure=auto_exposure,
        exposure_stops=exposure,
    )  # fmt: skip
