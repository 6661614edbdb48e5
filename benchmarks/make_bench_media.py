"""Generate the benchmark media: a 30 s 1080p 30 fps H.264 clip for the speed benchmark and a
labelled accuracy set (images, videos, pairs) with known answers, plus the files of
../shared/media with the labels its README gives.

Run: `.venv/bin/python benchmarks/make_bench_media.py [OUT_DIR]` (default /tmp/kp-bench).
Writes OUT_DIR/speed/{clip.mp4,astronaut.jpg}, OUT_DIR/accuracy/... and OUT_DIR/labels.json.
Everything is made from scikit-image's public-domain astronaut photograph (and two other
photographs of its wheel that show nobody); the same files come out on every run.

Labels are set from how each case is built (stops of darkening applied, people composited,
the frame a cut is spliced at), never from what kling_prep measures on it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

os.environ.setdefault("GLOG_minloglevel", "2")

import av
import cv2
import numpy as np
from numpy.typing import NDArray
from skimage import data

from kling_prep.media.synthetic import (
    FPS,
    darken,
    save_jpeg,
    stand_on_floor,
    studio,
    sway_frames,
    write_mp4,
    x264_options,
)
from kling_prep.vision.pose import PoseEstimator

Frame = NDArray[Any]
ROOT = Path(__file__).resolve().parents[1]
SHARED_MEDIA = ROOT.parent / "shared" / "media"
DEFAULT_OUT = Path("/tmp/kp-bench")
WALL = (200, 196, 188)
BLUE_WALL = (70, 110, 160)
GREEN_WALL = (120, 160, 110)

# Verdict ranks: a case is labelled with the least and the most severe verdict it may get.
GOOD = {"min_verdict": "ready", "max_verdict": "warnings"}  # must not be blocked
WARN = {"min_verdict": "warnings", "max_verdict": "warnings"}  # must warn, must not block
FLAG = {"min_verdict": "warnings", "max_verdict": "blocked"}  # must at least warn
BAD = {"min_verdict": "blocked", "max_verdict": "blocked"}  # must be blocked


def astronaut_and_mask() -> tuple[Frame, Frame]:
    rgb = np.asarray(data.astronaut(), dtype=np.uint8)
    with PoseEstimator(with_segmentation=True) as estimator:
        pose = estimator.estimate(rgb)
    if pose is None or pose.mask is None:
        raise SystemExit("MediaPipe found no person on the astronaut: cannot build the cases")
    return rgb, np.clip(pose.mask, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Compositing: the cut-out astronaut placed, scaled and rocked on a plain wall.


def render(
    rgb: Frame,
    mask: Frame,
    size: tuple[int, int],
    actors: list[tuple[float, float, float, bool]],
    tint: tuple[int, int, int] = WALL,
) -> Frame:
    """One frame: a studio wall and each actor (centre x in pixels, height as a share of the
    frame, rock angle in degrees, mirrored) standing on the frame's bottom edge."""
    width, height = size
    frame = studio(width, height, tint).astype(np.float32)
    for cx, share, angle, mirror in actors:
        src, alpha = (rgb[:, ::-1], mask[:, ::-1]) if mirror else (rgb, mask)
        frame = stand_on_floor(frame, src, alpha, centre_x=cx, height_share=share, angle_deg=angle)
    return np.clip(frame, 0, 255).astype(np.uint8)


def rock(t: float) -> float:
    return 7.0 * math.sin(2 * math.pi * 0.6 * t)


def composite_image(
    rgb: Frame, mask: Frame, size: tuple[int, int], placements: list[tuple[float, float, bool]]
) -> Frame:
    """People (centre x share, height share, mirrored) side by side on a wall, standing still."""
    width, _ = size
    return render(rgb, mask, size, [(x * width, s, 0.0, m) for x, s, m in placements])


def backlit(rgb: Frame, mask: Frame, person_stops: float, background_stops: float) -> Frame:
    """The photograph with the person and the background re-exposed separately (linear light)."""
    soft = cv2.GaussianBlur(mask, (9, 9), 0)[..., None]
    person = darken(rgb, person_stops).astype(np.float32)
    background = darken(rgb, background_stops).astype(np.float32)
    return np.clip(person * soft + background * (1 - soft), 0, 255).astype(np.uint8)


def cover(image: Frame, size: tuple[int, int]) -> Frame:
    """Scale and centre-crop an image to fill size (width, height)."""
    width, height = size
    scale = max(width / image.shape[1], height / image.shape[0])
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    y0, x0 = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return np.ascontiguousarray(big[y0 : y0 + height, x0 : x0 + width])


def save_png(path: Path, rgb: Frame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


# ---------------------------------------------------------------------------------------------
# Videos (24 fps, the synthetic module's rate).


def sway_clip(
    rgb: Frame,
    mask: Frame,
    frames: int,
    size: tuple[int, int],
    tint: tuple[int, int, int] = WALL,
    mirror: bool = False,
    start: int = 0,
) -> list[Frame]:
    return sway_frames(rgb, mask, (start + frames) / FPS, size, tint=tint, mirror=mirror)[start:]


def walk_clip(
    rgb: Frame,
    mask: Frame,
    frames: int,
    size: tuple[int, int],
    path_x: Any,
    second_x: Any = None,
    share: float = 0.9,
) -> list[Frame]:
    """The person rocking at x = path_x(t) (pixels); a second one at second_x(t) when given."""
    out = []
    for i in range(frames):
        t = i / FPS
        actors = [(float(path_x(t)), share, rock(t), False)]
        if second_x is not None and second_x(t) is not None:
            actors.append((float(second_x(t)), share, rock(t + 0.4), True))
        out.append(render(rgb, mask, size, actors))
    return out


def fade(a: list[Frame], b: list[Frame], out_frames: int, in_frames: int) -> list[Frame]:
    """a, then a fade to black over its last out_frames, then b fading in over in_frames."""
    result = list(a[:-out_frames])
    for k, frame in enumerate(a[-out_frames:]):
        gain = 1 - (k + 1) / out_frames
        result.append((frame.astype(np.float32) * gain).astype(np.uint8))
    for k, frame in enumerate(b[:in_frames]):
        gain = (k + 1) / in_frames
        result.append((frame.astype(np.float32) * gain).astype(np.uint8))
    return result + list(b[in_frames:])


def dissolve(a: list[Frame], b: list[Frame], frames: int) -> list[Frame]:
    """a's last `frames` frames blended into b's first `frames`, then the rest of b."""
    mixed = [
        (a[len(a) - frames + k].astype(np.float32) * (1 - (k + 1) / (frames + 1))
         + b[k].astype(np.float32) * ((k + 1) / (frames + 1))).astype(np.uint8)
        for k in range(frames)
    ]  # fmt: skip
    return list(a[:-frames]) + mixed + list(b[frames:])


# ---------------------------------------------------------------------------------------------
# The 30 s 1080p30 speed clip.


def write_speed_clip(
    path: Path, rgb: Frame, mask: Frame, seconds: float, fps: int, crf: int, grain: float
) -> None:
    """sway_frames at 1920x1080 (one full period of its motion, 80 frames at its own 24 fps),
    looped to `seconds` at `fps`, with fresh-looking sensor grain on each frame so the encoder
    spends bits as it would on camera footage; libx264 preset medium."""
    cycle = sway_frames(rgb, mask, 80 / FPS, (1920, 1080))
    rng = np.random.default_rng(0)
    bank = [
        np.clip(rng.normal(0.0, grain, (1080, 1920, 1)), -127, 127).astype(np.int16)
        for _ in range(7)
    ]
    total = round(seconds * fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {**x264_options(crf)}
        for i in range(total):
            frame = cycle[i % len(cycle)].astype(np.int16)
            if grain > 0:
                noise = bank[i % len(bank)]
                frame = frame + np.roll(noise, (i * 37) % 1080, axis=0)
            video = av.VideoFrame.from_ndarray(np.clip(frame, 0, 255).astype(np.uint8), "rgb24")
            video.pts = i
            video.time_base = Fraction(1, fps)
            for packet in stream.encode(video):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


# ---------------------------------------------------------------------------------------------
# The accuracy set.


def case(
    case_id: str,
    verdict: dict[str, str],
    *,
    image: str | None = None,
    video: str | None = None,
    expect: list[str] | None = None,
    dont_care: list[str] | None = None,
    people: int | None = None,
    cuts: list[int] | None = None,
    face_view: str | None = None,
    prompt: str | None = None,
    is_submission: bool = False,
    group: str = "generated",
    note: str = "",
) -> dict[str, Any]:
    return {
        "id": case_id, "image": image, "video": video, "prompt": prompt, **verdict,
        "expect": expect or [], "dont_care": dont_care or [], "people": people, "cuts": cuts,
        "face_view": face_view, "is_submission": is_submission, "group": group, "note": note,
    }  # fmt: skip


def make_images(out: Path, rgb: Frame, mask: Frame) -> list[dict[str, Any]]:
    d = out / "accuracy" / "images"
    cases: list[dict[str, Any]] = []

    def img(name: str, pixels: Frame, png: bool = False, quality: int = 92) -> str:
        path = d / name
        if png:
            save_png(path, pixels)
        else:
            save_jpeg(path, pixels, quality=quality)
        return str(path.relative_to(out))

    one = {"people": 1, "face_view": "frontal"}
    # Good: one frontal person, well lit, sharp (warnings allowed, no block).
    cases.append(case("img-astronaut", GOOD, image=img("astronaut.jpg", rgb), **one))
    cases.append(case("img-mirrored", GOOD, image=img("mirrored.jpg", rgb[:, ::-1]), **one))
    big = cv2.resize(rgb, (1024, 1024), interpolation=cv2.INTER_LANCZOS4)
    cases.append(case("img-upscaled-1024", GOOD, image=img("upscaled-1024.jpg", big), **one))
    cases.append(case("img-png", GOOD, image=img("astronaut.png", rgb, png=True), **one))
    cases.append(case("img-jpeg-q40", GOOD, image=img("q40.jpg", rgb, quality=40), **one))
    cases.append(case("img-dark-1stop", GOOD, image=img("dark-1.jpg", darken(rgb, -1.0)), **one))
    cases.append(case(
        "img-dark-2stops", GOOD, image=img("dark-2.jpg", darken(rgb, -2.0)),
        dont_care=["image.underexposed"], note="a quarter of the light: a warning is fair", **one,
    ))  # fmt: skip
    cases.append(case(
        "img-bright-0.5stop", GOOD, image=img("bright-0.5.jpg", darken(rgb, 0.5)),
        dont_care=["image.overexposed"], **one,
    ))  # fmt: skip
    soft = cv2.GaussianBlur(rgb, (0, 0), 1.0)
    cases.append(case("img-blur-sigma1", GOOD, image=img("blur-1.jpg", soft), **one))
    portrait = composite_image(rgb, mask, (720, 1080), [(0.5, 0.9, False)])
    cases.append(
        case("img-studio-portrait", GOOD, image=img("studio-portrait.jpg", portrait), **one)
    )
    square = render(rgb, mask, (1080, 1080), [(540, 0.85, 0.0, True)], tint=BLUE_WALL)
    cases.append(case("img-studio-blue", GOOD, image=img("studio-blue.jpg", square), **one))
    half = composite_image(rgb, mask, (800, 1000), [(0.45, 0.55, False)])
    cases.append(case("img-studio-half-height", GOOD, image=img("studio-half.jpg", half), **one))
    # Must warn, must not block.
    for sigma in (4.0, 6.0):
        blurred = cv2.GaussianBlur(rgb, (0, 0), sigma)
        cases.append(case(
            f"img-blur-sigma{sigma:.0f}", WARN, image=img(f"blur-{sigma:.0f}.jpg", blurred),
            expect=["image.blurry"], dont_care=["image.no_face", "image.low_contrast"],
            people=1, note=f"Gaussian sigma {sigma} px at 512 px",
        ))  # fmt: skip
    # Backlight is a dark face before a bright background (issue 13): a face dimmed by one
    # stop keeps its highlights above middle grey and is still well exposed, however bright
    # the wall behind it, so it is a case that must not be called backlit.
    mild = backlit(rgb, mask, -2.5, 0.5)
    cases.append(case(
        "img-backlit-mild", WARN, image=img("backlit-mild.jpg", mild), expect=["image.backlit"],
        dont_care=["image.underexposed"], people=1, face_view="frontal",
        note="person -2.5 stops, background +0.5: the face dark, the wall 3 stops brighter",
    ))  # fmt: skip
    lit = backlit(rgb, mask, -1.0, 1.5)
    cases.append(case(
        "img-lit-face-bright-wall", GOOD, image=img("lit-face-bright-wall.jpg", lit), expect=[],
        dont_care=["image.color_cast", "image.low_contrast"], people=1, face_view="frontal",
        note="person -1 stop, background +1.5 stops: the face still lit (before issue 13 this "
        "was the mild backlit case)",
    ))  # fmt: skip
    small = composite_image(rgb, mask, (1500, 1000), [(0.3, 0.9, False), (0.78, 0.33, True)])
    cases.append(case(
        "img-background-person", WARN, image=img("background-person.jpg", small),
        expect=["image.background_person"], people=1, face_view="frontal",
        note="a second person at 37% of the main one's height (warn band 25-50%)",
    ))  # fmt: skip
    # Must be flagged (warn or block).
    cases.append(case(
        "img-dark-3stops", FLAG, image=img("dark-3.jpg", darken(rgb, -3.0)),
        expect=["image.underexposed"], people=1, note="an eighth of the light",
    ))  # fmt: skip
    cases.append(case(
        "img-dark-4stops", FLAG, image=img("dark-4.jpg", darken(rgb, -4.0)),
        expect=["image.underexposed"], people=1,
    ))  # fmt: skip
    cases.append(case(
        "img-bright-2.5stops", FLAG, image=img("bright-2.5.jpg", darken(rgb, 2.5)),
        expect=["image.overexposed"], dont_care=["image.low_contrast", "image.no_face"], people=1,
    ))  # fmt: skip
    # Must be blocked.
    for stops in (5.0, 6.0):
        cases.append(case(
            f"img-dark-{stops:.0f}stops", BAD, image=img(f"dark-{stops:.0f}.jpg", darken(rgb, -stops)),
            expect=["image.underexposed"],
            dont_care=["image.no_face", "image.no_person", "image.low_contrast", "image.backlit"],
        ))  # fmt: skip
    strong = backlit(rgb, mask, -2.5, 2.0)
    cases.append(case(
        "img-backlit-strong", BAD, image=img("backlit-strong.jpg", strong),
        expect=["image.backlit"], dont_care=["image.underexposed", "image.no_face"], people=1,
        note="person -2.5 stops, background +2 stops: 4.5 stops planted on the photo's -0.5",
    ))  # fmt: skip
    two = np.concatenate([rgb, rgb[:, ::-1]], axis=1)
    cases.append(case(
        "img-two-side-by-side", BAD, image=img("two-side-by-side.jpg", two),
        expect=["image.multiple_people"], people=2,
    ))  # fmt: skip
    pair = composite_image(rgb, mask, (1600, 900), [(0.27, 0.9, False), (0.73, 0.9, True)])
    cases.append(case(
        "img-two-studio", BAD, image=img("two-studio.jpg", pair), expect=["image.multiple_people"],
        people=2,
    ))  # fmt: skip
    unequal = composite_image(rgb, mask, (1600, 900), [(0.3, 0.92, False), (0.75, 0.66, True)])
    cases.append(case(
        "img-two-unequal", BAD, image=img("two-unequal.jpg", unequal),
        expect=["image.multiple_people"], people=2, note="second person at 72% of the height",
    ))  # fmt: skip
    three = composite_image(
        rgb, mask, (1800, 900), [(0.18, 0.9, False), (0.5, 0.9, True), (0.82, 0.9, False)]
    )
    cases.append(case(
        "img-three-studio", BAD, image=img("three-studio.jpg", three),
        expect=["image.multiple_people"], people=3,
    ))  # fmt: skip
    three_photo = np.concatenate([rgb[:, 60:460], rgb[:, 60:460][:, ::-1], rgb[:, 60:460]], 1)
    cases.append(case(
        "img-three-photos", BAD, image=img("three-photos.jpg", three_photo),
        expect=["image.multiple_people"], people=3, note="1200x512, aspect 2.34",
    ))  # fmt: skip
    for name, picture in (("coffee", data.coffee()), ("rocket", data.rocket())):
        picture = cover(np.asarray(picture, np.uint8), (900, 600))
        cases.append(case(
            f"img-no-person-{name}", BAD, image=img(f"no-person-{name}.jpg", picture),
            expect=["image.no_person"], people=0, note=f"scikit-image's {name} photograph",
        ))  # fmt: skip
    wall = studio(720, 1080, WALL)
    cases.append(case(
        "img-no-person-wall", BAD, image=img("no-person-wall.jpg", wall), expect=["image.no_person"],
        dont_care=["image.low_contrast"], people=0,
    ))  # fmt: skip
    tiny = cv2.resize(rgb, (300, 300), interpolation=cv2.INTER_AREA)
    cases.append(case(
        "img-too-small", BAD, image=img("too-small.jpg", tiny), expect=["image.too_small"],
        people=1, dont_care=["image.blurry"],
    ))  # fmt: skip
    wide = np.concatenate([studio(512, 512, WALL), rgb, studio(512, 512, WALL)], axis=1)
    wide = np.concatenate([wide, studio(130, 512, WALL)], axis=1)  # 1666x512: aspect 3.25
    cases.append(case(
        "img-aspect-3.25", BAD, image=img("aspect-3.25.jpg", wide), expect=["image.aspect_ratio"],
        people=1, dont_care=["image.small_person"],
    ))  # fmt: skip
    return cases


def make_videos(out: Path, rgb: Frame, mask: Frame) -> list[dict[str, Any]]:
    d = out / "accuracy" / "videos"
    cases: list[dict[str, Any]] = []
    portrait, land = (480, 640), (854, 480)

    def vid(name: str, frames: list[Frame], crf: int = 26) -> str:
        path = d / name
        write_mp4(path, frames, with_audio=False, crf=crf)
        return str(path.relative_to(out))

    # Good.
    a = sway_clip(rgb, mask, 6 * FPS, portrait)
    cases.append(case("vid-sway", GOOD, video=vid("sway.mp4", a), people=1, cuts=[]))
    b = sway_clip(rgb, mask, 6 * FPS, portrait, tint=BLUE_WALL, mirror=True)
    cases.append(
        case("vid-sway-blue-mirrored", GOOD, video=vid("sway-blue.mp4", b), people=1, cuts=[])
    )
    c = sway_clip(rgb, mask, 8 * FPS, land, tint=GREEN_WALL)
    cases.append(
        case("vid-sway-landscape-8s", GOOD, video=vid("sway-land.mp4", c), people=1, cuts=[])
    )
    d720 = sway_clip(rgb, mask, 10 * FPS, (720, 1280))
    cases.append(
        case("vid-sway-720x1280-10s", GOOD, video=vid("sway-720p.mp4", d720), people=1, cuts=[])
    )
    w = land[0]

    # Walks out of frame for 0.5 s of 8 s (a warning at most: under a fifth of the clip).
    def brief_out(t: float) -> float:
        if t < 3.0:
            return 0.5 * w
        if t < 3.75:  # out over 0.75 s
            return 0.5 * w + (t - 3.0) / 0.75 * 0.75 * w
        if t < 4.25:
            return 1.25 * w
        if t < 5.0:
            return 1.25 * w - (t - 4.25) / 0.75 * 0.75 * w
        return 0.5 * w

    cases.append(case(
        "vid-steps-out-briefly", GOOD, video=vid("steps-out-briefly.mp4", walk_clip(rgb, mask, 8 * FPS, land, brief_out)),
        dont_care=["video.no_person", "video.person_leaves_frame"], cuts=[],
        note="walks out of frame at 3.0-3.75 s, gone to 4.25 s, back by 5.0 s",
    ))  # fmt: skip
    still = [render(rgb, mask, portrait, [(240, 0.9, 0.0, False)])] * (5 * FPS)
    cases.append(case(
        "vid-still-person", WARN, video=vid("still.mp4", still), expect=["video.low_motion"],
        people=1, cuts=[], note="one frame repeated for 5 s",
    ))  # fmt: skip
    # Hard cuts at known frames.
    b2 = sway_clip(rgb, mask, 3 * FPS, portrait, tint=BLUE_WALL, mirror=True, start=30)
    cases.append(case(
        "vid-cut-72", BAD, video=vid("cut-72.mp4", a[:72] + b2), expect=["video.scene_cut"],
        people=1, cuts=[72],
    ))  # fmt: skip
    g = sway_clip(rgb, mask, 4 * FPS, portrait, tint=GREEN_WALL, start=10)
    cases.append(case(
        "vid-cuts-50-130", BAD, video=vid("cuts-50-130.mp4", a[:50] + b[:80] + g[:60]),
        expect=["video.scene_cut"], people=1, cuts=[50, 130],
    ))  # fmt: skip
    # Same wall, same person, new framing: a cut between similar shots.
    near = [render(rgb, mask, land, [(0.35 * w, 0.95, rock(i / FPS), False)]) for i in range(96)]
    far = [render(rgb, mask, land, [(0.62 * w, 0.7, rock(i / FPS + 1), False)]) for i in range(72)]
    cases.append(case(
        "vid-cut-similar-96", BAD, video=vid("cut-similar-96.mp4", near + far),
        expect=["video.scene_cut"], people=1, cuts=[96],
        note="same wall and person; framing jumps from 95% to 70% height and moves",
    ))  # fmt: skip
    cases.append(case(
        "vid-cut-late-140", BAD,
        video=vid("cut-late-140.mp4", c[:140] + sway_clip(rgb, mask, 40, land, BLUE_WALL, True)),
        expect=["video.scene_cut"], people=1, cuts=[140],
    ))  # fmt: skip
    # Gradual transitions (no hard cut).
    cases.append(case(
        "vid-fade", BAD, video=vid("fade.mp4", fade(a[:84], b[:84], 18, 18)),
        expect=["video.transition"], dont_care=["video.no_person", "video.scene_cut"], cuts=[],
        note="fade to black over frames 66-83, fade in over 84-101",
    ))  # fmt: skip
    cases.append(case(
        "vid-dissolve", BAD, video=vid("dissolve.mp4", dissolve(a[:84], b[:84], 24)),
        expect=["video.transition"], dont_care=["video.multiple_people", "video.scene_cut"],
        cuts=[], note="cross-dissolve over frames 60-83",
    ))  # fmt: skip

    # People over time.
    def enters(t: float) -> float | None:
        if t < 3.0:
            return None
        return max(0.72 * w, 1.3 * w - (t - 3.0) * 0.58 * w)  # walks in over 1 s

    entering = walk_clip(rgb, mask, 7 * FPS, land, lambda t: 0.28 * w, enters, share=0.85)
    cases.append(case(
        "vid-second-person-enters", BAD, video=vid("second-enters.mp4", entering),
        expect=["video.multiple_people"], people=2, cuts=[],
        dont_care=["video.person_leaves_frame", "video.background_person"],
        note="a second person walks in from the right at 3-4 s and stays",
    ))  # fmt: skip
    both = walk_clip(rgb, mask, 5 * FPS, land, lambda t: 0.28 * w, lambda t: 0.72 * w, share=0.85)
    cases.append(case(
        "vid-two-people", BAD, video=vid("two-people.mp4", both),
        expect=["video.multiple_people"], people=2, cuts=[],
    ))  # fmt: skip

    def leaves(t: float) -> float:
        return 0.5 * w if t < 2.0 else min(1.4 * w, 0.5 * w + (t - 2.0) * 0.9 * w)

    cases.append(case(
        "vid-nobody-half", BAD, video=vid("nobody-half.mp4", walk_clip(rgb, mask, 6 * FPS, land, leaves)),
        expect=["video.no_person"], dont_care=["video.person_leaves_frame", "video.low_motion"],
        cuts=[], note="walks out at 2-3 s; the wall alone from 3 s to 6 s",
    ))  # fmt: skip
    # The API's limits.
    long_ = sway_clip(rgb, mask, 80, (360, 480))
    cases.append(case(
        "vid-too-long-31s", BAD, video=vid("too-long.mp4", (long_ * 10)[: 31 * FPS], crf=34),
        expect=["video.too_long"], people=1, cuts=[],
    ))  # fmt: skip
    cases.append(case(
        "vid-too-short-2s", BAD, video=vid("too-short.mp4", a[: 2 * FPS]),
        expect=["video.too_short"], people=1, cuts=[],
    ))  # fmt: skip
    return cases


def shared_cases() -> list[dict[str, Any]]:
    """../shared/media, labelled from its README: one person each, faces frontal, no cuts."""
    if not SHARED_MEDIA.is_dir():
        print(f"note: {SHARED_MEDIA} absent; the shared cases are left out", file=sys.stderr)
        return []
    s = str(SHARED_MEDIA)
    one = {"people": 1, "group": "shared"}
    return [
        case("shared-elf-character", GOOD, image=f"{s}/elf-character.jpeg", face_view="frontal",
             dont_care=["image.underexposed"], note="README: dark but evenly lit", **one),
        case("shared-robed-man", GOOD, image=f"{s}/robed-man.jpeg", face_view="frontal", **one),
        case("shared-dancer-photo", GOOD, image=f"{s}/dancer-photo.jpg", face_view="frontal", **one),
        case("shared-talk-gestures", GOOD, video=f"{s}/talk-gestures.mp4", cuts=[], **one),
        case("shared-boy-walking", GOOD, video=f"{s}/boy-walking.mp4", cuts=[],
             note="moving camera: a camera_motion warning is fair", **one),
        case("shared-dance-fullbody", BAD, video=f"{s}/dance-fullbody.mp4", cuts=[],
             expect=["video.too_short"], note="2.8 s: under the API's 3 s", **one),
    ]  # fmt: skip


def pair_cases(
    image_cases: list[dict[str, Any]], video_cases: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    by_id = {c["id"]: c for c in image_cases + video_cases}
    prompt = "An astronaut sways gently in a plain studio, soft even light, slow steady movement"
    return [
        case("pair-good", GOOD, image=by_id["img-astronaut"]["image"],
             video=by_id["vid-sway"]["video"], prompt=prompt, people=1, cuts=[]),
        case("pair-studio-good", GOOD, image=by_id["img-studio-portrait"]["image"],
             video=by_id["vid-sway-720x1280-10s"]["video"], prompt=prompt, people=1, cuts=[]),
        case("pair-dark-image", BAD, image=by_id["img-dark-5stops"]["image"],
             video=by_id["vid-sway"]["video"], prompt=prompt, expect=["image.underexposed"],
             dont_care=["image.no_face", "image.no_person", "image.low_contrast", "image.backlit"],
             cuts=[]),
        case("pair-cut-video", BAD, image=by_id["img-astronaut"]["image"],
             video=by_id["vid-cut-72"]["video"], prompt=prompt, expect=["video.scene_cut"],
             people=1, cuts=[72]),
        # A missing prompt warns in a check (nothing is sent) and blocks a submission.
        case("pair-no-prompt", WARN, image=by_id["img-astronaut"]["image"],
             video=by_id["vid-sway"]["video"], expect=["prompt.missing"], people=1, cuts=[]),
        case("pair-no-prompt-submit", BAD, image=by_id["img-astronaut"]["image"],
             video=by_id["vid-sway"]["video"], expect=["prompt.missing"], people=1, cuts=[],
             is_submission=True),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seconds", type=float, default=30.0, help="speed clip length")
    parser.add_argument("--fps", type=int, default=30, help="speed clip frame rate")
    parser.add_argument("--crf", type=int, default=23, help="speed clip x264 CRF")
    parser.add_argument("--grain", type=float, default=2.0, help="speed clip grain sigma (8-bit)")
    parser.add_argument("--skip-speed", action="store_true", help="only the accuracy set")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    started = time.perf_counter()
    rgb, mask = astronaut_and_mask()
    speed: dict[str, Any] = {}
    if not args.skip_speed or not (out / "speed" / "clip.mp4").is_file():
        save_jpeg(out / "speed" / "astronaut.jpg", rgb)
        clip = out / "speed" / "clip.mp4"
        write_speed_clip(clip, rgb, mask, args.seconds, args.fps, args.crf, args.grain)
        print(f"speed clip: {clip} ({clip.stat().st_size / 1e6:.1f} MB)")
    speed = {
        "clip": "speed/clip.mp4", "image": "speed/astronaut.jpg", "seconds": args.seconds,
        "fps": args.fps, "size": [1920, 1080], "crf": args.crf, "preset": "medium",
        "grain_sigma": args.grain,
    }  # fmt: skip
    images = make_images(out, rgb, mask)
    videos = make_videos(out, rgb, mask)
    cases = images + videos + shared_cases() + pair_cases(images, videos)
    labels = {
        "made_by": "benchmarks/make_bench_media.py",
        "video_fps": FPS,
        "speed": speed,
        "verdict_order": ["ready", "warnings", "blocked"],
        "cases": cases,
    }
    (out / "labels.json").write_text(json.dumps(labels, indent=1))
    good = sum(c["max_verdict"] != "blocked" for c in cases)
    bad = sum(c["min_verdict"] == "blocked" for c in cases)
    print(
        f"{len(cases)} cases ({good} must not be blocked, {bad} must be blocked) -> "
        f"{out / 'labels.json'} in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
