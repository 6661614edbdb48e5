"""Properties of the trim window (kling_prep.plan.window.choose_window) over generated timelines.

A timeline is what `check_video` hands the planner: samples every half second (times, like
every time in a VideoReport, rounded to the millisecond), each with its count of people and, on
some, whether the head and shoulders are in frame; cuts at frame times; transitions (fades,
dissolves) as spans; limb speeds for the motion score. For any of them, with the limits of
either orientation (10 s image, 30 s video) or a shorter `--max-seconds`:

- the window lies within [0, duration] and lasts between the minimum (3 s) and the limit;
- no cut lies strictly inside it (the module's rule: a cut is a point where one shot ends and
  the next begins, so a window may end or start exactly on it, no margin beyond that);
- no transition overlaps it, and no sample where the count of people is not one, or the body
  is out of frame, is inside it or closer to it than the next sample measuring the same thing
  (the module's rule: the change may come anywhere between two samples);
- the longest wins (the docstring's promise): the window is as long as the limit, or as the
  longest stretch clear of all the above when that is shorter (to 10 ms: lengths are compared
  rounded to hundredths); when no clear stretch reaches the minimum, no window is chosen.

The clear stretches are computed here from those rules directly, not with `usable_spans`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st
from property_profiles import examples

from kling_prep.checks.video import (
    POSE_READS,
    SAMPLE_FPS,
    CutMark,
    MotionSummary,
    TransitionSpan,
    VideoReport,
    VideoSample,
)
from kling_prep.limits import get_profile
from kling_prep.plan.window import NoWindow, Window, choose_window

PROFILE = get_profile()
MIN_S = PROFILE.video_min_duration_s
# A longer window can lose to one 5 ms shorter with more motion: lengths are compared in
# hundredths of a second.
LENGTH_TOLERANCE_S = 0.01
EPS = 1e-9


@dataclass(frozen=True)
class Timeline:
    """A generated video's analysis and the limit to choose a window under."""

    video: VideoReport
    max_s: float

    def __repr__(self) -> str:  # what hypothesis prints for a counterexample
        v = self.video
        samples = [
            (s.time_s, s.people, s.is_body_in_frame if s.pose_read else "-") for s in v.samples
        ]
        return (
            f"Timeline(duration_s={v.duration_s}, max_s={self.max_s}, "
            f"cuts={[c.time_s for c in v.cuts]}, "
            f"transitions={[(t.start_s, t.end_s) for t in v.transitions]}, "
            f"samples(time, people, body in frame)={samples}, "
            f"speeds={v.motion.intervals})"
        )


def _ms(seconds: float) -> float:
    return round(seconds, 3)


def build_timeline(
    fps: float,
    frames: int,
    *,
    max_s: float,
    on_ms_grid: bool = True,
    counts: list[int] | None = None,
    reads: list[bool] | None = None,
    body_out: frozenset[int] = frozenset(),
    cut_frames: tuple[int, ...] = (),
    transition_frames: tuple[tuple[int, int], ...] = (),
    speeds: list[float] | None = None,
) -> Timeline:
    """A timeline of `frames` frames at `fps`: samples every half second on the frame grid, as
    check_video takes them, each with its people count (`counts`, default one), the pose read
    where `reads` says (default `POSE_READS`) with the body out of frame at the `body_out`
    sample indices; cuts and transitions at frame numbers.

    `on_ms_grid`: times rounded to the millisecond, as check_video writes them; False keeps
    exact frame times, which the type allows (a VideoReport made by other code).
    """
    at = _ms if on_ms_grid else float
    step = max(1, round(fps / SAMPLE_FPS))
    times = [at(i / fps) for i in range(0, frames, step)]
    counts = counts or [1] * len(times)
    reads = reads or [POSE_READS[i % len(POSE_READS)] for i in range(len(times))]
    samples = [
        VideoSample(
            time_s=time_s,
            frame=i * step,
            people=people,
            background_people=0,
            pose_read=read,
            face_view="frontal" if read else None,
            yaw_deg=0.0 if read else None,
            is_body_in_frame=(i not in body_out) if read else None,
            framing="upper_body" if read else "unknown",
            person_height_share=0.6 if read else None,
            main_box=None,
        )
        for i, (time_s, people, read) in enumerate(zip(times, counts, reads, strict=False))
    ]
    cuts = [CutMark(at(f / fps), f) for f in sorted(cut_frames)]
    transitions = [
        TransitionSpan("fade", at(a / fps), at(min(frames, b) / fps), a, min(frames, b))
        for a, b in transition_frames
    ]
    speeds = speeds or [0.5] * len(times)
    motion = MotionSummary(None, None, None, list(zip(times, speeds, strict=True)))
    video = VideoReport(
        path="generated.mp4", container="mp4", video_codec="h264", width=720, height=1280,
        fps=fps, duration_s=at(frames / fps), frame_count=frames, size_bytes=1, has_audio=False,
        rotation_deg=0, color_transfer="bt709", people_per_second=[], samples=samples, cuts=cuts,
        transitions=transitions, camera=None, motion=motion, body_in_frame_share=None,
        framing="upper_body", person_height_share=None, findings=[], score=100,
    )  # fmt: skip
    return Timeline(video, max_s)


@st.composite
def timelines(draw: st.DrawFn) -> Timeline:
    fps = draw(st.sampled_from([12.0, 23.976, 24.0, 25.0, 29.97, 30.0, 60.0]))
    frames = draw(st.integers(min_value=6, max_value=int(75 * fps)))
    sample_count = len(range(0, frames, max(1, round(fps / SAMPLE_FPS))))
    # People: runs of one count (mostly one person), as a video shows them.
    counts: list[int] = []
    while len(counts) < sample_count:
        run = draw(st.integers(min_value=1, max_value=40))
        counts += [draw(st.sampled_from([1, 1, 1, 0, 2]))] * run
    reads = draw(st.lists(st.booleans(), min_size=sample_count, max_size=sample_count))
    return build_timeline(
        fps,
        frames,
        max_s=draw(
            st.one_of(
                st.sampled_from([PROFILE.max_duration_s("image"), PROFILE.max_duration_s("video")]),
                st.floats(MIN_S, PROFILE.max_duration_s("video")).map(_ms),  # --max-seconds
            )
        ),
        on_ms_grid=draw(st.booleans()),
        counts=counts[:sample_count],
        reads=reads if draw(st.booleans()) else None,
        body_out=draw(st.frozensets(st.integers(0, sample_count - 1), max_size=6)),
        cut_frames=tuple(draw(st.lists(st.integers(0, frames), max_size=6, unique=True))),
        transition_frames=tuple(
            (a, a + n)
            for a, n in draw(
                st.lists(
                    st.tuples(st.integers(0, frames), st.integers(0, int(2 * fps))), max_size=3
                )
            )
        ),
        speeds=draw(
            st.lists(
                st.floats(0.0, 5.0, allow_nan=False).map(_ms),
                min_size=sample_count,
                max_size=sample_count,
            )
        ),
    )


def _forbidden(video: VideoReport) -> tuple[list[tuple[float, float]], list[float]]:
    """Open intervals no window may overlap, and points no window may hold strictly inside."""
    intervals: list[tuple[float, float]] = []
    points: list[float] = [c.time_s for c in video.cuts]
    half_step = 1.0 / SAMPLE_FPS
    counted = [(s.time_s, s.people != 1) for s in video.samples]
    read = [(s.time_s, s.is_body_in_frame is False) for s in video.samples if s.pose_read]
    for marks in (counted, read):
        for i, (time_s, is_bad) in enumerate(marks):
            if is_bad:
                before = marks[i - 1][0] if i > 0 else time_s - half_step
                after = marks[i + 1][0] if i + 1 < len(marks) else time_s + half_step
                intervals.append((before, after))
    for tr in video.transitions:
        if tr.end_s > tr.start_s:
            intervals.append((tr.start_s, tr.end_s))
        else:
            points.append(tr.start_s)
    return intervals, points


def longest_clear_stretch(video: VideoReport) -> float:
    """The longest [a, b] within the video that overlaps no forbidden interval and holds no
    forbidden point strictly inside."""
    intervals, points = _forbidden(video)
    # The clear set is [0, duration] less the union of the open intervals: closed pieces.
    pieces: list[tuple[float, float]] = []
    position = 0.0
    for a, b in sorted(intervals):
        if a > position:
            pieces.append((position, min(a, video.duration_s)))
        position = max(position, b)
    if position < video.duration_s:
        pieces.append((position, video.duration_s))
    longest = 0.0
    for a, b in pieces:
        cuts = sorted(p for p in points if a < p < b)
        edges = [a, *cuts, b]
        longest = max([longest, *(y - x for x, y in itertools.pairwise(edges))])
    return longest


def assert_window_properties(timeline: Timeline) -> None:
    video, max_s = timeline.video, timeline.max_s
    chosen = choose_window(video, max_s=max_s, min_s=MIN_S)
    clear = longest_clear_stretch(video)
    if isinstance(chosen, NoWindow):
        assert clear < MIN_S + LENGTH_TOLERANCE_S, (
            f"no window chosen, but a clear stretch of {clear:.3f} s exists: {chosen.reason}"
        )
        return
    assert isinstance(chosen, Window)
    start, end = chosen.start_s, chosen.end_s
    assert 0.0 <= start < end <= video.duration_s, (
        f"window {start}-{end} s is outside the video (0-{video.duration_s} s)"
    )
    assert end - start <= max_s + EPS, f"window {start}-{end} s is longer than {max_s} s"
    assert end - start >= MIN_S - EPS, f"window {start}-{end} s is shorter than {MIN_S} s"
    intervals, points = _forbidden(video)
    inside = [p for p in points if start < p < end]
    assert not inside, f"window {start}-{end} s holds the cut (or cut-like transition) {inside}"
    overlapping = [(a, b) for a, b in intervals if a < end and b > start]
    assert not overlapping, f"window {start}-{end} s overlaps the ruled-out spans {overlapping}"
    promised = min(max_s, clear)
    assert end - start >= promised - LENGTH_TOLERANCE_S, (
        f"window {start}-{end} s lasts {end - start:.3f} s, but a clear stretch of "
        f"{clear:.3f} s allows {promised:.3f} s"
    )


@settings(max_examples=examples(300, 5000))
@given(timelines())
# Found by this property: span ends rounded to the nearest millisecond let the window start
# 0.3 ms before a cut at frame 1 of 12 fps (0.0833 s), and end 0.3 ms after the video.
@example(build_timeline(12.0, 37, max_s=10.0, on_ms_grid=False, cut_frames=(1,)))
@example(build_timeline(12.0, 41, max_s=10.0, on_ms_grid=False))
def test_the_chosen_window_keeps_every_rule(timeline: Timeline) -> None:
    assert_window_properties(timeline)
