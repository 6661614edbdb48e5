"""Hostile media (issue 15, item 1), the fast subset: each generated case in
tests/hostile_media.py ends as a report or as an input error naming the file, within a
deadline, with no file outside the input opened. benchmarks/bench_hostile.py runs every case
through the CLI in its own process and measures its time and peak RSS."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import kling_prep
from kling_prep.cli import main
from kling_prep.errors import KlingPrepError, MediaTooLargeError, UnsupportedMediaError
from kling_prep.media.ffmpeg import find_ffmpeg
from kling_prep.media.probe import probe_video
from tests.hostile_media import (
    CASES,
    HostileCase,
    OpenWatch,
    avi_with_subtitle,
    gab2_chunk,
    png_bytes,
    write_clip,
)

# Every fast case ends in well under a second here; 30 s says "no hang" without flaking on a
# busy 2-core machine.
DEADLINE_S = 30.0

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="inotify and FIFOs: Linux only")


def _fast(case: HostileCase) -> bool:
    return case.is_fast


@pytest.mark.parametrize("case", [c for c in CASES if _fast(c)], ids=lambda c: c.name)
def test_a_hostile_input_ends_as_a_report_or_an_error_naming_the_file(
    case: HostileCase, tmp_path: Path, kit: object, monkeypatch: pytest.MonkeyPatch
):
    item = case.make(tmp_path)
    monkeypatch.chdir(item.cwd)
    watch = OpenWatch(item.guards)
    role = "image" if item.option == "--image" else "video"
    start = time.monotonic()
    error: KlingPrepError | None = None
    verdict = ""
    try:
        verdict = kling_prep.check(
            kling_prep.CheckRequest(**{role: item.argument}), kit=kit
        ).verdict  # type: ignore[arg-type]
    except KlingPrepError as exc:  # any other exception fails the test: a user's traceback
        error = exc
    finally:
        opened = watch.opened()
        watch.close()
        dialled = sum(listener.connections() for listener in item.listeners)
        for listener in item.listeners:
            listener.close()
    assert time.monotonic() - start < DEADLINE_S
    if error is None:
        assert verdict in ("ready", "warnings", "blocked")
    else:
        assert Path(item.argument).name in str(error)
        assert "Errno" not in str(error)
    assert opened == [], f"{case.name}: read files outside the input: {opened}"
    assert dialled == 0, f"{case.name}: tried {dialled} connection(s) to a port the input names"


def _cli_check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args])
    # Anything but SystemExit is a traceback a user would have read.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_a_png_declaring_40000_by_40000_pixels_exits_3_with_its_size(tmp_path: Path):
    import zlib

    (tmp_path / "bomb.png").write_bytes(png_bytes(40000, 40000, idat=zlib.compress(b"\0" * 64)))
    code, out = _cli_check("--image", str(tmp_path / "bomb.png"))
    assert code == 3
    assert "bomb.png: declares 1600 megapixels, more than the 179 MP that Pillow decodes" in out


def test_a_jpeg_corrupt_in_the_middle_exits_3_as_damaged(tmp_path: Path):
    corrupt = next(c for c in CASES if c.name == "JPEG corrupt in the middle")
    item = corrupt.make(tmp_path)
    code, out = _cli_check("--image", item.argument)
    assert code == 3
    assert "corrupt.jpg: the image is damaged and could not be decoded" in out


def test_an_hls_playlist_is_refused_without_reading_its_segment(tmp_path: Path):
    clip = write_clip(tmp_path / "secret.ts")
    playlist = tmp_path / "clip.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{clip}\n#EXT-X-ENDLIST\n")
    watch = OpenWatch((clip,))
    with pytest.raises(UnsupportedMediaError, match="an HLS playlist"):
        probe_video(playlist)
    assert watch.opened() == []
    watch.close()


@pytest.mark.parametrize("suffix", [".mpd", ".mp4"])
def test_a_dash_manifest_is_named_as_one_whatever_its_extension(tmp_path: Path, suffix: str):
    from tests.hostile_media import dash_manifest

    manifest = tmp_path / f"manifest{suffix}"
    manifest.write_text(dash_manifest(str(tmp_path / "segment.mp4")))
    with pytest.raises(UnsupportedMediaError, match=rf"manifest\{suffix}: a DASH manifest"):
        probe_video(manifest)


def test_a_relative_name_that_reads_as_a_protocol_is_read_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    guard = write_clip(tmp_path / "a.mp4", seconds=1.0)
    name = "concat:a.mp4|a.mp4"
    write_clip(tmp_path / name, seconds=2.0)
    monkeypatch.chdir(tmp_path)
    watch = OpenWatch((guard,))
    probe = probe_video(Path(name))
    assert watch.opened() == []
    watch.close()
    assert probe.duration_s == pytest.approx(2.0, abs=0.1)  # the file's own 2 s, not 1 + 1


def test_the_gab2_chunk_is_the_one_ffmpegs_avi_demuxer_reads(tmp_path: Path):
    """The hidden-playlist AVI reaches FFmpeg's GAB2 reader: the same chunk holding an SRT
    payload becomes a subtitle stream decoded by the nested srt demuxer, and the one holding
    the playlist gets its name as the stream's title. This FFmpeg then declines the playlist
    itself (avidec opens only srt and ass there, and the HLS probe wants an .m3u8 name); the
    allowed-demuxer list is the guard if an FFmpeg did not."""
    import av

    srt = b"1\n00:00:00,000 --> 00:00:01,000\nhello\n\n"
    (tmp_path / "srt.avi").write_bytes(avi_with_subtitle(gab2_chunk("subtitles", srt)))
    with av.open(str(tmp_path / "srt.avi")) as container:
        subtitle = container.streams.subtitles[0]
        assert subtitle.codec_context.name in ("srt", "subrip")
        assert subtitle.metadata.get("title") == "subtitles"
    hidden = next(c for c in CASES if c.name == "AVI hiding an HLS playlist (local file) in GAB2")
    item = hidden.make(tmp_path)
    watch = OpenWatch(item.guards)
    with av.open(item.argument) as container:  # plain: no allowed list, no file: URL
        assert container.streams.subtitles[0].metadata.get("title") == "subtitles"
        assert sum(1 for _ in container.demux()) > 24  # every chunk read, the GAB2 one too
    assert watch.opened() == []
    watch.close()


def _has_dash_demuxer(binary: str) -> bool:
    listing = subprocess.run(
        [binary, "-hide_banner", "-demuxers"], capture_output=True, text=True, timeout=30
    ).stdout
    return any(line.split()[1:2] == ["dash"] for line in listing.splitlines() if "D" in line[:4])


@pytest.mark.parametrize(
    "name", ["DASH manifest, absolute local segment", "DASH manifest named .mp4, relative segment"]
)
def test_a_dash_manifest_is_followed_by_plain_ffmpeg_but_not_by_prepares_input(
    name: str, tmp_path: Path
):
    """The ffmpeg binary (built with libxml2, unlike PyAV's wheel) reads a manifest's segment
    when opened plainly; opened as `prepare` opens its input, it refuses the manifest unread."""
    import ffmpeg

    from kling_prep.media.transcode import _input

    binary = find_ffmpeg()
    if not _has_dash_demuxer(binary):
        pytest.skip(f"{binary} has no dash demuxer: nothing would follow a manifest")
    item = next(c for c in CASES if c.name == name).make(tmp_path)
    watch = OpenWatch(item.guards)
    plain = [binary, "-v", "error", "-i", item.argument, "-f", "null", "-"]
    assert subprocess.run(plain, cwd=item.cwd, capture_output=True, timeout=60).returncode == 0
    assert watch.opened() == [str(g) for g in item.guards]  # the case is live
    guarded = ffmpeg.output(_input(Path(item.argument), 0.0, 1.0), "-", f="null").compile(
        cmd=binary
    )
    result = subprocess.run(guarded, cwd=item.cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert watch.opened() == []
    watch.close()


def test_video_frames_declaring_16000_px_are_not_decoded(tmp_path: Path):
    huge = next(c for c in CASES if c.name == "video frames declaring 16000x16000")
    item = huge.make(tmp_path)
    with pytest.raises(MediaTooLargeError, match=r"16000 x 16000 px declared \(256 MP\)"):
        probe_video(Path(item.argument))


def test_a_batch_goes_on_past_hostile_rows(tmp_path: Path, samples: Path):
    from kling_prep.batch import read_results, run_batch
    from kling_prep.settings import Settings

    by_name = {c.name: c for c in CASES}
    bomb = by_name["PNG declaring 40000x40000"].make(tmp_path).argument
    corrupt = by_name["JPEG corrupt in the middle"].make(tmp_path).argument
    playlist = by_name["HLS playlist, URL segment"].make(tmp_path).argument
    good_image, good_video = samples / "character.jpg", samples / "reference.mp4"
    prompt = "An astronaut sways in a plain studio, soft even lighting"
    rows = [(bomb, good_video), (corrupt, good_video), (good_image, playlist)]
    rows.append((str(good_image), str(good_video)))
    manifest = tmp_path / "manifest.csv"
    lines = ["image,video,prompt"] + [f'"{i}","{v}","{prompt}"' for i, v in rows]
    manifest.write_text("\n".join(lines) + "\n")
    run_batch(manifest, tmp_path / "out", settings=Settings(), executor="local", workers=1)
    by_row = {int(line["row"]): line for line in read_results(tmp_path / "out" / "results.jsonl")}
    assert [by_row[row]["status"] for row in (1, 2, 3)] == ["error"] * 3
    assert "bomb.png: declares 1600 megapixels" in str(by_row[1]["error"])
    assert "corrupt.jpg: the image is damaged" in str(by_row[2]["error"])
    assert "remote.m3u8: an HLS playlist" in str(by_row[3]["error"])
    assert by_row[4]["status"] != "error"
