"""The video's timeline as the measures record it: how often it is sampled, and the typed
records of what one sample, one cut and one transition showed. No judgement here: the checks
read these records and compare them with their thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

SAMPLE_FPS: Final = 2.0
"""Analysis samples a second: people, pose, face view and the camera are read on these."""

POSE_READS: Final = (True, True, False, False)
"""The pose and the face view are read on the samples this pattern marks, repeated (pairs half
a second apart, every 2 s), and on any sample whose people are not the one person of the sample
before: in between, a single proposal where the last person stood is that person, already seen
half a second before. Reads exactly once a second would see a limb swinging at 1 Hz (a stride,
a 120 bpm step) at one phase, always the same, and take it for still; the 0.5 s and 1.5 s gaps
of the pairs see it at two."""

MOTION_MAX_GAP_S: Final = 1.5 / SAMPLE_FPS
"""Limb speeds are taken between poses at most this far apart (neighbouring samples only): a
longer gap averages a swing out."""

Box = tuple[int, int, int, int]  # x, y, width, height in a sample's pixels


class MeasureRules(Protocol):
    """The few numbers of the thresholds table that the measures use to count what they see
    (a landmark seen, a person big enough to count, a limb moving fast). `Thresholds` has them;
    the measures take them through this protocol, so vision never imports the checks."""

    @property
    def landmark_min_visibility(self) -> float: ...
    @property
    def other_person_block_ratio(self) -> float: ...
    @property
    def other_person_warn_ratio(self) -> float: ...
    @property
    def fast_motion_speed(self) -> float: ...


@dataclass(frozen=True)
class VideoSample:
    """One analysed moment of the video: an entry of the timeline."""

    time_s: float
    frame: int
    people: int  # people of comparable size (the main person and rivals)
    background_people: int  # smaller people, down to the warn ratio
    pose_read: bool  # the pose and face view were read here (see `POSE_READS`)
    face_view: str | None  # frontal, three_quarter, profile, no_face; None: nobody or not read
    yaw_deg: float | None
    is_body_in_frame: bool | None  # head and shoulders inside the frame; None: not read
    framing: str  # "unknown" when nobody or not read
    person_height_share: float | None
    main_box: Box | None  # in the sample's pixels
    # The other people counted (rivals, then background people), in the sample's pixels: the
    # report draws them where a finding names this sample.
    other_boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class CutMark:
    time_s: float
    frame: int


@dataclass(frozen=True)
class TransitionSpan:
    kind: str
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int
