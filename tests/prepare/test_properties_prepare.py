"""Property: whatever `prepare` writes passes the limits of the profile it was prepared for.

Inputs are generated per example: short clips made with ffmpeg's test source (a few seconds,
small) of varying length, frame rate (constant or not), size, display rotation, sample aspect
ratio, codec, pixel format, container and audio; and pictures of varying size, aspect, mode and
format. `prepare` runs on them with a drawn profile (each provider of the limits table),
orientation (10 s or 30 s), `--max-seconds` and window (pinned with --start/--end; the test
source has no person, so a chosen window is refused, and that refusal is checked too).

For every written file:
- the check of the prepared files (prepare's own, through `kling_prep.check`) has no finding
  of the limits part (format, size, sides, aspect, duration);
- the file, probed again here, is accepted by the sandbox's intake (`kling_prep.sandbox.intake`),
  an independent reading of the same table that refuses exactly, with no tolerance;
- the video lasts what its window says (within a frame) and the window lies within the input.
Otherwise prepare must refuse (nothing written) or raise a KlingPrepError naming the file.

Examples are expensive (an encode and a check with the vision models each), hence few.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from property_profiles import examples

from kling_prep.errors import KlingPrepError, RequestRejectedError
from kling_prep.limits import PROFILES, ApiProfile, Orientation
from kling_prep.media.ffmpeg import find_ffmpeg
from kling_prep.media.probe import probe_video
from kling_prep.preparation import PrepareOptions, PrepareResult, prepare
from kling_prep.sandbox import intake
from kling_prep.settings import Settings

# The limits part of the check: the findings that come from the profile's table.
LIMIT_CODES = frozenset(
    {
        "image.format",
        "image.too_large",
        "image.too_small",
        "image.side_too_long",
        "image.aspect_ratio",
        "video.format",
        "video.too_large",
        "video.too_long",
        "video.too_short",
        "video.resolution",
    }
)


@dataclass(frozen=True)
class ClipSpec:
    """What to generate: a test-source clip and how it is stored."""

    seconds: float
    rate: str  # ffmpeg rate, e.g. "24000/1001"
    width: int
    height: int
    rotation: int  # display rotation, degrees
    sar: tuple[int, int]
    codec: str  # libx264 or mpeg4
    pix_fmt: str
    container: str  # mp4, mov or mkv
    audio: bool
    vfr: bool  # timestamps of a variable frame rate (every third frame dropped)

    @property
    def name(self) -> str:
        return f"clip.{self.container}"


def write_clip(spec: ClipSpec, folder: Path) -> Path:
    ffmpeg = find_ffmpeg()
    coded = folder / f"coded.{spec.container}"
    command = [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"]
    command.append(
        f"testsrc2=size={spec.width}x{spec.height}:rate={spec.rate}:duration={spec.seconds}"
    )
    if spec.audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={spec.seconds}"]
    filters = [f"setsar={spec.sar[0]}/{spec.sar[1]}"]
    if spec.vfr:
        filters.insert(0, "select='not(eq(mod(n\\,3)\\,2))'")
    command += ["-vf", ",".join(filters), "-c:v", spec.codec, "-pix_fmt", spec.pix_fmt]
    if spec.vfr:
        command += ["-fps_mode", "vfr"]
    if spec.codec == "libx264":
        command += ["-preset", "ultrafast"]
    if spec.audio:
        command += ["-c:a", "aac", "-shortest"]
    command.append(str(coded))
    subprocess.run(command, check=True, capture_output=True)
    if spec.rotation == 0:
        return coded
    rotated = folder / spec.name
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-y", "-display_rotation:v:0", str(spec.rotation),
         "-i", str(coded), "-c", "copy", str(rotated)],
        check=True, capture_output=True,
    )  # fmt: skip
    return rotated


RATES = ["12", "15", "24000/1001", "24", "25", "30000/1001", "30", "50", "60"]


@st.composite
def any_clips(draw: st.DrawFn) -> ClipSpec:
    """Anything: sides from 96 px, odd widths, rotations, sample aspects, codecs, containers."""
    codec, pix_fmt = draw(
        st.sampled_from(
            [
                ("libx264", "yuv420p"),
                ("libx264", "yuv444p"),
                ("libx264", "yuv420p10le"),
                ("mpeg4", "yuv420p"),
            ]
        )
    )
    width, height = draw(st.integers(96, 1280)), draw(st.integers(96, 960))
    if pix_fmt != "yuv444p":
        width, height = width - width % 2, height - height % 2  # 4:2:0 needs even sides
    return ClipSpec(
        seconds=draw(st.one_of(st.integers(35, 130), st.integers(20, 34))) / 10,
        rate=draw(st.sampled_from(RATES)),
        width=width,
        height=height,
        rotation=draw(st.sampled_from([0, 90, 180, 270])),
        sar=draw(st.sampled_from([(1, 1), (4, 3), (3, 4), (2, 1), (1, 2)])),
        codec=codec,
        pix_fmt=pix_fmt,
        container=draw(st.sampled_from(["mp4", "mov", "mkv"])),
        audio=draw(st.booleans()),
        vfr=draw(st.booleans()),
    )


@st.composite
def compliant_clips(draw: st.DrawFn) -> ClipSpec:
    """What the API takes as it is (MP4, H.264 yuv420p, constant rate, sides 340-1280 px):
    the stream-copy path, when the window starts on a keyframe."""
    return ClipSpec(
        seconds=draw(st.integers(35, 130)) / 10,
        rate=draw(st.sampled_from(RATES)),
        width=2 * draw(st.integers(170, 640)),
        height=2 * draw(st.integers(170, 480)),
        rotation=0,
        sar=(1, 1),
        codec="libx264",
        pix_fmt="yuv420p",
        container="mp4",
        audio=draw(st.booleans()),
        vfr=False,
    )


clips = st.one_of(compliant_clips(), any_clips())


@dataclass(frozen=True)
class Request:
    """How prepare is asked: for which provider, orientation, length and window."""

    profile: str
    orientation: Orientation
    max_seconds: float | None
    start_share: float  # --start as a share of the input's length
    end_share: float | None  # --end likewise; None: as long as allowed


requests = st.builds(
    Request,
    profile=st.sampled_from(sorted(PROFILES)),
    orientation=st.sampled_from(["video", "image"]),
    max_seconds=st.one_of(st.none(), st.integers(3, 12).map(float)),
    start_share=st.one_of(st.just(0.0), st.floats(0.0, 0.6)),
    end_share=st.one_of(st.none(), st.none(), st.floats(0.3, 1.0)),
)


def limit_findings(result: PrepareResult) -> list[str]:
    check = result.check
    assert check is not None
    reports = [r for r in (check.image, check.video) if r is not None]
    return [f"{f.code}: {f.message}" for r in reports for f in r.findings if f.code in LIMIT_CODES]


def frames_end(path: Path) -> float:
    """Where the input's video frames end: the last frame's time plus its duration."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ends = [
            float((p.pts + (p.duration or 0)) * p.time_base)
            for p in container.demux(stream)
            if p.pts is not None
        ]
    return max(ends)


def assert_video_within_limits(
    result: PrepareResult,
    profile: ApiProfile,
    orientation: Orientation,
    input_s: float,
    frames_end_s: float,
) -> None:
    assert result.video_path is not None
    assert result.window is not None
    try:
        intake.admit_video(result.video_path, profile, orientation)
    except RequestRejectedError as exc:
        pytest.fail(f"the sandbox refuses the prepared video: {exc}")
    probe = probe_video(result.video_path)
    window = result.window
    assert 0.0 <= window.start_s < window.end_s <= input_s + 1e-3
    # The window is cut from the input's length as probed (the longest stream: audio may run
    # past the last frame); the video holds the frames inside it, never more.
    frame_s = 1.0 / max(probe.fps, 1.0)
    expected_s = min(window.end_s, frames_end_s) - window.start_s
    assert expected_s - 2 * frame_s - 1e-3 <= probe.duration_s, (
        f"the prepared video lasts {probe.duration_s:.3f} s; its window {window.start_s:.3f}-"
        f"{window.end_s:.3f} s holds {expected_s:.3f} s of frames"
    )
    assert probe.duration_s <= window.duration_s + frame_s + 1e-3, (
        f"the prepared video lasts {probe.duration_s:.3f} s, longer than its window "
        f"{window.start_s:.3f}-{window.end_s:.3f} s"
    )
    assert probe.rotation_deg == 0


def run_prepare(
    video: Path, request: Request, out: Path, kit: object
) -> tuple[PrepareResult | None, float]:
    """prepare on `video`; None when it raised a KlingPrepError (after checking its message)."""
    input_s = probe_video(video).duration_s
    profile = PROFILES[request.profile]
    start = round(request.start_share * input_s, 3)
    end = None if request.end_share is None else round(request.end_share * input_s, 3)
    try:
        result = prepare(
            PrepareOptions(
                video=video, out_dir=out, orientation=request.orientation,
                max_seconds=request.max_seconds, start_s=start, end_s=end,
                prompt="a test pattern",
            ),
            settings=Settings(profile=profile), kit=kit,
        )  # fmt: skip
    except KlingPrepError as exc:
        error = str(exc)
    else:
        event(f"written ({result.path_taken})" if result.video_path else "refused")
        return result, input_s
    event(f"raised: {error.split(':')[-1][:40]}")
    assert video.name in error or "--max-seconds" in error, error
    assert not any(out.glob("*.mp4")), "a refused prepare left a video"
    return None, input_s


@settings(
    max_examples=examples(8, 60),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=clips, request=requests)
def test_a_prepared_video_passes_the_limits(
    spec: ClipSpec, request: Request, kit: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("prop-prepare")
    video = write_clip(spec, folder)
    result, input_s = run_prepare(video, request, folder / "out", kit)
    if result is None:
        return
    profile = PROFILES[request.profile]
    assert not result.is_refused
    assert limit_findings(result) == [], limit_findings(result)
    assert_video_within_limits(result, profile, request.orientation, input_s, frames_end(video))


@dataclass(frozen=True)
class PictureSpec:
    """A generated picture: size, pixel mode, file format, EXIF orientation, noise."""

    width: int
    height: int
    mode: str
    file_format: str
    orientation: int  # EXIF 1-8 (1: upright); 0: no tag
    noisy: bool  # random pixels: a large file for its size

    @property
    def suffix(self) -> str:
        return {"JPEG": ".jpg", "TIFF": ".tif"}.get(
            self.file_format, f".{self.file_format.lower()}"
        )


# Modes each format can store.
_MODES = {
    "JPEG": ["RGB", "L", "CMYK"],
    "PNG": ["RGB", "RGBA", "L", "LA", "P", "I;16"],
    "WEBP": ["RGB", "RGBA"],
    "GIF": ["P", "L"],
    "BMP": ["RGB", "L", "P"],
    "TIFF": ["RGB", "RGBA", "CMYK", "L", "I;16"],
}


@st.composite
def pictures(draw: st.DrawFn) -> PictureSpec:
    file_format = draw(st.sampled_from(sorted(_MODES)))
    width = draw(st.integers(16, 3000))
    # Aspect from 1:12 to 12:1, beyond the API's 1:2.5-2.5:1.
    aspect = draw(st.floats(1 / 12, 12))
    height = max(16, min(4000, round(width / aspect)))
    return PictureSpec(
        width=width,
        height=height,
        mode=draw(st.sampled_from(_MODES[file_format])),
        file_format=file_format,
        orientation=draw(st.sampled_from([0, 1, 3, 6, 8, 2, 5])) if file_format == "JPEG" else 0,
        noisy=draw(st.booleans()),
    )


def write_picture(spec: PictureSpec, folder: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(spec.width * 7919 + spec.height)
    if spec.noisy:
        rgb = rng.integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8)
    else:
        ramp = np.linspace(40, 220, spec.width, dtype=np.float32)[None, :, None]
        rgb = np.broadcast_to(ramp, (spec.height, spec.width, 3)).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if spec.mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)
    elif spec.mode != "RGB":
        image = image.convert(spec.mode)
    path = folder / f"picture{spec.suffix}"
    options: dict[str, object] = {}
    if spec.orientation:
        exif = Image.Exif()
        exif[0x0112] = spec.orientation
        options["exif"] = exif.tobytes()
    image.save(path, spec.file_format, **options)
    return path


@settings(
    max_examples=examples(10, 100),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=pictures(), profile=st.sampled_from(sorted(PROFILES)))
def test_a_prepared_picture_passes_the_limits(
    spec: PictureSpec, profile: str, kit: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("prop-picture")
    picture = write_picture(spec, folder)
    limits = PROFILES[profile]
    try:
        result = prepare(
            PrepareOptions(image=picture, out_dir=folder / "out", prompt="a test pattern"),
            settings=Settings(profile=limits), kit=kit,
        )  # fmt: skip
    except KlingPrepError as exc:
        error = str(exc)
    else:
        error = None
    if error is not None:
        event("raised")
        assert picture.name in error, error
        return
    event(f"written ({'copied' if not result.is_changed else 'changed'})")
    assert result.image_path is not None
    assert limit_findings(result) == [], limit_findings(result)
    try:
        intake.admit_image(result.image_path, limits)
    except RequestRejectedError as exc:
        pytest.fail(f"the sandbox refuses the prepared picture: {exc}")


@dataclass(frozen=True)
class PersonClip:
    """A person swaying in front of a wall (kling_prep.media.synthetic), `width` x `height` as
    displayed, stored turned with a display rotation, in a container."""

    seconds: float
    width: int
    height: int
    rotation: int
    container: str


@st.composite
def person_clips(draw: st.DrawFn) -> PersonClip:
    portrait = draw(st.booleans())
    long_side, short_side = 2 * draw(st.integers(180, 320)), 2 * draw(st.integers(120, 180))
    return PersonClip(
        seconds=draw(st.integers(25, 140)) / 10,
        width=short_side if portrait else long_side,
        height=long_side if portrait else short_side,
        rotation=draw(st.sampled_from([0, 0, 90, 270])),
        container=draw(st.sampled_from(["mp4", "mov", "mkv"])),
    )


def write_person_clip(spec: PersonClip, folder: Path, rgb: np.ndarray, mask: np.ndarray) -> Path:
    from kling_prep.media.synthetic import sway_frames, write_mp4

    source = folder / "person-source.mp4"
    frames = sway_frames(rgb, mask, spec.seconds, (spec.width, spec.height))
    # A phone's clip: the pixels stored turned, and the tag that turns them upright for display
    # (90 deg counterclockwise on display: stored a quarter turn clockwise).
    turns = {0: 0, 90: -1, 270: 1}[spec.rotation]
    write_mp4(source, [np.ascontiguousarray(np.rot90(f, k=turns)) for f in frames])
    path = folder / f"person.{spec.container}"
    command = [find_ffmpeg(), "-nostdin", "-v", "error", "-y"]
    if spec.rotation:
        command += ["-display_rotation:v:0", str(spec.rotation)]
    command += ["-i", str(source), "-c", "copy", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    return path


@settings(
    max_examples=examples(2, 20),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    spec=person_clips(),
    profile=st.sampled_from(sorted(PROFILES)),
    orientation=st.sampled_from(["video", "image"]),
    max_seconds=st.one_of(st.none(), st.integers(3, 12).map(float)),
)
def test_a_chosen_window_prepared_passes_the_limits(
    spec: PersonClip,
    profile: str,
    orientation: Orientation,
    max_seconds: float | None,
    kit: object,
    astronaut: np.ndarray,
    astronaut_mask: np.ndarray,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("prop-person")
    video = write_person_clip(spec, folder, astronaut, astronaut_mask)
    limits = PROFILES[profile]
    result = prepare(
        PrepareOptions(
            video=video, out_dir=folder / "out", orientation=orientation,
            max_seconds=max_seconds, prompt="a person swaying",
        ),
        settings=Settings(profile=limits), kit=kit,
    )  # fmt: skip
    if result.is_refused:
        # No stretch of 3 s qualifies (the window property checks that claim): nothing written.
        # A 3.5 s clip is refused for one sample whose head left the frame, say.
        event("refused")
        assert result.refusal is not None
        assert video.name in result.refusal.message
        assert not (folder / "out").exists() or not any((folder / "out").iterdir())
        return
    event(f"written ({result.path_taken})")
    assert result.window_source == "chosen"
    assert limit_findings(result) == [], limit_findings(result)
    assert_video_within_limits(
        result, limits, orientation, probe_video(video).duration_s, frames_end(video)
    )
