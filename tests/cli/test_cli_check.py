"""`kling-prep check` end to end: exit codes, the JSON schema, the HTML report, no network."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys

import jsonschema
import pytest
from click.testing import CliRunner

import kling_prep
from kling_prep.cli import main
from kling_prep.report.json_report import SCHEMA_PATH, to_json_dict

PROMPT = "A woman sways gently in a plain studio, soft even lighting, slow smooth movement"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def schema() -> dict:
    data = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(data)
    return data


def test_the_good_pair_is_not_blocked_and_its_json_follows_the_schema(samples, schema):
    code, out = _run("--image", str(samples / "character.jpg"), "--video",
                     str(samples / "reference.mp4"), "--prompt", PROMPT, "--json")  # fmt: skip
    report = json.loads(out)
    jsonschema.validate(report, schema)
    assert code in (0, 1)
    assert report["exit_code"] == code
    assert report["credits"] == 40
    assert report["video"]["cuts"] == []
    assert report["video"]["people_per_second"] == [1] * 6
    assert report["orientation"]["suggested"] in ("video", "image")


@pytest.mark.parametrize(
    ("args", "code_expected"),
    [
        (("--image", "bad/two-people.jpg"), "image.multiple_people"),
        (("--image", "bad/dark.jpg"), "image.underexposed"),
        (("--video", "bad/cut.mp4"), "video.scene_cut"),
        (("--video", "bad/too-long.mp4"), "video.too_long"),
    ],
)
def test_every_bad_sample_is_blocked_with_its_code(samples, schema, args, code_expected):
    flag, name = args
    code, out = _run(flag, str(samples / name), "--json")
    report = json.loads(out)
    jsonschema.validate(report, schema)
    assert code == 2
    assert any(f["code"] == code_expected and f["severity"] == "block" for f in report["findings"])


def test_cuts_are_listed_with_time_and_frame(samples):
    _, out = _run("--video", str(samples / "bad" / "cut.mp4"), "--json")
    cuts = json.loads(out)["video"]["cuts"]
    assert len(cuts) == 1
    assert abs(cuts[0]["frame"] - 72) <= 2
    assert abs(cuts[0]["time_s"] - 3.0) < 0.1


def test_the_terminal_report_names_the_measured_value_and_the_rule(samples):
    code, out = _run("--image", str(samples / "bad" / "dark.jpg"))
    assert code == 2
    assert "image.underexposed" in out
    assert "stops" in out
    assert "block under" in out
    assert "40 charged" in out


def test_usage_errors_exit_3():
    assert _run()[0] == 3
    code, out = _run("--image", "does-not-exist.jpg")
    assert code == 3
    assert "does-not-exist.jpg" in out


def test_a_file_that_is_not_media_is_an_environment_error_naming_it(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    code, out = _run("--video", str(bogus))
    assert code == 3
    assert "notes.mp4" in out


def test_an_html_report_that_cannot_be_written_is_an_error_naming_it(samples, tmp_path):
    # A file stands where the report's folder would be: no traceback, exit 3, the path named.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    target = blocker / "report.html"
    code, out = _run("--image", str(samples / "character.jpg"), "--html", str(target))
    assert code == 3
    assert f"could not write {target}" in out
    assert "Traceback" not in out


def test_the_python_api_returns_the_object_the_cli_renders(samples):
    result = kling_prep.check(
        kling_prep.CheckRequest(image=samples / "character.jpg", orientation="video")
    )
    data = to_json_dict(result)
    assert data["image"]["people_count"] == 1
    assert result.verdict in ("ready", "warnings")


def test_checking_local_files_opens_no_network_connection(samples, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    result = kling_prep.check(
        kling_prep.CheckRequest(samples / "character.jpg", samples / "reference.mp4", prompt=PROMPT)
    )
    assert result.video is not None
    assert result.image is not None


def test_help_does_not_import_the_heavy_libraries():
    code = (
        "import sys; from kling_prep.cli import main\n"
        "heavy = [m for m in ('mediapipe', 'cv2', 'av', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_html_report_holds_every_picture(samples, tmp_path):
    html_path = tmp_path / "report.html"
    code, _ = _run("--image", str(samples / "character.jpg"), "--video",
                   str(samples / "bad" / "cut.mp4"), "--html", str(html_path))  # fmt: skip
    assert code == 2
    text = html_path.read_text()
    # The image's overlay, the video's contact sheet, and the motion preview's frames.
    previews = text.split('<div class="strip">')[1].split("</div>")[0].count("<img")
    assert previews >= 1
    assert text.count("data:image/jpeg;base64,") == 2 + previews
    assert "<svg" in text
    assert "cut at 3.00 s" in text
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.browser
def test_the_html_report_renders_in_a_real_browser(samples, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI") == "true":  # CI installs it: a missing browser is a failure there
            pytest.fail("chromium is not installed, and CI=true: .ci/run should have installed it")
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    html_path = tmp_path / "report.html"
    _run("--image", str(samples / "character.jpg"), "--video", str(samples / "reference.mp4"),
         "--html", str(html_path))  # fmt: skip
    # The page reports, in its own DOM, whether every image decoded.
    probe = (
        "<script>window.addEventListener('load',()=>{const i=[...document.images];"
        "document.body.dataset.images=i.length;"
        "document.body.dataset.loaded=i.filter(x=>x.complete&&x.naturalWidth>0).length;});</script>"
    )
    probed = tmp_path / "probed.html"
    probed.write_text(html_path.read_text().replace("</body>", probe + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run([browser, *flags, "--dump-dom", probed.as_uri()],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    pictures = html_path.read_text().count("<img")
    assert pictures >= 3  # the image's overlay, the contact sheet, the motion preview's frames
    assert f'data-images="{pictures}"' in dom.stdout, dom.stderr[-2000:]
    assert f'data-loaded="{pictures}"' in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,2400",
                    html_path.as_uri()], capture_output=True, timeout=120)  # fmt: skip
    assert shot.is_file()
    assert shot.stat().st_size > 20_000


def test_the_python_api_uses_the_models_it_is_given(samples, kit, monkeypatch):
    import kling_prep.preflight as preflight

    def no_new_models(*args, **kwargs):
        raise AssertionError("check() built its own models although a kit was given")

    monkeypatch.setattr(preflight, "VisionKit", no_new_models)
    result = preflight.check(preflight.CheckRequest(image=samples / "character.jpg"), kit=kit)
    assert result.image is not None
    assert len(result.image.people) == 1


def test_the_timeline_lanes_cover_the_whole_video(samples):
    """People are sampled twice a second and the face view read on some of those samples
    (`pose_read`): both lanes run from the start of the clip to its end, with no gap between
    cells."""
    from kling_prep.report.html import timeline_svg

    result = kling_prep.check(
        kling_prep.CheckRequest(video=samples / "reference.mp4", prompt=PROMPT)
    )
    assert result.video is not None
    svg = timeline_svg(result.video, result.window)
    right_edge = 90 + (1000 - 90 - 10)  # x() of the video's end
    for lane_y in (10, 42):  # the people lane and the face-view lane
        cells = sorted(
            (float(x), float(w))
            for x, w in re.findall(rf'<rect x="([\d.]+)" y="{lane_y}" width="([\d.]+)"', svg)
        )
        assert cells, f"no cells in the lane at y={lane_y}"
        assert cells[0][0] == pytest.approx(90, abs=0.2)
        assert cells[-1][0] + cells[-1][1] == pytest.approx(right_edge, abs=0.2)
        for (x0, w0), (x1, _) in itertools.pairwise(cells):
            assert x0 + w0 == pytest.approx(x1, abs=0.2)


def test_the_readmes_sample_output_is_what_make_run_prints(samples, monkeypatch):
    # The README shows `make run`'s table; the same command must print every line of it (a
    # trailing "..." stands for the rest of a long line; rich may wrap, so spaces are compared
    # collapsed).
    readme = (samples.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("`make run` prints a table like this")
    opening = readme.index("```\n", start) + 4
    block = readme[opening : readme.index("\n```", opening)]
    assert block.count("\n") >= 3
    makefile = (samples.parent / "Makefile").read_text(encoding="utf-8")
    prompt = re.search(r'--prompt "([^"]+)"', makefile)
    assert prompt is not None
    monkeypatch.chdir(samples.parent)  # make run's paths are relative to the project
    _, out = _run(
        "--image", "samples/character.jpg", "--video", "samples/reference.mp4",
        "--prompt", prompt.group(1),
    )  # fmt: skip
    printed = " ".join(out.split())
    for line in block.splitlines():
        shown = " ".join(line.removesuffix("...").split())
        assert shown in printed, f"README line not printed by make run's command: {line}"
