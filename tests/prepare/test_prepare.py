"""`kling_prep.prepare` end to end on generated clips with known answers: the window, the path
taken, the check of the prepared files, the refusal that writes nothing, and the CLI."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner

import kling_prep
from kling_prep.cli import main
from kling_prep.errors import KlingPrepError
from kling_prep.media.probe import probe_video
from kling_prep.media.synthetic import FPS, save_jpeg, sway_frames, write_mp4
from kling_prep.report.json_report import SCHEMA_PATH

PROMPT = "A woman sways gently in a plain studio, soft even lighting, slow smooth movement"
SIZE = (360, 480)


@pytest.fixture(scope="module")
def character(astronaut, clip_dir):
    path = clip_dir / "character.jpg"
    save_jpeg(path, astronaut)
    return path


@pytest.fixture(scope="module")
def short_clip(astronaut, astronaut_mask, clip_dir):
    path = clip_dir / "short.mp4"
    write_mp4(path, sway_frames(astronaut, astronaut_mask, 4.0, SIZE))
    return path


@pytest.mark.slow
def test_a_45_s_clip_keeps_the_span_between_the_cut_and_the_second_person(
    astronaut, astronaut_mask, character, clip_dir, tmp_path
):
    # A cut at 12 s, a second person of the same size entering at 38 s.
    width = SIZE[0]
    first = sway_frames(astronaut, astronaut_mask, 12.0, SIZE)
    second = sway_frames(astronaut, astronaut_mask, 33.0, SIZE, tint=(70, 110, 160), mirror=True)
    enters = 26 * FPS
    half = width // 2
    second[enters:] = [
        np.concatenate([f[:, :half], f[:, ::-1][:, half:]], axis=1) for f in second[enters:]
    ]
    source = clip_dir / "long-dance.mp4"
    write_mp4(source, first + second)
    result = kling_prep.prepare(
        kling_prep.PrepareOptions(
            image=character, video=source, out_dir=tmp_path / "ready", prompt=PROMPT
        )
    )
    window = result.window
    assert window is not None
    assert result.window_source == "chosen"
    assert window.start_s >= 12.0 - 1e-3
    assert window.end_s <= 38.0
    assert window.duration_s >= 25.0
    assert window.candidates
    # The prepared video is the window, re-encoded (its sides are raised to 340 px? no: 360
    # already complies; the window starts on the cut, where x264 put a keyframe).
    assert result.video_path is not None
    probe = probe_video(result.video_path)
    assert abs(probe.duration_s - window.duration_s) <= 2 / FPS
    # The first frame is the second shot's (its blue wall), not the last of the first shot.
    import av

    with av.open(str(result.video_path)) as container:
        first_rgb = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert first_rgb[5:40, 5:40, 2].mean() > first_rgb[5:40, 5:40, 0].mean() + 40
    # The prepared files pass the check, by the one check path.
    assert result.check is not None
    assert [f.code for f in result.check.findings if f.severity == "block"] == []
    assert result.check.video is not None
    assert result.check.video.cuts == []
    report = json.loads((tmp_path / "ready" / "report.json").read_text())
    assert report["prepare"]["window"]["candidates"]
    assert report["prepare"]["video"]["path_taken"] == result.path_taken
    assert report["verdict"] == result.check.verdict


def test_a_compliant_pair_is_copied_and_passes_the_check(character, short_clip, tmp_path):
    result = kling_prep.prepare(
        kling_prep.PrepareOptions(
            image=character, video=short_clip, out_dir=tmp_path / "ready", prompt=PROMPT
        )
    )
    assert result.path_taken == "stream_copy"
    assert [s.action for s in result.image_steps] == ["copy"]
    assert result.image_path is not None
    assert result.image_path.read_bytes() == character.read_bytes()
    assert result.check is not None
    assert "block" not in {f.severity for f in result.check.findings}
    assert result.exit_code in (0, 1)
    assert sorted(p.name for p in (tmp_path / "ready").iterdir()) == [
        "character.jpg", "report.json", "short.mp4",
    ]  # fmt: skip


def test_no_window_of_three_seconds_refuses_and_writes_nothing(
    astronaut, astronaut_mask, clip_dir, tmp_path
):
    shots = [
        sway_frames(astronaut, astronaut_mask, 2.0, SIZE, tint=tint, mirror=i % 2 == 1)
        for i, tint in enumerate([(200, 196, 188), (70, 110, 160), (160, 90, 70)])
    ]
    source = clip_dir / "three-shots.mp4"
    write_mp4(source, shots[0] + shots[1] + shots[2])
    out_dir = tmp_path / "ready"
    result = kling_prep.prepare(kling_prep.PrepareOptions(video=source, out_dir=out_dir))
    assert result.is_refused
    assert result.verdict == "refused"
    assert result.exit_code == 2
    assert result.refusal is not None
    assert "three-shots.mp4" in result.refusal.message
    assert "3" in result.refusal.rule
    assert not out_dir.exists()


def test_a_pinned_window_longer_than_the_orientation_allows_is_a_usage_error(short_clip, tmp_path):
    with pytest.raises(KlingPrepError, match="must last 3-10 s"):
        kling_prep.prepare(
            kling_prep.PrepareOptions(
                video=short_clip, out_dir=tmp_path, orientation="image", start_s=0.0, end_s=2.0
            )
        )


def test_the_cli_writes_report_json_and_exits_by_the_verdict(character, short_clip, tmp_path):
    out_dir = tmp_path / "ready"
    run = CliRunner().invoke(
        main,
        ["prepare", "--image", str(character), "--video", str(short_clip), "--out-dir",
         str(out_dir), "--prompt", PROMPT, "--start", "0.9", "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert run.exit_code in (0, 1, 2), run.output
    printed = json.loads(run.output)
    on_disk = json.loads((out_dir / "report.json").read_text())
    assert printed == on_disk
    jsonschema.validate(on_disk, json.loads(SCHEMA_PATH.read_text()))
    assert on_disk["prepare"]["video"]["path_taken"] == "re_encode"
    assert on_disk["prepare"]["window"]["source"] == "pinned"
    assert run.exit_code == on_disk["prepare"]["exit_code"] == 1  # fixed: trimmed


def test_a_check_just_run_on_the_inputs_is_reused_not_repeated(samples, tmp_path, monkeypatch):
    import kling_prep.preparation as preparation

    source = samples / "bad" / "too-long.mp4"
    before = kling_prep.check(kling_prep.CheckRequest(video=source, prompt=PROMPT))
    calls: list[object] = []
    real_check = preparation.check

    def counting_check(request, **kwargs):
        calls.append(request.video)
        return real_check(request, **kwargs)

    monkeypatch.setattr(preparation, "check", counting_check)
    result = kling_prep.prepare(
        kling_prep.PrepareOptions(video=source, out_dir=tmp_path / "ready", prompt=PROMPT),
        input_check=before,
    )
    assert len(calls) == 1  # only the check of what was written
    assert result.input_check is before
    assert result.window is not None
    assert result.video_path is not None
    assert result.window.duration_s <= 30.0


def test_two_prepares_of_the_same_inputs_write_the_same_bytes_whatever_the_cpus(samples, tmp_path):
    # `submit --prepare` hashes the prepared files into the journal before it pays: a redo
    # after a crash prepares again, and only the same bytes make the same hash, which the
    # journal recognises instead of paying twice. The redo may run on fewer CPUs (a container
    # restarted with another limit): the second prepare here may use one. Re-encoded and
    # exposure-corrected on purpose.
    import os

    import kling_prep
    from kling_prep.client.submission import hash_inputs

    cpus = os.sched_getaffinity(0)
    digests = []
    try:
        for name, allowed in (("first", cpus), ("second", {min(cpus)})):
            os.sched_setaffinity(0, allowed)
            result = kling_prep.prepare(
                image=samples / "character.jpg", video=samples / "reference.mp4",
                out_dir=tmp_path / name, prompt="The character sways", allow_stream_copy=False,
                auto_exposure=True,
            )  # fmt: skip
            assert result.image_path is not None
            assert result.video_path is not None
            digests.append(hash_inputs(result.image_path, result.video_path, "The character sways"))
    finally:
        os.sched_setaffinity(0, cpus)
    assert digests[0] == digests[1]
