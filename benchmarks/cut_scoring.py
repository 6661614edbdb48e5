"""How the benchmarks score hard cuts: a reported cut is found when it lies within 2 frames of
a labelled one, each label matched at most once (the rule of ../shared/realset's README, used
for the generated cases too)."""

from __future__ import annotations

CUT_TOLERANCE_FRAMES = 2


def match_cuts(truth: list[int], found: list[int]) -> tuple[int, list[int], list[int]]:
    """(true positives, unmatched reports, missed labels); each label matched at most once, to
    the nearest report within the tolerance, reports taken in order."""
    left = sorted(truth)
    tp = 0
    false_pos: list[int] = []
    for frame in sorted(found):
        near = [t for t in left if abs(t - frame) <= CUT_TOLERANCE_FRAMES]
        if near:
            left.remove(min(near, key=lambda t: abs(t - frame)))
            tp += 1
        else:
            false_pos.append(frame)
    return tp, false_pos, left


def prf(tp: int, fp: int, fn: int) -> tuple[str, str, str]:
    """Precision, recall and F1 (2TP / (2TP + FP + FN)) as text, "n/a" where undefined."""

    def ratio(num: float, den: float) -> str:
        return f"{num / den:.2f}" if den else "n/a"

    return ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(2 * tp, 2 * tp + fp + fn)
