"""Docs generated from the code stay in step with it."""

from __future__ import annotations

from pathlib import Path

from kling_prep.checks.findings import CODES
from kling_prep.report.reference import render

ROOT = Path(__file__).resolve().parents[2]


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


def test_every_registered_finding_code_is_raised_somewhere():
    # A code in the reference that nothing raises promises a check that does not exist.
    from kling_prep.checks.findings import CODES

    texts = []
    for path in (ROOT / "kling_prep").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name == "findings.py":  # leave out the registry itself
            start = text.index("CODES: dict")
            text = text[:start] + text[text.index("\n}\n", start) :]
        texts.append(text)
    sources = "".join(texts)

    def is_raised(code: str) -> bool:
        suffix = code.split(".", 1)[1]
        # Literally, or built from its subject: f"{subject}.format", f"{prefix}.no_face".
        return f'"{code}"' in sources or f'}}.{suffix}"' in sources

    assert [code for code in CODES if not is_raised(code)] == []
