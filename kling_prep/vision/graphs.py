"""The bundled MediaPipe models, loaded through graphs the mediapipe 0.10.21 wheel carries.

Nothing here downloads: every model is a file inside the wheel. `PoseDetectionCpu` is run in a
graph of our own because the legacy Pose solution keeps only its first detection, while the
detector itself returns every person.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
from typing import Any

log = logging.getLogger(__name__)

_IMPORT_LOCK = threading.RLock()

_POSE_DETECTION_GRAPH = """
input_stream: "image"
output_stream: "detections"
node {
  calculator: "PoseDetectionCpu"
  input_stream: "IMAGE:image"
  output_stream: "DETECTIONS:detections"
}
"""


def quiet_native_logs() -> None:
    """Keep TensorFlow Lite's and glog's start-up chatter off the user's terminal."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# Packages whose `__init__` imports far more than the checks use: `mediapipe` imports
# `mediapipe.tasks` (0.18 s), `mediapipe.python.solutions` imports its drawing utilities, which
# import matplotlib.pyplot (0.68 s): three quarters of mediapipe's import time. The flag: the
# `__init__` binds nothing but the package's own submodules, each under its own name (true of
# `solutions`; `mediapipe` binds `tasks` to `mediapipe.tasks.python`, not `mediapipe.tasks`).
_DEFERRED_PACKAGES = (("mediapipe", False), ("mediapipe.python.solutions", True))


def _defer_package_init(name: str, *, binds_only_submodules: bool) -> None:
    """Register package `name` without running its `__init__`; the first attribute the module
    lacks (`mediapipe.solutions`, `mediapipe.Image`, `mediapipe.__version__`, ...) runs it.

    Submodules (`mediapipe.python.solutions.pose`) import as usual: Python needs a parent
    package in `sys.modules` and its `__path__`, not its `__init__`'s names. Where the
    `__init__` binds only submodules, a missing name that is a submodule imports just that one
    (`from mediapipe.python.solutions import download_utils` asks for the name before importing
    it; running the whole `__init__` then would be circular). Someone else in the
    same process who uses `mediapipe` as the whole package gets it, only later (PEP 562's module
    `__getattr__` runs the `__init__` on the same module object, so it ends as if imported
    whole).
    """
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"{name} is not installed", name=name)
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def complete(attribute: str) -> Any:
        if binds_only_submodules and importlib.util.find_spec(f"{name}.{attribute}") is not None:
            return importlib.import_module(f"{name}.{attribute}")
        with _IMPORT_LOCK:
            if module.__dict__.pop("__getattr__", None) is not None:
                loader.exec_module(module)
        return getattr(module, attribute)

    module.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def _load_mediapipe() -> None:
    """Quiet the native logs, then make mediapipe's graphs importable, once, under a lock.

    The packages of `_DEFERRED_PACKAGES` are registered with their `__init__` deferred: the
    graphs here import only the submodules they need, 0.3 s instead of 1.2 s on a 2-core EPYC
    (matplotlib and the Tasks API are never imported). The lock: the video's person detector is
    built in a thread of its own while the image check builds its models, and mediapipe's
    package `__init__` deletes names it has just imported, so a second thread that entered it
    half-way would see them missing.
    """
    quiet_native_logs()
    with _IMPORT_LOCK:
        for name, binds_only_submodules in _DEFERRED_PACKAGES:
            if name not in sys.modules:
                _defer_package_init(name, binds_only_submodules=binds_only_submodules)


def pose_detection_graph() -> Any:
    """A MediaPipe solution whose output `detections` holds every person BlazePose detects."""
    _load_mediapipe()
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import SolutionBase

    # The calculators inside `PoseDetectionCpu` read their options (model path, tensor range)
    # through proto types that this module registers; without it the graph fails validation.
    from mediapipe.python.solutions import pose  # noqa: F401

    config = text_format.Parse(_POSE_DETECTION_GRAPH, calculator_pb2.CalculatorGraphConfig())
    return SolutionBase(graph_config=config)


_POSE_BY_ROI_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
output_stream: "world_landmarks"
output_stream: "segmentation_mask"
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"
  output_stream: "WORLD_LANDMARKS:world_landmarks"
  output_stream: "SEGMENTATION_MASK:segmentation_mask"
}
"""


def pose_landmarks_by_roi_graph(*, with_segmentation: bool) -> Any:
    """BlazePose's landmark model (complexity 1) on a region we choose, without its detector.

    The legacy Pose solution finds the body with the face-anchored detector first, so a body
    whose face it does not find (seen from behind, hooded, dark, drawn) gets no landmarks at
    all. Read on a region that other evidence proposes (a face, a silhouette), the landmark
    model itself says whether a body is there: it returns nothing when its own presence score
    is under 0.5. Inputs: `image` (RGB array) and `roi` (a `NormalizedRect`, square in pixels).
    """
    _load_mediapipe()
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import PacketDataType, SolutionBase
    from mediapipe.python.solutions import pose  # noqa: F401  (registers the option protos)

    config = text_format.Parse(_POSE_BY_ROI_GRAPH, calculator_pb2.CalculatorGraphConfig())
    return SolutionBase(
        graph_config=config,
        side_inputs={"model_complexity": 1, "enable_segmentation": with_segmentation},
        stream_type_hints={"roi": PacketDataType.PROTO},
    )


def normalized_rect(
    x_center: float, y_center: float, width: float, height: float, rotation_rad: float
) -> Any:
    """A `NormalizedRect` proto for `pose_landmarks_by_roi_graph`'s `roi` stream."""
    _load_mediapipe()
    from mediapipe.framework.formats import rect_pb2

    return rect_pb2.NormalizedRect(
        x_center=x_center, y_center=y_center, width=width, height=height, rotation=rotation_rad
    )


def selfie_segmenter() -> Any:
    """The general selfie-segmentation model (256x256): a person-silhouette mask of a frame,
    from the body's appearance, not from a face."""
    _load_mediapipe()
    from mediapipe.python.solutions import selfie_segmentation

    return selfie_segmentation.SelfieSegmentation(model_selection=0)


def pose_landmarker(*, with_segmentation: bool) -> Any:
    """The legacy BlazePose landmarker (complexity 1, the one bundled), reading every picture
    on its own: a video's samples are half a second or more apart, too far for tracking."""
    _load_mediapipe()
    from mediapipe.python.solutions import pose

    return pose.Pose(
        static_image_mode=True,
        model_complexity=1,
        smooth_landmarks=False,
        enable_segmentation=with_segmentation,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )


def face_mesh() -> Any:
    """The legacy FaceMesh (face detection short range, then 468 landmarks)."""
    _load_mediapipe()
    from mediapipe.python.solutions import face_mesh as mp_face_mesh

    return mp_face_mesh.FaceMesh(
        static_image_mode=True,
        max_num_faces=1,
        refine_landmarks=False,
        min_detection_confidence=0.4,
    )


def face_detector() -> Any:
    """Full-range face detection: finds small and stylised faces the short-range model misses."""
    _load_mediapipe()
    from mediapipe.python.solutions import face_detection

    return face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
