"""One `identity()` keys rows and submissions, and every hash already on disk still matches.

The literal hashes below were computed by the code before `kling_prep.identity` existed (four
separate hashes in batch/row.py, batch/runner.py and client/submission.py). Results files and
journals hold them: if a literal changes, existing results are re-run and, worse, a journal no
longer recognises a submission already paid for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kling_prep.batch.manifest import read_manifest
from kling_prep.batch.results import ResultStore
from kling_prep.batch.row import BatchOptions, WorkerConfig, row_key, settings_identity
from kling_prep.batch.runner import plan_batch
from kling_prep.client import JobJournal, hash_inputs
from kling_prep.client.contract import SubmitRequest
from kling_prep.errors import DuplicateSubmissionError
from kling_prep.identity import identity
from kling_prep.settings import Settings

PROMPT = "un café ☕"  # non-ASCII on purpose: the encodings differed there

# A row key's parts, as batch.row.row_key builds them.
ROW_PARTS: dict[str, Any] = {
    "version": 1,
    "image": "sha256:" + "ab" * 32,
    "video": "https://example.com/v é.mp4",
    "prompt": PROMPT,
    "orientation": None,
    "keep_sound": False,
    "settings": {"profile": {"name": "vydra"}, "thresholds": {"x": 0.25}, "allow_no_face": False},
    "allow_no_face": None,
    "prepare": True,
    "submit": True,
    "strict": False,
    "base_url": "https://api.example.com/v1",
}
OLD_ROW_HASH = "0565aa27aff54105b00d8ccb083ea98f28dd37e2079cefa21e346f8d9a59c9fa"
MISSING_PARTS: dict[str, Any] = {
    "row": 5, "line": 6, "image": "/m/missing-é.jpeg", "video": "/m/v.mp4",
    "prompt": "missing naïve", "orientation": "video", "keep_sound": True, "profile": None,
}  # fmt: skip
OLD_MISSING_HASH = "8d6f8bef7b0e624a0f795a828ced5142207b3e1d3574ca105b9ece419a8624e1"
OLD_ROW_ERROR_KEY = "row-error:4ee2a2f109fa913f8f4606ebac921fa2d283ef2fd499508466810f926e140aac"
OLD_FILES_HASH = "7e211045ebaa8cf6062c78ba5e82358b9162fec3c1254566f877ebf546fdd322"
OLD_URLS_HASH = "a74b2c4147702e8c5c89d5894ac6b960384ccb49f34b60585d01655d013869a1"


def _files(root: Path) -> tuple[Path, Path]:
    image, video = root / "i.jpg", root / "v.mp4"
    image.write_bytes(b"image bytes \x00\xff")
    video.write_bytes(b"video bytes")
    return image, video


def test_identity_gives_the_hashes_the_old_code_stored():
    assert identity(ROW_PARTS) == OLD_ROW_HASH
    assert identity([MISSING_PARTS], ascii_only=True) == OLD_MISSING_HASH
    # The two encodings differ only where there is non-ASCII text.
    assert identity([MISSING_PARTS]) != OLD_MISSING_HASH
    assert identity({"a": "plain"}) == identity({"a": "plain"}, ascii_only=True)


def test_identity_sorts_keys_and_writes_other_values_as_text():
    assert identity({"b": 1, "a": 2}) == identity({"a": 2, "b": 1})
    assert identity({"p": Path("/x/y")}) == identity({"p": "/x/y"})
    assert identity({"a": 1}) != identity({"a": "1"})


def test_a_submission_hash_is_the_one_the_journal_holds(tmp_path):
    image, video = _files(tmp_path)
    assert (
        hash_inputs(image, video, PROMPT, character_orientation="image", keep_original_sound=False)
        == OLD_FILES_HASH
    )
    assert hash_inputs("https://example.com/a é.jpg", "https://example.com/v.mp4", "naïve") == (
        OLD_URLS_HASH
    )


def test_a_journal_written_with_the_old_hash_refuses_the_same_inputs(tmp_path):
    image, video = _files(tmp_path)
    journal = JobJournal(tmp_path / "journal.sqlite")
    request = SubmitRequest("https://u/i.jpg", "https://u/v.mp4", PROMPT, "image", False)
    journal.record_intent(request, inputs_hash=OLD_FILES_HASH, intended_credits=40)
    new_hash = hash_inputs(
        image, video, PROMPT, character_orientation="image", keep_original_sound=False
    )
    with pytest.raises(DuplicateSubmissionError):
        journal.check_admission(new_hash, 40)


def test_a_results_file_with_the_old_row_error_key_is_recognised(tmp_path):
    (tmp_path / "m.csv").write_text(
        f"image,video,prompt,orientation\nrobed.jpeg,talk.mp4,{PROMPT},sideways\n",
        encoding="utf-8",
    )
    manifest = read_manifest(tmp_path / "m.csv")
    with ResultStore(tmp_path / "out") as store:
        store.append({"key": OLD_ROW_ERROR_KEY, "row": 1, "final": True, "status": "error"})
        plan = plan_batch(manifest, store, Settings(), BatchOptions())
        assert plan.keys == {1: OLD_ROW_ERROR_KEY}
        assert len(store.lines()) == 1  # known: not written again


def _old_row_key(parts: dict[str, Any]) -> str:
    # batch/row.py's encoding before kling_prep.identity, verbatim.
    encoded = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def test_a_row_key_is_the_old_encoding_of_its_parts_and_its_result_is_skipped(tmp_path):
    image, video = _files(tmp_path)
    (tmp_path / "m.csv").write_text(
        f"image,video,prompt,keep_sound\ni.jpg,v.mp4,{PROMPT},false\n", encoding="utf-8"
    )
    manifest = read_manifest(tmp_path / "m.csv")
    settings, options = Settings(), BatchOptions(prepare=True)
    old_key = _old_row_key({
        "version": 1,
        "image": "sha256:" + hashlib.sha256(image.read_bytes()).hexdigest(),
        "video": "sha256:" + hashlib.sha256(video.read_bytes()).hexdigest(),
        "prompt": PROMPT, "orientation": None, "keep_sound": False,
        "settings": settings_identity(settings), "allow_no_face": None,
        "prepare": True, "submit": False, "strict": False, "base_url": None,
    })  # fmt: skip
    assert row_key(manifest.rows[0], settings, options) == old_key
    with ResultStore(tmp_path / "out") as store:
        store.append({"key": old_key, "row": 1, "final": True, "status": "done"})
        plan = plan_batch(manifest, store, settings, options)
    assert (plan.tasks, plan.skipped) == ([], 1)


def test_a_worker_configuration_fingerprint_tells_configurations_apart(tmp_path):
    config = WorkerConfig(Settings(), BatchOptions(), tmp_path)
    assert config.fingerprint == WorkerConfig(Settings(), BatchOptions(), tmp_path).fingerprint
    stricter = Settings(thresholds=Settings().thresholds.with_overrides({"frontal_max_yaw_deg": 9}))
    others = [
        replace(config, settings=stricter),
        replace(config, settings=Settings(base_url="http://127.0.0.1:1")),
        replace(config, options=BatchOptions(prepare=True)),
        replace(config, prepared_dir=tmp_path / "other"),
        # What only the worker's context uses: the inputs' fetch and prepare's encoder.
        replace(config, settings=Settings(fetch_allow=("127.0.0.0/8",))),
        replace(config, settings=Settings(fetch_timeout_s=5.0)),
        replace(config, settings=Settings(ffmpeg="/opt/ffmpeg")),
    ]
    assert len({config.fingerprint, *(other.fingerprint for other in others)}) == 8
