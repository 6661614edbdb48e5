"""The bundled MediaPipe models, loaded through graphs the mediapipe 0.10.21 wheel carries.

Nothing here downloads: every model is a file inside the wheel. `PoseDetectionCpu` is run in a
graph of our own because the legacy Pose solution keeps only its first detection, while the
detector itself returns every person.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

log = logging.getLogger(__name__)

_IMPORT_LOCK = threading.Lock()

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


def _load_mediapipe() -> None:
    """Quiet the native logs, then import mediapipe once, under a lock.

    The video's person detector is built in a thread of its own while the image check builds
    its models: mediapipe's package `__init__` deletes names it has just imported, and a second
    thread that enters it half-way sees them missing (NameError, circular-import errors).
    """
    quiet_native_logs()
    with _IMPORT_LOCK:
        import mediapipe  # noqa: F401  (the package, imported by one thread at a time)


def pose_detection_graph() -> Any:
    """A MediaPipe solution whose output `detections` holds every person BlazePose detects."""
    _load_mediapipe()
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import SolutionBase

    config = text_format.Parse(_POSE_DETECTION_GRAPH, calculator_pb2.CalculatorGraphConfig())
    return SolutionBase(graph_config=config)


def pose_landmarker(*, is_video: bool, with_segmentation: bool) -> Any:
    """The legacy BlazePose landmarker (complexity 1, the one bundled)."""
    _load_mediapipe()
    from mediapipe.python.solutions import pose

    return pose.Pose(
        static_image_mode=not is_video,
        model_complexity=1,
        # No smoothing: poses are read half a second or more apart; a filter would damp motion.
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
