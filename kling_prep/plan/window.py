"""The trim window: the best span of the video, at most the API's length, with one person, no
cut inside, the body in frame and the most visible motion."""

from __future__ import annotations

from dataclasses import dataclass, field

from kling_prep.checks.video import SAMPLE_FPS, VideoReport

_STEP_S = 0.25


@dataclass(frozen=True)
class Window:
    """A span of the video to keep, and why it won."""

    start_s: float
    end_s: float
    motion_score: float  # mean limb speed inside, torso lengths per second
    reason: str
    candidates: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class NoWindow:
    """No span qualifies; `reason` says why."""

    reason: str


def usable_spans(video: VideoReport) -> list[tuple[float, float]]:
    """Spans with no cut, no transition, one person and the body in frame throughout."""
    bad: list[tuple[float, float]] = []
    # Between a good sample and a bad one the change may come anywhere: a bad sample rules out
    # the time back to the previous sample that measured the same thing and on to the next.
    # People are counted on every sample, the body read on some (`pose_read`).
    counted = [(s.time_s, s.people != 1) for s in video.samples]
    read = [(s.time_s, not s.is_body_in_frame) for s in video.samples if s.pose_read]
    for marks in (counted, read):
        for i, (time_s, is_bad) in enumerate(marks):
            if is_bad:
                before = marks[i - 1][0] if i > 0 else time_s - 1.0 / SAMPLE_FPS
                after = marks[i + 1][0] if i + 1 < len(marks) else time_s + 1.0 / SAMPLE_FPS
                bad.append((before, after))
    for cut in video.cuts:
        # A cut splits the video: the old shot ends where the new one starts.
        bad.append((cut.time_s, cut.time_s))
    for tr in video.transitions:
        bad.append((tr.start_s, tr.end_s))
    spans = [(0.0, video.duration_s)]
    for b0, b1 in sorted(bad):
        next_spans = []
        for s0, s1 in spans:
            touches = (b0 < s1 and b1 > s0) if b1 > b0 else s0 < b0 < s1
            if not touches:
                next_spans.append((s0, s1))
                continue
            if b0 > s0:
                next_spans.append((s0, b0))
            if b1 < s1:
                next_spans.append((b1, s1))
        spans = next_spans
    kept = [
        (_ms_at_or_after(max(0.0, a)), _ms_at_or_before(min(video.duration_s, b))) for a, b in spans
    ]
    return [(a, b) for a, b in kept if b > a]


def _ms_at_or_after(t: float) -> float:
    """`t` on the millisecond grid, never earlier: a span's start rounded down would take in
    the cut or the bad sample just before it (a cut at 0.0833 s, frame 1 at 12 fps)."""
    ms = round(t, 3)
    return ms if ms >= t else round(ms + 0.001, 3)


def _ms_at_or_before(t: float) -> float:
    """`t` on the millisecond grid, never later: a span's end rounded up could pass the cut
    after it, or the video's end (3.4167 s for 41 frames at 12 fps)."""
    ms = round(t, 3)
    return ms if ms <= t else round(ms - 0.001, 3)


def _motion_in(video: VideoReport, start_s: float, end_s: float) -> float:
    speeds = [v for t, v in video.motion.intervals if start_s <= t <= end_s]
    return sum(speeds) / len(speeds) if speeds else 0.0


def choose_window(video: VideoReport, *, max_s: float, min_s: float) -> Window | NoWindow:
    """The best window of at most `max_s` seconds (never under `min_s`).

    Candidates slide over every usable span in quarter seconds; the longest wins (the API
    animates what it is given), then the one with the most limb motion, then the earliest.
    """
    spans = usable_spans(video)
    candidates: list[tuple[float, float, float]] = []
    for s0, s1 in spans:
        length = min(max_s, s1 - s0)
        if length < min_s:
            continue
        start = s0
        while start + length <= s1 + 1e-6:
            candidates.append(
                (
                    round(start, 3),
                    round(start + length, 3),
                    _motion_in(video, start, start + length),
                )
            )
            start += _STEP_S
    if not candidates:
        longest = max((b - a for a, b in spans), default=0.0)
        return NoWindow(
            f"no stretch of at least {min_s:.0f} s has one person in frame and no cut "
            f"(the longest is {longest:.1f} s)"
        )
    best = max(candidates, key=lambda c: (round(c[1] - c[0], 2), round(c[2], 3), -c[0]))
    whole = best[0] <= 1e-3 and best[1] >= video.duration_s - 1e-3
    reason = (
        "the whole video qualifies"
        if whole
        else f"the longest stretch with one person in frame and no cut, most motion among "
        f"{len(candidates)} candidates"
    )
    top = sorted(candidates, key=lambda c: (-(c[1] - c[0]), -c[2]))[:5]
    return Window(best[0], best[1], round(best[2], 3), reason, top)
