"""`prepare` into a folder that already holds files: refused unless --force, and then only what
an earlier prepare wrote (its report.json and the files it lists) is removed, never other files,
so report.json always describes every prepared file beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import kling_prep
from kling_prep.cli import main
from kling_prep.errors import KlingPrepError
from kling_prep.media.synthetic import save_jpeg

PROMPT = "A man in a robe gestures in a plain studio, soft even lighting, slow smooth movement"


@pytest.fixture(scope="module")
def photos(astronaut, clip_dir) -> tuple[Path, Path]:
    first, second = clip_dir / "first.jpg", clip_dir / "second.jpg"
    save_jpeg(first, astronaut)
    save_jpeg(second, astronaut[:, ::-1])
    return first, second


@pytest.fixture
def earlier_run(photos, tmp_path) -> Path:
    """A folder an earlier prepare wrote into, plus a file of the user's."""
    out = tmp_path / "ready"
    kling_prep.prepare(kling_prep.PrepareOptions(image=photos[0], out_dir=out, prompt=PROMPT))
    assert sorted(p.name for p in out.iterdir()) == ["first.jpg", "report.json"]
    (out / "notes.txt").write_text("mine")
    return out


def test_a_folder_with_files_is_refused_without_force_and_left_as_it_was(photos, earlier_run):
    before = {p.name: p.read_bytes() for p in earlier_run.iterdir()}
    with pytest.raises(KlingPrepError, match=r"not empty.*--force") as caught:
        kling_prep.prepare(
            kling_prep.PrepareOptions(image=photos[1], out_dir=earlier_run, prompt=PROMPT)
        )
    assert str(earlier_run) in str(caught.value)
    assert {p.name: p.read_bytes() for p in earlier_run.iterdir()} == before


def test_force_removes_only_what_the_earlier_prepare_wrote(photos, earlier_run):
    result = kling_prep.prepare(
        kling_prep.PrepareOptions(image=photos[1], out_dir=earlier_run, prompt=PROMPT, force=True)
    )
    assert sorted(p.name for p in earlier_run.iterdir()) == [
        "notes.txt", "report.json", "second.jpg",
    ]  # fmt: skip
    assert (earlier_run / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in result.removed_paths) == ["first.jpg", "report.json"]
    assert [p.name for p in result.kept_paths] == ["notes.txt"]
    report = json.loads((earlier_run / "report.json").read_text())
    assert Path(report["prepare"]["image"]["path"]).name == "second.jpg"


def test_force_never_writes_over_a_file_no_prepare_wrote(photos, tmp_path):
    out = tmp_path / "ready"
    out.mkdir()
    (out / "first.jpg").write_bytes(b"the user's own picture")
    with pytest.raises(KlingPrepError, match=r"first\.jpg"):
        kling_prep.prepare(
            kling_prep.PrepareOptions(image=photos[0], out_dir=out, prompt=PROMPT, force=True)
        )
    assert (out / "first.jpg").read_bytes() == b"the user's own picture"


def test_the_cli_refuses_a_non_empty_folder_with_exit_3_and_no_traceback(photos, earlier_run):
    args = ["prepare", "--image", str(photos[1]), "--out-dir", str(earlier_run), "--prompt", PROMPT]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 3, refused.output
    assert "not empty" in refused.output
    assert "--force" in refused.output
    assert "Traceback" not in refused.output
    forced = CliRunner().invoke(main, [*args, "--force"])
    assert forced.exit_code in (0, 1), forced.output
    assert "removed first.jpg, report.json" in forced.output
    assert "kept    notes.txt" in forced.output
