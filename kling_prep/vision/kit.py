"""The set of models one check needs, created once and reused across frames and inputs."""

from __future__ import annotations

from kling_prep.vision.face import AWAY_MIN_YAW_DEG, MIN_FACE_SKIN_SHARE, FaceViewEstimator
from kling_prep.vision.objects import ObjectPersonDetector
from kling_prep.vision.people import ImagePeopleFinder, PersonDetector
from kling_prep.vision.pose import PoseEstimator


class VisionKit:
    """Lazily built MediaPipe models; close() releases their graphs."""

    def __init__(
        self,
        *,
        frontal_max_deg: float,
        three_quarter_max_deg: float,
        away_min_deg: float = AWAY_MIN_YAW_DEG,
        min_face_skin_share: float = MIN_FACE_SKIN_SHARE,
    ) -> None:
        self._frontal_max_deg = frontal_max_deg
        self._three_quarter_max_deg = three_quarter_max_deg
        self._away_min_deg = away_min_deg
        self._min_face_skin_share = min_face_skin_share
        self._detector: PersonDetector | None = None
        self._video_detector: PersonDetector | None = None
        self._pose: PoseEstimator | None = None
        self._face: FaceViewEstimator | None = None
        self._people_finder: ImagePeopleFinder | None = None
        self._shapes: ObjectPersonDetector | None = None

    def start_image_models(self) -> None:
        """Start reading the person-shape detector's graph in its own thread now, for a
        still image checked later: it is the one model slow to load (a quarter of a second)."""
        if self._shapes is None:
            self._shapes = ObjectPersonDetector()

    @property
    def detector(self) -> PersonDetector:
        if self._detector is None:
            self._detector = PersonDetector()
        return self._detector

    @property
    def video_detector(self) -> PersonDetector:
        """A second detector graph for a video's samples, used in a thread of its own while
        `detector` serves the image check (a graph must not be run from two threads)."""
        if self._video_detector is None:
            self._video_detector = PersonDetector()
        return self._video_detector

    @property
    def pose(self) -> PoseEstimator:
        if self._pose is None:
            self._pose = PoseEstimator(with_segmentation=False)
        return self._pose

    @property
    def people_finder(self) -> ImagePeopleFinder:
        """People in a still image from four cues (uses `detector`: the image's thread)."""
        if self._people_finder is None:
            # It shares the face-view estimator's face graphs: both serve the image's thread.
            self.start_image_models()
            self._people_finder = ImagePeopleFinder(
                self.detector, self.face.face_graphs, self._shapes
            )
        return self._people_finder

    @property
    def face(self) -> FaceViewEstimator:
        if self._face is None:
            self._face = FaceViewEstimator(
                frontal_max_deg=self._frontal_max_deg,
                three_quarter_max_deg=self._three_quarter_max_deg,
                away_min_deg=self._away_min_deg,
                min_skin_share=self._min_face_skin_share,
            )
        return self._face

    def close(self) -> None:
        models = (
            self._detector, self._video_detector, self._pose,
            self._face, self._people_finder, self._shapes,
        )  # fmt: skip
        for model in models:
            if model is not None:
                model.close()
        self._detector = self._video_detector = self._pose = None
        self._face = None
        self._people_finder = None
        self._shapes = None

    def __enter__(self) -> VisionKit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
