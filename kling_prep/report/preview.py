"""The motion preview: the video's skeleton, read at the check's samples, drawn over the
character image (`checks/motionmap.py` places it), as frames for the HTML report's strip and as
an animated WebP (GIF where Pillow lacks animated WebP) for `kling-prep preview`.

The image sits on a grey margin so limbs that leave its frame stay visible; a limb that leaves
the frame or that the image does not show is drawn in the warning colour.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from kling_prep.checks.motionmap import MappedPose, MotionMap
from kling_prep.media.outputs import write_atomically
from kling_prep.preflight import CheckResult

OK_RGB = (0, 200, 255)  # cyan: a limb inside the frame that the image shows
WARN_RGB = (255, 140, 0)  # the report's warning orange
FRAME_S = 0.5  # each read sample on screen this long (see `preview_frames`)
_MARGIN_GREY = (70, 70, 70)


def _thickness(size_px: int) -> int:
    return max(2, round(size_px / 300))


def margins_px(motion: MotionMap) -> tuple[int, int, int, int]:
    """Left, top, right, bottom room around the image that shows every mapped limb of the
    clip (the same for every frame, so the image stays put in the animation), a little more
    than the body reaches, and at most the image's longer side: past that, the skeleton is
    clipped at the canvas's edge and the finding's percentage says how far it went."""
    width, height = motion.image_size
    cap = max(width, height)
    pad = round(0.03 * cap)
    seen = [p.points_px[[i for s in p.segments for i in s]] for p in motion.poses if p.segments]
    if not seen:
        return (pad, pad, pad, pad)
    points = np.concatenate(seen)
    reach = (
        -points[:, 0].min(), -points[:, 1].min(),
        points[:, 0].max() - width, points[:, 1].max() - height,
    )  # fmt: skip
    out = tuple(int(min(cap, max(0.0, float(r)) + pad)) for r in reach)
    return (out[0], out[1], out[2], out[3])


def draw_mapped(
    image_rgb: NDArray[Any],
    pose: MappedPose,
    margins: tuple[int, int, int, int],
    *,
    inset_rgb: NDArray[Any] | None = None,
    label: str = "",
) -> NDArray[np.uint8]:
    """The image (at its analysed size, the map's pixels) on a grey margin, with one sample's
    mapped skeleton, the image's frame outlined, and the video's sample in a column beside it.

    Args:
        margins: left, top, right, bottom grey room around the image (`margins_px`).

    Returns:
        RGB uint8: the image plus its margins, plus the column when `inset_rgb` is given and
        the bar when `label` is.
    """
    height, width = image_rgb.shape[:2]
    left, top, right, bottom = margins
    canvas = np.empty((height + top + bottom, width + left + right, 3), np.uint8)
    canvas[:] = _MARGIN_GREY
    canvas[top : top + height, left : left + width] = image_rgb
    size = max(canvas.shape[:2])
    thick = _thickness(size)
    cv2.rectangle(canvas, (left - 1, top - 1), (left + width, top + height), (255, 255, 255), 1)
    # The map's pixels are the image's analysed pixels; the canvas shifts them by the margins.
    points = pose.points_px + np.array([left, top])
    for (a, b), is_warned in zip(pose.segments, pose.is_warned, strict=True):
        color = WARN_RGB if is_warned else OK_RGB
        cv2.line(canvas, _pt(points[a]), _pt(points[b]), color, thick, cv2.LINE_AA)
    for i in {i for segment in pose.segments for i in segment}:
        cv2.circle(canvas, _pt(points[i]), thick + 1, (255, 255, 255), -1, cv2.LINE_AA)
    if inset_rgb is not None:
        # The video's own sample in a column beside the canvas (over the margin it would hide
        # the limbs that leave the image).
        panel_w = max(32, round(0.3 * canvas.shape[1]))
        scale = min(panel_w / inset_rgb.shape[1], canvas.shape[0] / inset_rgb.shape[0])
        inset_size = (
            max(1, round(inset_rgb.shape[1] * scale)),
            max(1, round(inset_rgb.shape[0] * scale)),
        )
        inset = cv2.resize(inset_rgb, inset_size, interpolation=cv2.INTER_AREA)
        panel = np.zeros((canvas.shape[0], panel_w + 4, 3), np.uint8)
        panel[: inset.shape[0], 4 : 4 + inset.shape[1]] = inset
        canvas = np.hstack([canvas, panel])
    if label:
        font = max(0.5, size / 900)
        # A black bar under the canvas, not over it: it would hide the lowest limbs.
        canvas = np.vstack([canvas, np.zeros((round(30 * font), canvas.shape[1], 3), np.uint8)])
        cv2.putText(
            canvas, label, (round(8 * font), canvas.shape[0] - round(9 * font)),
            cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255), max(1, round(font * 1.5)), cv2.LINE_AA,
        )  # fmt: skip
    return canvas


def _pt(p: NDArray[Any]) -> tuple[int, int]:
    # OpenCV takes 32-bit coordinates: keep a wild point far off the canvas but representable.
    x, y = (int(np.clip(v, -1e6, 1e6)) for v in p)
    return x, y


def _label(pose: MappedPose) -> str:
    text = f"video {pose.time_s:.1f} s"
    if pose.outside_pct >= 0.5:
        text += f"  {pose.outside_pct:.0f}% outside"
    if any(pose.is_warned) and pose.outside_pct < 0.5:
        text += "  limbs the image lacks"
    return text


def preview_frames(
    result: CheckResult, *, max_side_px: int = 720
) -> list[tuple[float, NDArray[np.uint8]]]:
    """(time_s, RGB) for every read sample the video's body was placed on the image.

    Each frame is the image with that sample's skeleton and the video's sample beside it,
    scaled so its longer side is at most `max_side_px`. Empty when there is no map (no pose in
    the image, no body in the video, or the reports carry no pictures).
    """
    motion = result.motion_map
    image = result.image.artefacts if result.image is not None else None
    video = result.video.artefacts if result.video is not None else None
    if motion is None or image is None:
        return []
    samples = {round(s.time_s, 3): s.rgb for s in video.samples} if video is not None else {}
    margins = margins_px(motion)
    frames = []
    for pose in motion.poses:
        frame: NDArray[Any] = draw_mapped(
            image.rgb, pose, margins, inset_rgb=samples.get(round(pose.time_s, 3)),
            label=_label(pose),
        )  # fmt: skip
        scale = max_side_px / max(frame.shape[:2])
        if scale < 1:
            frame = cv2.resize(
                frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)),
                interpolation=cv2.INTER_AREA,
            )  # fmt: skip
        frames.append((pose.time_s, np.ascontiguousarray(frame, np.uint8)))
    return frames


def strip_picks(result: CheckResult, *, max_tiles: int = 6) -> list[int]:
    """Indices into `result.motion_map.poses` for the report's strip: up to `max_tiles` spread
    over the clip, the sample most outside the frame always among them."""
    motion = result.motion_map
    if motion is None or not motion.poses:
        return []
    count = len(motion.poses)
    picks = {int(k) for k in np.linspace(0, count - 1, min(max_tiles, count)).round()}
    if motion.worst is not None:
        worst_s = motion.worst[0]
        worst = min(range(count), key=lambda i: abs(motion.poses[i].time_s - worst_s))
        if worst not in picks:
            # It takes the place of the spread's nearest pick, so the strip keeps its length.
            picks.discard(min(picks, key=lambda i: abs(i - worst)))
            picks.add(worst)
    return sorted(picks)


def preview_strip(
    result: CheckResult, *, max_tiles: int = 6, tile_height_px: int = 300
) -> list[tuple[float, NDArray[np.uint8]]]:
    """The frames of `strip_picks` (time_s, RGB), each `tile_height_px` high."""
    frames = preview_frames(result, max_side_px=2 * tile_height_px)
    out: list[tuple[float, NDArray[np.uint8]]] = []
    for i in strip_picks(result, max_tiles=max_tiles):
        time_s, rgb = frames[i]
        scale = tile_height_px / rgb.shape[0]
        size = (max(1, round(rgb.shape[1] * scale)), tile_height_px)
        tile = np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), np.uint8)
        out.append((time_s, tile))
    return out


def has_animated_webp() -> bool:
    """Whether this Pillow writes animated WebP: older ones name it as a feature of its own
    (`webp_anim`); from Pillow 11 every WebP build does, and the name is gone."""
    from PIL import features

    if "webp_anim" in features.features:
        return bool(features.check_feature("webp_anim"))
    return bool(features.check_module("webp"))


def write_preview(result: CheckResult, path: Path) -> Path:
    """Write the animated preview: WebP for a `.webp` path (GIF next to it, `.gif`, where this
    Pillow cannot write animated WebP), GIF for a `.gif` path. Each read sample stays
    `FRAME_S` on screen: the reads are half a second and a second and a half apart in turn, and
    showing them at their own pace would hold some poses three times as long as others.

    Returns:
        The path written.

    Raises:
        ValueError: no preview to draw (see `preview_frames`) or an unknown suffix.
    """
    from PIL import Image

    frames = preview_frames(result)
    if not frames:
        raise ValueError(
            "no motion preview: the image shows no pose, or the video no body to place on it"
        )
    suffix = path.suffix.lower()
    if suffix not in (".webp", ".gif"):
        raise ValueError(f"{path.name}: the preview is written as .webp or .gif")
    if suffix == ".webp" and not has_animated_webp():
        path = path.with_suffix(".gif")
        suffix = ".gif"
    pictures = [Image.fromarray(rgb) for _, rgb in frames]
    buffer = io.BytesIO()
    duration_ms = round(1000 * FRAME_S)
    if suffix == ".webp":
        pictures[0].save(
            buffer, format="WEBP", save_all=True, append_images=pictures[1:],
            duration=duration_ms, loop=0, quality=80,
        )  # fmt: skip
    else:
        pictures[0].save(
            buffer, format="GIF", save_all=True, append_images=pictures[1:],
            duration=duration_ms, loop=0, optimize=True,
        )  # fmt: skip
    write_atomically(buffer.getvalue(), path)
    return path


_ANCHORS = {"torso": "torsos", "shoulders": "shoulders", "head": "heads"}


def render_preview(result: CheckResult, asked: Path, written: Path) -> list[str]:
    """What `preview` prints: a GIF written where an animated WebP was asked for, the preview's
    frames and how the skeleton was placed, then the pair's framing findings."""
    lines = []
    if asked.suffix.lower() == ".webp" and not has_animated_webp():
        lines.append(f"this Pillow cannot write animated WebP: wrote a GIF instead, {written}")
    motion = result.motion_map
    if motion is not None:
        how = _ANCHORS[motion.mapping.anchor]
        lines.append(
            f"preview: {written} ({len(motion.poses)} frames, {FRAME_S:g} s each; placed by the "
            f"two {how} at {motion.mapping.anchor_time_s:.1f} s; "
            f"{motion.outside_pct:.0f}% of the skeleton outside the image over the clip)"
        )
    lines += [f"{f.severity}  {f.code}  {f.message}" for f in result.pair_findings]
    return lines
