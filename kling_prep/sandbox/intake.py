"""What the sandbox does with a submission's body: read the fields, fetch the URLs, apply the
documented limits. Each refusal is a `RequestRejectedError` carrying the HTTP status to answer
(400 for the body, 422 for the media) and a message naming the field, the value and the rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from kling_prep.errors import KlingPrepError, RequestRejectedError
from kling_prep.limits import ApiProfile, Orientation
from kling_prep.media.probe import VideoProbe, probe_image, probe_video

logger = logging.getLogger(__name__)


def _refusal(status_code: int, message: str) -> RequestRejectedError:
    return RequestRejectedError(message, status_code=status_code)


@dataclass(frozen=True)
class SubmissionFields:
    """A submission's body, read and typed."""

    image_url: str
    video_url: str
    prompt: str
    character_orientation: Orientation
    keep_original_sound: bool


def read_fields(body: Any, profile: ApiProfile) -> SubmissionFields:
    """The body's fields, checked for presence and type (400 otherwise).

    Raises:
        RequestRejectedError: 400, naming the field.
    """
    if not isinstance(body, dict):
        raise _refusal(400, "the body must be a JSON object")
    for name in ("image_url", "video_url"):
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise _refusal(400, f"{name} is required and must be a URL string")
        if urlsplit(value).scheme not in ("http", "https"):
            raise _refusal(400, f"{name} must be an http(s) URL, not {value[:80]!r}")
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        raise _refusal(400, "prompt must be a string")
    if profile.is_prompt_required and not prompt.strip():
        raise _refusal(400, "prompt is required")
    if profile.prompt_max_chars is not None and len(prompt) > profile.prompt_max_chars:
        raise _refusal(
            400, f"prompt has {len(prompt)} characters; the limit is {profile.prompt_max_chars}"
        )
    orientation = body.get("character_orientation")
    if orientation not in ("video", "image"):
        raise _refusal(
            400, f"character_orientation must be 'video' or 'image', not {orientation!r}"
        )
    keep_sound = body.get("keep_original_sound", True)
    if not isinstance(keep_sound, bool):
        raise _refusal(400, "keep_original_sound must be a boolean")
    return SubmissionFields(
        image_url=body["image_url"],
        video_url=body["video_url"],
        prompt=prompt,
        character_orientation=orientation,
        keep_original_sound=keep_sound,
    )


def fetch_to_file(
    url: str, dest_path: Path, *, field: str, max_bytes: int, timeout_s: float
) -> None:
    """Download `url` to `dest_path`, refusing more than `max_bytes` (loopback allowed).

    Raises:
        RequestRejectedError: 422 when the URL cannot be fetched or is too large.
    """
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=True) as http,
            http.stream("GET", url) as response,
        ):
            if not response.is_success:
                raise _refusal(
                    422, f"{field} could not be fetched: it answered {response.status_code}"
                )
            size_bytes = 0
            with dest_path.open("wb") as out:
                for chunk in response.iter_bytes(1 << 16):
                    size_bytes += len(chunk)
                    if size_bytes > max_bytes:
                        raise _refusal(
                            422, f"{field} is larger than the limit of {max_bytes} bytes"
                        )
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise _refusal(422, f"{field} could not be fetched: {type(exc).__name__}") from exc


def admit_image(path: Path, profile: ApiProfile) -> None:
    """Apply the image limits: format, size, smallest side, aspect ratio.

    Raises:
        RequestRejectedError: 422, naming the value and the rule.
    """
    try:
        image = probe_image(path)
    except KlingPrepError as exc:
        raise _refusal(422, f"image_url is not a readable image ({exc})") from exc
    # A limit the profile does not document (None) is not applied, as the provider would not.
    if profile.image_formats is not None and image.format not in profile.image_formats:
        raise _refusal(
            422,
            f"image_url is {image.format or 'unknown'}; accepted: "
            + ", ".join(profile.image_formats),
        )
    if profile.image_max_bytes is not None and image.size_bytes > profile.image_max_bytes:
        raise _refusal(
            422, f"image_url has {image.size_bytes} bytes; the limit is {profile.image_max_bytes}"
        )
    least, most = profile.image_min_side_px, profile.image_max_side_px
    if least is not None and min(image.width, image.height) < least:
        raise _refusal(
            422,
            f"image_url is {image.width}x{image.height}; each side must be at least {least} px",
        )
    if most is not None and max(image.width, image.height) > most:
        raise _refusal(
            422, f"image_url is {image.width}x{image.height}; no side may exceed {most} px"
        )
    aspect = image.width / image.height
    low, high = profile.image_min_aspect, profile.image_max_aspect
    if (low is not None and aspect < low) or (high is not None and aspect > high):
        raise _refusal(
            422,
            f"image_url has aspect ratio {aspect:.2f}; it must be between "
            f"{low or 0:.2f} and {high or float('inf'):.2f}",
        )


def admit_video(path: Path, profile: ApiProfile, orientation: Orientation) -> VideoProbe:
    """Apply the video limits: container, size, sides, duration for the orientation.

    Returns:
        The probe, for the renderer.

    Raises:
        RequestRejectedError: 422, naming the value and the rule.
    """
    try:
        video = probe_video(path)
    except KlingPrepError as exc:
        raise _refusal(422, f"video_url is not a readable video ({exc})") from exc
    if profile.video_containers is not None and video.container not in profile.video_containers:
        raise _refusal(
            422,
            f"video_url is {video.container}; accepted: {', '.join(profile.video_containers)}",
        )
    if profile.video_max_bytes is not None and video.size_bytes > profile.video_max_bytes:
        raise _refusal(
            422, f"video_url has {video.size_bytes} bytes; the limit is {profile.video_max_bytes}"
        )
    least, most = profile.video_min_side_px, profile.video_max_side_px
    if least is not None and min(video.width, video.height) < least:
        raise _refusal(
            422,
            f"video_url is {video.width}x{video.height}; each side must be at least {least} px",
        )
    if most is not None and max(video.width, video.height) > most:
        raise _refusal(
            422, f"video_url is {video.width}x{video.height}; no side may exceed {most} px"
        )
    max_duration_s = profile.max_duration_s(orientation)
    if not profile.video_min_duration_s <= video.duration_s <= max_duration_s:
        raise _refusal(
            422,
            f"video_url lasts {video.duration_s:.2f} s; with character_orientation "
            f"{orientation!r} it must last {profile.video_min_duration_s:g}-{max_duration_s:g} s",
        )
    return video
