"""Docs generated from the code stay in step with it."""

from __future__ import annotations

from pathlib import Path

from kling_prep.checks.findings import CODES
from kling_prep.report.reference import render

ROOT = Path(__file__).resolve().parents[1]


def test_the_checks_reference_is_regenerated():
    assert (ROOT / "docs" / "CHECKS.md").read_text() == render(), (
        "run: python -m kling_prep.report.reference > docs/CHECKS.md"
    )


def test_every_code_the_issue_names_is_registered():
    named = [
        "image.multiple_people",
        "image.no_person",
        "image.face_profile",
        "image.no_face",
        "image.underexposed",
        "image.overexposed",
        "image.backlit",
        "image.blurry",
        "image.too_small",
        "image.aspect_ratio",
        "image.format",
        "video.too_long",
        "video.too_short",
        "video.multiple_people",
        "video.no_person",
        "video.scene_cut",
        "video.person_leaves_frame",
        "video.low_motion",
        "pair.framing_mismatch",
        "prompt.missing",
        "prompt.too_long",
    ]
    assert set(named) <= set(CODES)
