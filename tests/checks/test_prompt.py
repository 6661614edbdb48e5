"""The prompt's lint knows common movement words, and the suggested prompt says what the
analysis measured: walking, dancing or gesturing, how much of the body, the camera."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

import kling_prep
from kling_prep.checks.findings import Finding
from kling_prep.checks.prompt import check_prompt, missing_parts, suggest_prompt
from kling_prep.limits import get_profile
from kling_prep.vision.camera import CameraMotion


def test_a_verb_that_says_how_the_body_moves_names_the_movement_style(samples):
    # make run's own prompt: "sways" is both what the astronaut does and how.
    makefile = (samples.parent / "Makefile").read_text(encoding="utf-8")
    prompt = re.search(r'--prompt "([^"]+)"', makefile)
    assert prompt is not None
    assert "sways and turns" in prompt.group(1)
    assert missing_parts(prompt.group(1)) == []
    assert check_prompt(prompt.group(1), get_profile(), "unused") == []


@pytest.mark.parametrize(
    "prompt",
    [
        "A girl twirls gracefully in a park at golden hour",
        "A man strides down a street in daylight, moving briskly",
        "A dancer moves gently on a stage under a spotlight",
    ],
)
def test_common_movement_words_are_known(prompt):
    assert missing_parts(prompt) == []


def test_a_prompt_without_style_is_still_told_so():
    assert missing_parts("A man talks at a desk in a bright studio") == ["movement style"]


@pytest.fixture(scope="module")
def swaying(samples):
    result = kling_prep.check(
        kling_prep.CheckRequest(video=samples / "reference.mp4", keep_sound=False)
    )
    assert result.video is not None
    return result.video


def _with(video, **changes):
    """The report with every read sample's framing and box set, growing by `grow` over the clip."""
    grow = changes.pop("grow", 1.0)
    framing = changes.pop("framing", None)
    read = [i for i, s in enumerate(video.samples) if s.pose_read]
    timeline = list(video.samples)
    for k, i in enumerate(read):
        scale = 1.0 + (grow - 1.0) * k / max(1, len(read) - 1)
        timeline[i] = replace(
            timeline[i], main_box=(100, 50, int(60 * scale), int(200 * scale)),
            framing=framing or timeline[i].framing,
        )  # fmt: skip
    return replace(video, samples=timeline, framing=framing or video.framing, **changes)


def test_a_person_growing_in_the_picture_walks_toward_the_camera(swaying):
    suggestion = suggest_prompt(None, _with(swaying, grow=2.0))
    assert suggestion.startswith("The character walks toward the camera")


def test_a_whole_body_moving_in_place_dances(swaying):
    suggestion = suggest_prompt(None, _with(swaying, framing="full_body"))
    assert "dances" in suggestion
    assert "full body in view" in suggestion


def test_an_upper_body_in_place_gestures(swaying):
    suggestion = suggest_prompt(None, _with(swaying, framing="upper_body"))
    assert "gestures" in suggestion
    assert "upper body in view" in suggestion


def _camera(tracked_fraction: float) -> CameraMotion:
    """A still camera, its background tracked in this share of the intervals."""
    return CameraMotion(
        pan_pct_per_s_median=0.0, pan_pct_per_s_max=0.0, tilt_pct_per_s_median=0.0,
        tilt_pct_per_s_max=0.0, zoom_pct_per_s_median=0.0, zoom_pct_per_s_max=0.0,
        rotation_deg_per_s_median=0.0, rotation_deg_per_s_max=0.0, shake_pct=0.0,
        tracked_fraction=tracked_fraction, intervals=[],
    )  # fmt: skip


def test_the_camera_is_said_moving_or_still_only_where_it_was_measured(swaying):
    moved = Finding("video.camera_motion", "warn", "pans", 9.0, 5.0, "% of frame/s")
    assert suggest_prompt(None, _with(swaying, findings=[moved])).endswith("moving camera")
    tracked = _with(swaying, camera=_camera(0.9), findings=[])
    assert suggest_prompt(None, tracked).endswith("static camera")
    untracked = _with(swaying, camera=_camera(0.1), findings=[])
    assert "camera" not in suggest_prompt(None, untracked)


def test_the_suggestion_passes_its_own_lint(swaying):
    for video in (None, swaying, _with(swaying, grow=2.0), _with(swaying, framing="full_body")):
        assert missing_parts(suggest_prompt(None, video)) == []


@pytest.mark.shared_media
@pytest.mark.parametrize(
    ("name", "said"),
    [("boy-walking.mp4", "walks toward the camera"), ("talk-gestures.mp4", "gestures")],
)
def test_real_footage_gets_a_suggestion_of_what_it_shows(shared_media, name, said):
    result = kling_prep.check(kling_prep.CheckRequest(video=shared_media / name, keep_sound=False))
    assert said in result.suggested_prompt
    assert "studio" not in result.suggested_prompt
