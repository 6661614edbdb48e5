"""The providers' limits profiles: data with provenance, None where a provider documents
nothing, the choice of profile, and the commands that use it (issue 14, part 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from kling_prep.checks.findings import file_limit_findings
from kling_prep.checks.video import _limit_findings as video_limit_findings
from kling_prep.client import KlingClient
from kling_prep.errors import ConfigError, RequestRejectedError
from kling_prep.limits import (
    PROFILES,
    UNDOCUMENTED_MAX_FETCH_BYTES,
    fetch_cap_bytes,
    get_profile,
    limit_rows,
)
from kling_prep.media.imagefix import fix_image
from kling_prep.media.probe import VideoProbe
from kling_prep.media.transcode import output_size
from kling_prep.sandbox.intake import admit_image
from kling_prep.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VYDRA_API_KEY", None)
    env.pop("KLING_PREP_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "kling_prep", *args],
        capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=120,
    )  # fmt: skip


def _png(path: Path, width: int, height: int) -> Path:
    Image.new("RGB", (width, height), (120, 140, 160)).save(path)
    return path


def _video_probe(width: int, height: int, duration_s: float = 5.0) -> VideoProbe:
    return VideoProbe(
        Path("clip.mp4"), "mp4", 1000, duration_s, width, height, width, height, 0, 25.0,
        int(25 * duration_s), "h264", "yuv420p", "bt709", True, "aac",
    )  # fmt: skip


def test_every_profile_names_its_source_and_when_it_was_read():
    assert set(PROFILES) == {"vydra", "kling", "comfyui", "runway", "kie"}
    for profile in PROFILES.values():
        assert profile.source
        assert "issue 14" in profile.read_on


def test_vydra_marks_every_limit_it_does_not_document_as_assumed():
    vydra = get_profile("vydra")
    for name in vydra.assumed_fields:
        assert getattr(vydra, name) is not None, name
    # What vydra documents is not assumed.
    for name in ("video_max_duration_s", "is_prompt_required", "credits_per_job"):
        assert not vydra.is_assumed(name)
    assert vydra.is_assumed("video_max_bytes")


def test_only_vydra_can_be_submitted_to():
    assert [p.name for p in PROFILES.values() if p.can_submit] == ["vydra"]


def test_an_unknown_profile_lists_the_known_names_with_a_hint():
    with pytest.raises(ConfigError) as caught:
        get_profile("klign")
    assert "did you mean 'kling'" in str(caught.value)
    assert "vydra, kling, comfyui, runway, kie" in str(caught.value)


def test_the_command_line_beats_the_environment_which_beats_the_file(tmp_path):
    config = tmp_path / "kling-prep.toml"
    config.write_text('profile = "runway"\n')
    assert load_settings(config, env={}).profile.name == "runway"
    env = {"KLING_PREP_PROFILE": "kie"}
    assert load_settings(config, env=env).profile.name == "kie"
    assert load_settings(config, env=env, profile_name="kling").profile.name == "kling"


def test_a_limit_a_provider_does_not_document_is_not_checked():
    comfyui = get_profile("comfyui")
    findings = file_limit_findings(
        "image", "me.webp", file_format="webp", shown_format="WEBP", size_bytes=50_000_000,
        profile=comfyui,
    )  # fmt: skip
    assert findings == []
    kie = get_profile("kie")
    assert video_limit_findings(_video_probe(200, 5000), kie, "video", keep_sound=False) == []
    vydra = video_limit_findings(
        _video_probe(200, 5000), get_profile("vydra"), "video", keep_sound=False
    )
    assert [f.code for f in vydra] == ["video.resolution"]


def test_a_finding_of_an_assumed_limit_says_where_the_limit_comes_from():
    (vydra,) = video_limit_findings(
        _video_probe(200, 400), get_profile("vydra"), "video", keep_sound=False
    )
    assert vydra.message.endswith("(Kling's own limit; vydra documents none)")
    (kling,) = video_limit_findings(
        _video_probe(200, 400), get_profile("kling"), "video", keep_sound=False
    )
    assert "documents none" not in kling.message


def test_a_download_with_no_documented_size_limit_still_has_a_cap():
    assert fetch_cap_bytes(None, 4) == UNDOCUMENTED_MAX_FETCH_BYTES
    assert fetch_cap_bytes(10_000_000, 4) == 40_000_000


def test_a_320_px_image_is_kept_under_kling_and_upscaled_under_vydra(tmp_path):
    source = _png(tmp_path / "small.png", 320, 480)
    kept = fix_image(source, tmp_path / "kling", profile=get_profile("kling"))
    assert (kept.width, kept.height) == (320, 480)
    assert [s.action for s in kept.steps] == ["copy"]
    upscaled = fix_image(source, tmp_path / "vydra", profile=get_profile("vydra"))
    assert min(upscaled.width, upscaled.height) == 340
    assert "upscale" in [s.action for s in upscaled.steps]


def test_prepare_scales_a_video_only_to_the_sides_its_profile_documents():
    assert output_size(200, 320, max_short_px=720, profile=get_profile("kie")) == (200, 320)
    assert min(output_size(200, 320, max_short_px=720, profile=get_profile("vydra"))) >= 340


def test_the_sandbox_intake_enforces_the_chosen_profile(tmp_path):
    image = _png(tmp_path / "small.png", 320, 480)
    admit_image(image, get_profile("kling"))  # 300 px minimum: accepted
    with pytest.raises(RequestRejectedError, match="at least 340 px"):
        admit_image(image, get_profile("vydra"))


def test_the_client_refuses_a_profile_whose_api_it_does_not_speak():
    with pytest.raises(ConfigError, match="checking and preparing only"):
        KlingClient("key", base_url="http://127.0.0.1:9", profile=get_profile("kling"))


def test_submit_with_a_check_only_profile_refuses_at_once(tmp_path):
    result = _cli(
        "submit", "--profile", "kling", "--image", "https://x.test/a.jpg",
        "--video", "https://x.test/b.mp4", "--prompt", "A person dances", "--api-key", "k",
    )  # fmt: skip
    assert result.returncode == 3
    assert "'kling' is for checking and preparing only" in result.stderr
    assert "nothing was checked or sent" in result.stderr


def test_batch_submit_refuses_a_row_with_a_check_only_profile(tmp_path):
    manifest = tmp_path / "rows.csv"
    manifest.write_text("image,video,prompt,profile\na.jpg,b.mp4,A person dances,kie\n")
    result = _cli(
        "batch", str(manifest), "--out-dir", str(tmp_path / "out"), "--submit", "--api-key", "k"
    )
    assert result.returncode == 3
    assert "row 1 (line 2) has profile 'kie'" in result.stderr


def test_profiles_lists_each_provider_and_marks_the_limits_that_differ():
    result = _cli("profiles", "--diff")
    assert result.returncode == 0
    for name in PROFILES:
        assert name in result.stdout
    assert "! image min side (px)" in result.stdout
    assert "video max duration" not in result.stdout  # the same for every provider
    data = json.loads(_cli("profiles", "--json").stdout)
    assert data["kling"]["image_min_side_px"] == 300
    assert data["comfyui"]["image_max_bytes"] is None


def test_the_limits_table_has_a_row_for_every_limit_and_a_column_for_every_profile():
    rows = limit_rows()
    assert all(len(r.values) == len(PROFILES) for r in rows)
    same = {r.field_name for r in rows if not r.differs}
    assert same == {"video_min_duration_s", "video_max_duration_s"}
