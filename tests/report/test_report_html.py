"""The HTML report shows every finding that names times at those times: a tile of each named
sample with every person's box drawn, and a mark on the timeline."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

import kling_prep
from kling_prep.checks.findings import Finding
from kling_prep.report.html import contact_sheet, finding_samples, sheet_picks, timeline_svg


@pytest.fixture(scope="module")
def with_background_person(samples):
    """The bundled reference clip, its timeline told that a smaller person stood beside the
    character at two samples the contact sheet's even spread would not pick."""
    result = kling_prep.check(
        kling_prep.CheckRequest(video=samples / "reference.mp4", keep_sound=False)
    )
    video = result.video
    assert video is not None
    spread = set(sheet_picks(video))
    chosen = [i for i, s in enumerate(video.samples) if i not in spread and s.main_box][:2]
    assert len(chosen) == 2
    timeline = list(video.samples)
    for i in chosen:
        x, y, w, h = timeline[i].main_box
        timeline[i] = replace(
            timeline[i], background_people=1, other_boxes=((x + w, y, w // 2, h // 2),)
        )
    finding = Finding(
        "video.background_person", "warn", "a smaller person in the background", 2, 1, "samples"
    )
    return replace(video, samples=timeline, findings=[*video.findings, finding]), chosen


def test_every_sample_a_finding_names_gets_a_tile(with_background_person):
    video, chosen = with_background_person
    assert [i for f, i in finding_samples(video) if f.code == "video.background_person"] == [chosen]
    assert set(chosen) <= set(sheet_picks(video))
    sheet = contact_sheet(video)
    assert sheet is not None
    # Each tile a finding names is framed in the finding's colour (warn: #b7791f, as BGR).
    framed = (
        (sheet[:, :, 0] < 60)
        & (abs(sheet[:, :, 1].astype(int) - 0x79) < 30)
        & (sheet[:, :, 2] > 150)
    )
    assert framed.sum() > 2 * 4 * 200


def test_every_sample_a_finding_names_gets_a_mark_on_the_timeline(with_background_person):
    video, chosen = with_background_person
    svg = timeline_svg(video, None)
    marked = re.findall(r"<title>video\.background_person at ([\d.]+) s</title>", svg)
    assert [float(t) for t in marked] == [round(video.samples[i].time_s, 1) for i in chosen]
