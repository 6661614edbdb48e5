"""Cuts on real third-party footage from ../shared/realset (skipped where it is absent): every
labelled cut is found on its frame, and clips that decode never crash the check."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from kling_prep.media.frames import ScanSpec, scan_video
from kling_prep.media.probe import probe_video
from kling_prep.vision.cuts import CutDetector
from kling_prep.vision.video import locate_cuts

REALSET = Path(__file__).resolve().parents[3] / "shared" / "realset"
LABELS = REALSET / "labels-videos.json"
TOLERANCE_FRAMES = 2
"""The realset's scoring rule: a cut is found when reported within 2 frames of its label."""

needs_realset = pytest.mark.skipif(
    not LABELS.is_file(), reason=f"the real development set {REALSET} is absent"
)


@cache
def labels() -> dict[str, dict[str, Any]]:
    if not LABELS.is_file():
        return {}
    return {Path(label["file"]).name: label for label in json.loads(LABELS.read_text())}


@cache
def found_cuts(name: str) -> list[int]:
    """The cut frames the check reports for a realset video, by the check's own cut path."""
    path = REALSET / "videos" / name
    probe = probe_video(path)
    fps = probe.fps or 25.0
    detector = CutDetector(fps)
    scan_video(path, ScanSpec(sample_fps=0.5, max_side_px=64), on_thumb=detector.push)
    return [mark.frame for mark in locate_cuts(path, detector.finish(), fps, 64)]


def names_with_cuts() -> list[str]:
    return sorted(name for name, label in labels().items() if label["cut_frames"])


@needs_realset
@pytest.mark.slow
def test_a_clip_whose_timestamps_collide_at_its_average_rate_is_checked() -> None:
    # 2160/77 fps on average, frames 1/30 s apart: time x average rate gave two frames one index.
    import kling_prep

    result = kling_prep.check(
        kling_prep.CheckRequest(
            video=str(REALSET / "videos" / "two-person-interaction.mp4"), keep_sound=False
        )
    )
    assert result.video is not None
    assert result.video.cuts == []


@needs_realset
@pytest.mark.parametrize("name", names_with_cuts() or ["(realset absent)"])
def test_every_labelled_cut_is_found_within_two_frames(name: str) -> None:
    truth = labels()[name]["cut_frames"]
    found = found_cuts(name)
    missed = [t for t in truth if not any(abs(f - t) <= TOLERANCE_FRAMES for f in found)]
    assert missed == [], f"{name}: labelled {truth}, found {found}"


@needs_realset
def test_cut_frames_count_from_the_first_decoded_frame_of_a_late_starting_stream() -> None:
    # The webm's stream starts 3 ms in and cuts at its third frame (index 2).
    assert found_cuts("tears-of-steel-cut-at-0.08s.webm") == [2]


def names_without_cuts() -> list[str]:
    """Clips labelled (with certainty) as having no hard cut: continuous shots, among them a
    10 fps still scene whose encoder puts a keyframe every 2 s, and a slide whose panels appear
    one by one."""
    return sorted(
        name
        for name, label in labels().items()
        if not label["cut_frames"] and not label["uncertain"]
    )


@needs_realset
@pytest.mark.parametrize("name", names_without_cuts() or ["(realset absent)"])
def test_a_clip_without_cuts_gets_none(name: str) -> None:
    assert found_cuts(name) == []
