"""Hostile inputs made on the fly, small and fast: broken, lying, bomb-like and pointing-elsewhere
files that a gate screening strangers' uploads will meet. Shared by
tests/media/test_hostile_media.py (a fast subset) and benchmarks/bench_hostile.py (the whole
suite, a subprocess per case).

Each case writes its input into a folder and says which option takes it; `guards` are files the
input points at (a playlist's segment, a concat list's entry) that must never be opened.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
import select
import socket
import struct
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from kling_prep.media.ffmpeg import find_ffmpeg


@dataclass(frozen=True)
class HostileInput:
    """One hostile input, written: the argument to give, the option, and the files it points at."""

    argument: str  # a path (absolute unless the case is about a relative name)
    option: str  # "--image" or "--video"
    cwd: Path  # where the command runs (a relative argument is read from here)
    guards: tuple[Path, ...] = ()  # files that must not be opened while the input is checked
    listeners: tuple[LoopbackListener, ...] = ()  # loopback ports it names: never to be dialled


@dataclass(frozen=True)
class HostileCase:
    name: str
    option: str
    make: Callable[[Path], HostileInput]
    is_fast: bool = True  # in `make test`'s subset (the benchmark runs every case)
    notes: str = ""
    tags: tuple[str, ...] = field(default=())


_IN_OPEN = 0x20
_IN_ACCESS = 0x01


class OpenWatch:
    """Which of some files are opened or read while it watches (Linux inotify, any process)."""

    def __init__(self, paths: tuple[Path, ...]) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._names: dict[int, Path] = {}
        for path in paths:
            wd = self._libc.inotify_add_watch(self._fd, str(path).encode(), _IN_OPEN | _IN_ACCESS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
            self._names[wd] = path

    def opened(self) -> list[str]:
        seen: set[str] = set()
        while select.select([self._fd], [], [], 0)[0]:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            at = 0
            while at + 16 <= len(data):
                wd, _mask, _cookie, length = struct.unpack_from("iIII", data, at)
                seen.add(str(self._names.get(wd, wd)))
                at += 16 + length
        return sorted(seen)

    def close(self) -> None:
        os.close(self._fd)


class LoopbackListener:
    """A TCP port on 127.0.0.1 that an input names: it listens so that a connection attempt is
    seen (the kernel completes the handshake into the backlog), and never answers, so nothing is
    served. `connections()` counts the attempts since the last call."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)
        self._socket.setblocking(False)
        self.port: int = self._socket.getsockname()[1]

    def connections(self) -> int:
        count = 0
        while True:
            try:
                peer, _ = self._socket.accept()
            except (BlockingIOError, OSError):
                return count
            peer.close()
            count += 1

    def close(self) -> None:
        self._socket.close()


# 1. Building blocks: a valid small picture and clip, and chunk-level writers.


def _rng(seed: int = 15) -> random.Random:
    return random.Random(seed)


def jpeg_bytes(width: int = 256, height: int = 256) -> bytes:
    from io import BytesIO

    from PIL import Image

    gradient = np.linspace(0, 255, width * height * 3, dtype=np.float32) % 256
    image = Image.fromarray(gradient.reshape(height, width, 3).astype(np.uint8))
    out = BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, *, idat: bytes | None = None, bit_depth: int = 8) -> bytes:
    """A PNG declaring `width` x `height` (greyscale): rows of zeros compressed, or `idat` as
    given (a lie about the size costs nothing to write)."""
    if idat is None:
        row_bytes = 1 + (width * bit_depth + 7) // 8
        compressor = zlib.compressobj(9)
        row = bytes(row_bytes)
        body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
        idat = body
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A valid small JPEG whose frame header (SOF0) is rewritten to declare another size."""
    data = bytearray(jpeg_bytes(64, 64))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    """A one-pixel GIF whose logical screen and image descriptor declare another size."""
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("P", (1, 1)).save(out, "GIF")
    data = bytearray(out.getvalue())
    struct.pack_into("<HH", data, 6, width, height)
    descriptor = data.find(b"\x2c")
    struct.pack_into("<HH", data, descriptor + 5, width, height)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    """A lossless WebP (VP8L) whose bitstream header declares another size (up to 16384)."""
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (4, 4)).save(out, "WEBP", lossless=True)
    data = bytearray(out.getvalue())
    at = data.find(b"VP8L") + 8 + 1  # chunk header, then the 0x2f signature
    # 14 bits width-1, 14 bits height-1, 1 bit alpha, 3 bits version (0).
    bits = (width - 1) | ((height - 1) << 14)
    struct.pack_into("<I", data, at, bits)
    return bytes(data)


def heif_declaring(suffix: str, width: int, height: int) -> bytes | None:
    """A small HEIC (pillow-heif) or AVIF (Pillow) whose `ispe` box declares another size;
    None when no encoder for it is installed."""
    from io import BytesIO

    from PIL import Image

    image = Image.new("RGB", (64, 64), (90, 120, 150))
    out = BytesIO()
    try:
        if suffix == ".heic":
            import pillow_heif

            pillow_heif.from_pillow(image).save(out, quality=50)
        else:
            image.save(out, "AVIF", quality=50)
    except (ImportError, OSError, KeyError, ValueError):
        return None
    data = bytearray(out.getvalue())
    at = data.find(b"ispe")
    if at < 0:
        return None
    struct.pack_into(">II", data, at + 8, width, height)  # after version and flags
    return bytes(data)


def _riff_chunk(fourcc: bytes, data: bytes) -> bytes:
    """A RIFF chunk: its code, its size, its data padded to an even length."""
    return fourcc + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)


def _riff_list(kind: bytes, body: bytes) -> bytes:
    return _riff_chunk(b"LIST", kind + body)


def gab2_chunk(name: str, payload: bytes) -> bytes:
    """A GAB2 subtitle chunk as FFmpeg's AVI demuxer reads it (avidec.c, read_gab2_sub): "GAB2"
    and a NUL, the version 2 (16 bits), the name's length in bytes (32 bits) and the name in
    UTF-16LE, 16 bits of flags, the payload's length (32 bits), then the payload, which FFmpeg
    probes to choose a demuxer for it."""
    name_utf16 = name.encode("utf-16-le") + b"\0\0"
    head = b"GAB2\0" + struct.pack("<HI", 2, len(name_utf16)) + name_utf16
    return head + struct.pack("<HI", 4, len(payload)) + payload


def _stream_header(
    kind: bytes, handler: bytes, fps: int, length: int, size: tuple[int, int]
) -> bytes:
    """An AVI `strh`: type, handler, flags, priority, language, initial frames, scale, rate,
    start, length, buffer size, quality (-1), sample size, frame rectangle."""
    fields = struct.pack("<IHHIIIIIIiI", 0, 0, 0, 0, 1, fps, 0, length, 0, -1, 0)
    return _riff_chunk(b"strh", kind + handler + fields + struct.pack("<4h", 0, 0, *size))


def avi_with_subtitle(subtitle: bytes, *, frames: int = 24, fps: int = 24) -> bytes:
    """An AVI of `frames` 64 x 48 MJPEG frames and a text stream (`txts`) whose one chunk is
    `subtitle` (a GAB2 chunk), written first in `movi` so a reader meets it at once; with an
    `idx1` index."""
    width, height = 64, 48
    pictures = [jpeg_bytes(width, height) for _ in range(frames)]
    avih = struct.pack(
        "<14I", 1_000_000 // fps, 0, 0, 0x10, frames, 0, 2, 0, width, height, 0, 0, 0, 0
    )
    bitmap = struct.pack(
        "<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", width * height * 3, 0, 0, 0, 0
    )
    video = _stream_header(b"vids", b"MJPG", fps, frames, (width, height)) + _riff_chunk(
        b"strf", bitmap
    )
    text = _stream_header(b"txts", bytes(4), fps, 1, (0, 0)) + _riff_chunk(b"strf", b"")
    header = _riff_list(
        b"hdrl", _riff_chunk(b"avih", avih) + _riff_list(b"strl", video) + _riff_list(b"strl", text)
    )
    body, index, offset = b"", b"", 4  # idx1 offsets count from the "movi" code
    for code, data in [(b"01tx", subtitle)] + [(b"00dc", picture) for picture in pictures]:
        body += _riff_chunk(code, data)
        index += code + struct.pack("<III", 0x10, offset, len(data))
        offset = 4 + len(body)
    riff = b"AVI " + header + _riff_list(b"movi", body) + _riff_chunk(b"idx1", index)
    return b"RIFF" + struct.pack("<I", len(riff)) + riff


def write_clip(
    path: Path,
    *,
    seconds: float = 1.0,
    fps: int = 24,
    size: tuple[int, int] = (64, 48),
    codec: str = "libx264",
    container_options: dict[str, str] | None = None,
    with_audio: bool = False,
) -> Path:
    """A small moving-gradient clip with PyAV."""
    width, height = size
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        audio = out.add_stream("aac", rate=22050) if with_audio else None
        base = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
        for i in range(max(1, round(seconds * fps))):
            rgb = np.broadcast_to((base + 7 * i) % 256, (height, width, 3)).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        if audio is not None:
            _write_tone(out, audio, seconds)
    return path


def _write_tone(out: av.container.OutputContainer, audio: av.AudioStream, seconds: float) -> None:
    rate = 22050
    samples = (0.2 * np.sin(np.arange(int(rate * seconds)) / 8)).astype(np.float32)
    for start in range(0, len(samples), 1024):
        sound = av.AudioFrame.from_ndarray(
            samples[start : start + 1024][None, :], format="flt", layout="mono"
        )
        sound.sample_rate, sound.pts, sound.time_base = rate, start, Fraction(1, rate)
        out.mux(audio.encode(sound))
    out.mux(audio.encode())


def _ffmpeg(*args: str) -> None:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", *args], check=True, timeout=60)


def _write(folder: Path, name: str, data: bytes, option: str) -> HostileInput:
    path = folder / name
    path.write_bytes(data)
    return HostileInput(str(path), option, folder)


# 2. The cases.


def _image(name: str, data: Callable[[], bytes]) -> Callable[[Path], HostileInput]:
    return lambda folder: _write(folder, name, data(), "--image")


def _video(name: str, data: Callable[[], bytes]) -> Callable[[Path], HostileInput]:
    return lambda folder: _write(folder, name, data(), "--video")


def _corrupt_middle_jpeg() -> bytes:
    data = bytearray(jpeg_bytes(512, 512))
    start, end = len(data) // 3, 2 * len(data) // 3
    data[start:end] = _rng().randbytes(end - start)
    return bytes(data)


def _png_with_exif_orientation(value: int) -> bytes:
    from io import BytesIO

    from PIL import Image

    image = Image.new("RGB", (400, 300), (120, 110, 100))
    exif = Image.Exif()
    exif[0x0112] = value
    out = BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _clip_bytes(folder: Path, name: str, **kwargs: object) -> bytes:
    path = write_clip(folder / f".src-{name}", **kwargs)  # type: ignore[arg-type]
    data = path.read_bytes()
    path.unlink()
    return data


def _truncated_clip(folder: Path) -> HostileInput:
    data = _clip_bytes(folder, "t.mp4", seconds=2.0, container_options={"movflags": "+faststart"})
    return _write(folder, "truncated.mp4", data[: len(data) // 2], "--video")


def _moov_at_end_cut(folder: Path) -> HostileInput:
    data = _clip_bytes(folder, "m.mp4", seconds=2.0)
    return _write(folder, "no-moov.mp4", data[: len(data) - 400], "--video")


def _no_frames(folder: Path) -> HostileInput:
    """An MP4 written with no frame: a header and nothing in it."""
    path = folder / "no-frames.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "color=s=64x48:d=1", "-frames:v", "0", "-c:v", "libx264", str(path)
    )
    return HostileInput(str(path), "--video", folder)


def _zero_duration_header(folder: Path) -> HostileInput:
    data = _clip_bytes(folder, "z.mp4", seconds=1.0, container_options={"movflags": "+faststart"})
    return _write(folder, "zero-duration.mp4", _patch_mvhd_duration(data, 0), "--video")


def _one_frame(folder: Path) -> HostileInput:
    path = write_clip(folder / "one-frame.mp4", seconds=1 / 24)
    return HostileInput(str(path), "--video", folder)


def _ten_hours_declared(folder: Path) -> HostileInput:
    """Two frames: one at 0 s and one at 10 hours; the container declares 10 hours."""
    path = folder / "ten-hours.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for pts_ms in (0, 36_000_000):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts_ms, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return HostileInput(str(path), "--video", folder)


def _patch_mvhd_duration(data: bytes, seconds: int) -> bytes:
    """An MP4 whose movie, track and media headers all declare `seconds` (version-0 boxes)."""
    out = bytearray(data)
    for box in (b"mvhd", b"mdhd"):
        at = out.find(box)
        while at >= 0:
            timescale = struct.unpack_from(">I", out, at + 16)[0]
            struct.pack_into(">I", out, at + 20, min(0xFFFFFFFF, seconds * timescale))
            at = out.find(box, at + 4)
    return bytes(out)


def _ten_hours_header(folder: Path) -> HostileInput:
    data = _clip_bytes(folder, "h.mp4", seconds=1.0, container_options={"movflags": "+faststart"})
    return _write(folder, "ten-hours-header.mp4", _patch_mvhd_duration(data, 36_000), "--video")


def _many_tiny_frames(folder: Path) -> HostileInput:
    path = write_clip(folder / "tiny-frames.mp4", seconds=10.0, fps=1000, size=(16, 16))
    return HostileInput(str(path), "--video", folder)


def _frame_16000(folder: Path) -> HostileInput:
    """An MJPEG clip whose every frame header declares 16000 x 16000 (the data is 64 x 48)."""
    data = bytearray(_clip_bytes(folder, "j.mov", seconds=0.5, codec="mjpeg"))
    at = data.find(b"\xff\xc0")
    while at >= 0:
        struct.pack_into(">HH", data, at + 5, 16000, 16000)
        at = data.find(b"\xff\xc0", at + 2)
    # The sample description's width and height too (stsd's visual entry).
    stsd = data.find(b"mjpa") if b"mjpa" in data else data.find(b"jpeg")
    if stsd >= 0:
        struct.pack_into(">HH", data, stsd + 28, 16000, 16000)
    return _write(folder, "huge-frame.mov", bytes(data), "--video")


def _rotation(folder: Path, degrees: str) -> HostileInput:
    source = write_clip(folder / ".rot-src.mp4", seconds=1.0)
    path = folder / f"rotated-{degrees}.mp4"
    _ffmpeg("-display_rotation:v:0", degrees, "-i", str(source), "-c", "copy", str(path))
    source.unlink()
    return HostileInput(str(path), "--video", folder)


def _absurd_aspect(folder: Path) -> HostileInput:
    source = write_clip(folder / ".sar-src.mp4", seconds=1.0)
    path = folder / "sar-1000.mp4"
    _ffmpeg(
        "-i", str(source), "-c", "copy",
        "-bsf:v", "h264_metadata=sample_aspect_ratio=1000/1", str(path),
    )  # fmt: skip
    source.unlink()
    return HostileInput(str(path), "--video", folder)


def _audio_only(folder: Path) -> HostileInput:
    path = folder / "voice.mp4"
    with av.open(str(path), "w") as out:
        _write_tone(out, out.add_stream("aac", rate=22050), 1.0)
    return HostileInput(str(path), "--video", folder)


def _guard_clip(folder: Path) -> Path:
    """A valid clip outside the input, which a playlist or a concat list names."""
    return write_clip(folder / "secret" / "guard.ts", seconds=1.0, container_options={})


def _hls(folder: Path, *, absolute: bool, suffix: str) -> HostileInput:
    (folder / "secret").mkdir(exist_ok=True)
    guard = _guard_clip(folder)
    target = str(guard) if absolute else "secret/guard.ts"
    text = f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{target}\n#EXT-X-ENDLIST\n"
    path = folder / f"playlist{suffix}"
    path.write_text(text)
    return HostileInput(str(path), "--video", folder, guards=(guard,))


def _hls_url(folder: Path) -> HostileInput:
    # 192.0.2.0/24 is TEST-NET-1: documentation only, never routed.
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nhttp://192.0.2.1/seg.ts\n#EXT-X-ENDLIST\n"
    )
    return _write(folder, "remote.m3u8", text.encode(), "--video")


def _ffconcat(folder: Path) -> HostileInput:
    (folder / "secret").mkdir(exist_ok=True)
    guard = _guard_clip(folder)
    path = folder / "list.mp4"
    path.write_text(f"ffconcat version 1.0\nfile '{guard}'\nfile 'secret/guard.ts'\n")
    return HostileInput(str(path), "--video", folder, guards=(guard,))


def _concat_protocol_name(folder: Path) -> HostileInput:
    """A file whose relative name is an FFmpeg protocol URL: `concat:a|b`."""
    (folder / "secret").mkdir(exist_ok=True)
    guard = _guard_clip(folder)
    name = "concat:secret/guard.ts|secret/guard.ts"
    # As a path, it names "guard.ts" in the folder "concat:secret/guard.ts|secret".
    real = folder / name
    real.parent.mkdir(parents=True)
    real.write_bytes(_clip_bytes(folder, "c.mp4", seconds=1.0))
    return HostileInput(name, "--video", folder, guards=(guard,))


def _hls_in_avi(folder: Path, *, remote: bool) -> HostileInput:
    """An AVI whose GAB2 subtitle chunk holds an HLS playlist naming a local file by absolute
    path, or a URL on a loopback port that listens and never answers."""
    if remote:
        listener = LoopbackListener()
        target, guards, listeners = f"http://127.0.0.1:{listener.port}/seg.ts", (), (listener,)
    else:
        (folder / "secret").mkdir(exist_ok=True)
        guard = _guard_clip(folder)
        target, guards, listeners = str(guard), (guard,), ()
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{target}\n#EXT-X-ENDLIST\n"
    data = avi_with_subtitle(gab2_chunk("subtitles", playlist.encode()))
    item = _write(folder, "hidden-url.avi" if remote else "hidden-file.avi", data, "--video")
    return HostileInput(item.argument, item.option, folder, guards=guards, listeners=listeners)


def dash_manifest(segment: str) -> str:
    """A static DASH manifest (MPD) of one video representation whose media is `segment`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" profiles='
        '"urn:mpeg:dash:profile:isoff-on-demand:2011" mediaPresentationDuration="PT1S" '
        'minBufferTime="PT1S">\n <Period>\n  <AdaptationSet mimeType="video/mp4">\n'
        '   <Representation id="0" bandwidth="100000" width="64" height="48" '
        'codecs="avc1.64000a">\n'
        f"    <BaseURL>{segment}</BaseURL>\n"
        "   </Representation>\n  </AdaptationSet>\n </Period>\n</MPD>\n"
    )


def _dash(folder: Path, *, absolute: bool, suffix: str) -> HostileInput:
    """A DASH manifest naming a local MP4 segment (an FFmpeg with the dash demuxer reads it)."""
    (folder / "secret").mkdir(exist_ok=True)
    guard = write_clip(folder / "secret" / "guard.mp4", seconds=1.0)
    path = folder / f"manifest{suffix}"
    path.write_text(dash_manifest(str(guard) if absolute else "secret/guard.mp4"))
    return HostileInput(str(path), "--video", folder, guards=(guard,))


def _polyglot(folder: Path) -> HostileInput:
    """A JPEG followed by a whole MP4: an image to Pillow, maybe a video to FFmpeg."""
    data = jpeg_bytes(400, 400) + _clip_bytes(folder, "p.mp4", seconds=1.0)
    return _write(folder, "polyglot.jpg", data, "--image")


def _polyglot_as_video(folder: Path) -> HostileInput:
    data = jpeg_bytes(400, 400) + _clip_bytes(folder, "q.mp4", seconds=1.0)
    return _write(folder, "polyglot.mp4", data, "--video")


def _fifo(option: str) -> Callable[[Path], HostileInput]:
    def make(folder: Path) -> HostileInput:
        path = folder / ("pipe.jpg" if option == "--image" else "pipe.mp4")
        os.mkfifo(path)
        return HostileInput(str(path), option, folder)

    return make


def _dev_zero(option: str) -> Callable[[Path], HostileInput]:
    def make(folder: Path) -> HostileInput:
        path = folder / ("zero.jpg" if option == "--image" else "zero.mp4")
        path.symlink_to("/dev/zero")
        return HostileInput(str(path), option, folder)

    return make


def _heif_bomb(suffix: str) -> Callable[[Path], HostileInput]:
    def make(folder: Path) -> HostileInput:
        data = heif_declaring(suffix, 60000, 60000)
        if data is None:
            import pytest

            pytest.skip(f"no {suffix} encoder installed")
        return _write(folder, f"bomb{suffix}", data, "--image")

    return make


CASES: tuple[HostileCase, ...] = (
    # Broken files.
    HostileCase("empty image", "--image", _image("empty.jpg", lambda: b"")),
    HostileCase("empty video", "--video", _video("empty.mp4", lambda: b"")),
    HostileCase("random bytes as image", "--image", _image("noise.jpg", lambda: _rng().randbytes(65536))),
    HostileCase("random bytes as video", "--video", _video("noise.mp4", lambda: _rng().randbytes(65536))),
    HostileCase("truncated JPEG", "--image", _image("cut.jpg", lambda: jpeg_bytes(512, 512)[:9000])),
    HostileCase("JPEG corrupt in the middle", "--image", _image("corrupt.jpg", _corrupt_middle_jpeg)),
    HostileCase("truncated PNG", "--image", _image("cut.png", lambda: png_bytes(600, 600)[:60])),
    HostileCase("truncated MP4 (faststart)", "--video", _truncated_clip),
    HostileCase("MP4 cut before its moov", "--video", _moov_at_end_cut),
    # Wrong extensions, both ways.
    HostileCase("PNG named .jpg", "--image", _image("really-png.jpg", lambda: png_bytes(400, 400))),
    HostileCase("JPEG given as the video", "--video", _video("photo.mp4", lambda: jpeg_bytes())),
    HostileCase("MP4 given as the image", "--image", lambda f: _write(f, "clip.jpg", _clip_bytes(f, "x.mp4"), "--image")),
    HostileCase("text named .png", "--image", _image("notes.png", lambda: b"hello\n" * 100)),
    HostileCase("polyglot JPEG+MP4 as image", "--image", _polyglot),
    HostileCase("polyglot JPEG+MP4 as video", "--video", _polyglot_as_video),
    # Decompression bombs (declared sizes far past any camera's).
    HostileCase("PNG declaring 40000x40000", "--image", _image("bomb.png", lambda: png_bytes(40000, 40000, idat=zlib.compress(b"\0" * 64)))),
    HostileCase("PNG of 10000x10000 zeros (1 bit)", "--image", _image("zip-bomb.png", lambda: png_bytes(10000, 10000, bit_depth=1)), is_fast=False),
    HostileCase("JPEG declaring 65500x65500", "--image", _image("bomb.jpg", lambda: jpeg_declaring(65500, 65500))),
    HostileCase("JPEG declaring 12000x9000", "--image", _image("big.jpg", lambda: jpeg_declaring(12000, 9000))),
    HostileCase("GIF declaring 65535x65535", "--image", _image("bomb.gif", lambda: gif_declaring(65535, 65535))),
    HostileCase("WebP declaring 16384x16384", "--image", _image("bomb.webp", lambda: webp_declaring(16384, 16384))),
    HostileCase("HEIC declaring 60000x60000", "--image", _heif_bomb(".heic")),
    HostileCase("AVIF declaring 60000x60000", "--image", _heif_bomb(".avif")),
    HostileCase("video frames declaring 16000x16000", "--video", _frame_16000),
    # Lying durations and counts.
    HostileCase("MP4 with no frame", "--video", _no_frames),
    HostileCase("0 s declared in the headers", "--video", _zero_duration_header),
    HostileCase("one-frame MP4", "--video", _one_frame),
    HostileCase("10 hours declared in the headers", "--video", _ten_hours_header),
    HostileCase("a frame at 0 s and one at 10 hours", "--video", _ten_hours_declared, is_fast=False),
    HostileCase("10 000 frames of 16x16", "--video", _many_tiny_frames, is_fast=False),
    HostileCase("audio-only MP4", "--video", _audio_only),
    # Absurd metadata.
    HostileCase("EXIF orientation 9", "--image", _image("orient9.jpg", lambda: _png_with_exif_orientation(9))),
    HostileCase("EXIF orientation 65535", "--image", _image("orient65535.jpg", lambda: _png_with_exif_orientation(65535))),
    HostileCase("display rotation 37 deg", "--video", lambda f: _rotation(f, "37")),
    HostileCase("display rotation -450 deg", "--video", lambda f: _rotation(f, "-450")),
    HostileCase("sample aspect 1000:1", "--video", _absurd_aspect),
    # Inputs pointing elsewhere: never followed.
    HostileCase("HLS playlist, absolute local segment", "--video", lambda f: _hls(f, absolute=True, suffix=".m3u8")),
    HostileCase("HLS playlist named .mp4, relative segment", "--video", lambda f: _hls(f, absolute=False, suffix=".mp4")),
    HostileCase("HLS playlist, URL segment", "--video", _hls_url),
    HostileCase("ffconcat list named .mp4", "--video", _ffconcat),
    HostileCase("a file named concat:a|b", "--video", _concat_protocol_name),
    HostileCase("AVI hiding an HLS playlist (local file) in GAB2", "--video", lambda f: _hls_in_avi(f, remote=False)),
    HostileCase("AVI hiding an HLS playlist (loopback URL) in GAB2", "--video", lambda f: _hls_in_avi(f, remote=True)),
    HostileCase("DASH manifest, absolute local segment", "--video", lambda f: _dash(f, absolute=True, suffix=".mpd")),
    HostileCase("DASH manifest named .mp4, relative segment", "--video", lambda f: _dash(f, absolute=False, suffix=".mp4")),
    # Not regular files.
    HostileCase("FIFO as image", "--image", _fifo("--image")),
    HostileCase("FIFO as video", "--video", _fifo("--video")),
    HostileCase("symlink to /dev/zero as image", "--image", _dev_zero("--image")),
    HostileCase("symlink to /dev/zero as video", "--video", _dev_zero("--video")),
)  # fmt: skip
