"""Shared fixtures: the shared media folder (skipped where absent), the bundled samples, one
set of vision models per session, and generated clips with known answers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
# The suite's own file servers and sandbox listen on 127.0.0.1: trusted here, as a user trusts
# a sandbox on their machine. Tests of the default policy remove it (tests/media/test_url_*.py).
os.environ.setdefault("KLING_PREP_FETCH_ALLOW", "127.0.0.0/8,::1")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED_MEDIA = ROOT.parent / "shared" / "media"
REALSET = ROOT.parent / "shared" / "realset"


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not (SHARED_MEDIA / "elf-character.jpeg").is_file():
        pytest.skip(f"../shared/media is absent ({SHARED_MEDIA}); real footage tests need it")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def realset() -> Path:
    """../shared/realset: real, third-party pictures and clips labelled by eye (never copied
    into this repository)."""
    if not (REALSET / "labels-images.json").is_file():
        pytest.skip(f"../shared/realset is absent ({REALSET}); the real-footage tests need it")
    return REALSET


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def kit() -> Iterator[object]:
    from kling_prep.vision.kit import VisionKit

    with VisionKit(frontal_max_deg=22.5, three_quarter_max_deg=67.5) as models:
        yield models


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut(), dtype=np.uint8)


@pytest.fixture(scope="session")
def astronaut_mask(astronaut: np.ndarray) -> np.ndarray:
    from kling_prep.vision.pose import PoseEstimator

    with PoseEstimator(with_segmentation=True) as estimator:
        pose = estimator.estimate(astronaut)
    assert pose is not None
    assert pose.mask is not None
    return pose.mask


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")
