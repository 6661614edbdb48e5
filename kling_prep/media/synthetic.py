"""Synthetic media with known answers, for the tests and the bundled samples: a cut-out person
swaying in front of a plain wall, written as H.264/AAC MP4 with PyAV; exposure changed by a
known number of stops in linear light."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from numpy.typing import NDArray

FPS = 24

# x264's threads pinned, so a clip comes out the same (bytes and decoded pixels) whatever the
# CPUs the process may use. Left to PyAV's defaults (thread_count 0, thread_type SLICE), x264
# starts one sliced thread per CPU in the process's affinity mask, and the number of slices
# changes the encode: at 480x360 two slices, one (`taskset -c 0`) and four give three different
# clips. Two sliced threads are what a 2-core machine chose, so its clips are unchanged.
X264_THREAD_PARAMS = "threads=2:sliced-threads=1"


def save_jpeg(path: Path, rgb: NDArray[Any], quality: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )


def studio(width: int, height: int, tint: tuple[int, int, int]) -> NDArray[Any]:
    """A plain wall with a soft vertical gradient and a floor line."""
    ramp = np.linspace(1.0, 0.75, height, dtype=np.float32)[:, None, None]
    wall = np.ones((height, width, 3), np.float32) * np.array(tint, np.float32) * ramp
    wall[int(height * 0.86) :] *= 0.7
    return np.clip(wall, 0, 255).astype(np.uint8)


def stand_on_floor(
    canvas: NDArray[np.float32],
    figure: NDArray[Any],
    alpha: NDArray[Any],
    *,
    centre_x: float,
    height_share: float,
    angle_deg: float = 0.0,
) -> NDArray[np.float32]:
    """`canvas` with a cut-out figure blended in through its `alpha` (HxW, 0..1): scaled to
    `height_share` of the canvas's height, rocked by `angle_deg` about a point near its feet,
    centred at x = `centre_x` (pixels), its bottom edge on the canvas's bottom edge.

    Args:
        canvas: HxWx3 float32 (any channel order: the figure must be in the same).
        figure: hxwx3 image of the figure, any numeric dtype.
        alpha: hxw opacity of the figure, 0..1.

    Returns:
        A new HxWx3 float32 canvas (not clipped).
    """
    height, width = canvas.shape[:2]
    scale = height_share * height / figure.shape[0]
    pivot = (figure.shape[1] / 2, figure.shape[0] * 0.95)
    matrix = cv2.getRotationMatrix2D(pivot, angle_deg, scale)
    # The pivot goes to x = centre_x; the figure's bottom edge to the canvas's bottom edge.
    matrix[0, 2] += centre_x - pivot[0]
    matrix[1, 2] += height - pivot[1] - (figure.shape[0] - pivot[1]) * scale
    moved = cv2.warpAffine(np.ascontiguousarray(figure), matrix, (width, height))
    weight = cv2.warpAffine(np.ascontiguousarray(alpha), matrix, (width, height))[..., None]
    return np.asarray(canvas * (1 - weight) + moved.astype(np.float32) * weight, np.float32)


def sway_frames(
    rgb: NDArray[Any], mask: NDArray[Any], seconds: float, size: tuple[int, int],
    tint: tuple[int, int, int] = (200, 196, 188), mirror: bool = False,
) -> list[NDArray[Any]]:  # fmt: skip
    """The cut-out person rocking around the hips and stepping side to side."""
    width, height = size
    if mirror:
        rgb, mask = rgb[:, ::-1].copy(), mask[:, ::-1].copy()
    scale = 0.85 * height / rgb.shape[0]
    person = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(mask, (person.shape[1], person.shape[0]))
    background = studio(width, height, tint)
    frames = []
    for i in range(round(seconds * FPS)):
        t = i / FPS
        angle = 12.0 * math.sin(2 * math.pi * 0.8 * t)
        shift_x = 0.06 * width * math.sin(2 * math.pi * 0.3 * t)
        pivot = (person.shape[1] / 2, person.shape[0] * 0.95)
        matrix = cv2.getRotationMatrix2D(pivot, angle, 1.0)
        matrix[0, 2] += (width - person.shape[1]) / 2 + shift_x
        matrix[1, 2] += height - person.shape[0]
        moved = cv2.warpAffine(person, matrix, (width, height), flags=cv2.INTER_LINEAR)
        weight = cv2.warpAffine(alpha, matrix, (width, height), flags=cv2.INTER_LINEAR)[..., None]
        frame = background * (1 - weight) + moved * weight
        frames.append(frame.astype(np.uint8))
    return frames


def x264_options(crf: int) -> dict[str, str]:
    """libx264 options (CRF `crf`, preset medium, the threads of X264_THREAD_PARAMS) that give
    the same clip whatever the CPUs the process may use. x264's SIMD still matters: SSSE3 up to
    AVX2 gave one clip on an AMD EPYC, its plain-C and SSE2 code another (AVX-512 untried)."""
    return {"crf": str(crf), "preset": "medium", "x264-params": X264_THREAD_PARAMS}


def write_mp4(
    path: Path, frames: list[NDArray[Any]], *, with_audio: bool = True, crf: int = 30
) -> None:
    """H.264 yuv420p + AAC, +faststart, via PyAV (its wheels carry libx264)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {**x264_options(crf)}
        audio = out.add_stream("aac", rate=44100) if with_audio else None
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            rate, total = 44100, len(frames) / FPS
            samples = (0.2 * np.sin(2 * np.pi * 220 * np.arange(int(rate * total)) / rate)).astype(
                np.float32
            )
            for start in range(0, len(samples), 1024):
                chunk = samples[start : start + 1024][None, :]
                sound = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                sound.sample_rate, sound.pts = rate, start
                sound.time_base = Fraction(1, rate)
                for packet in audio.encode(sound):
                    out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)


def darken(rgb: NDArray[Any], stops: float) -> NDArray[Any]:
    """Scale the light by 2**stops in linear light (sRGB decoded and re-encoded)."""
    x = rgb.astype(np.float32) / 255
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) * 2.0**stops
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    return np.clip(srgb * 255 + 0.5, 0, 255).astype(np.uint8)
