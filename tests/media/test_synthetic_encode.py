"""write_mp4 gives the same clip from the same frames in any process: the tests' and the
benchmarks' generated media must not depend on the machine's CPUs or on what the process
encoded before."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

ROOT = Path(__file__).resolve().parents[2]

# One child process: optionally held to one CPU and optionally writing a clip with an AAC track
# first, then the 480x360 clip under test (no audio), from frames that need no model to make.
_ENCODE = """
import os, sys
from pathlib import Path
import numpy as np
from kling_prep.media.synthetic import studio, write_mp4

out, one_cpu, audio_first = Path(sys.argv[1]), sys.argv[2] == "1", sys.argv[3] == "1"
if one_cpu:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
wall = studio(480, 360, (200, 196, 188))
frames = []
for i in range(24):
    frame = wall.copy()
    frame[90:290, 100 + 6 * i : 200 + 6 * i] = (40, 90, 160)
    frames.append(frame)
if audio_first:
    write_mp4(out.with_name("first-with-audio.mp4"), [f[:, :360] for f in frames])
write_mp4(out, frames, with_audio=False)
"""


def _encode_in_child(out: Path, *, one_cpu: bool, audio_first: bool) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    args = [str(out), str(int(one_cpu)), str(int(audio_first))]
    subprocess.run(
        [sys.executable, "-c", _ENCODE, *args], cwd=ROOT, env=env, check=True, timeout=60
    )


def _decoded_digest(path: Path) -> tuple[int, str]:
    """The number of decoded frames and the MD5 of their yuv420p pixels."""
    digest, count = hashlib.md5(), 0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            digest.update(frame.to_ndarray(format="yuv420p").tobytes())
            count += 1
    return count, digest.hexdigest()


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux CPU affinity and at least 2 CPUs to give the two processes other CPUs",
)
def test_the_same_frames_encode_the_same_in_two_processes(tmp_path: Path) -> None:
    # One process with all CPUs, after a clip with an AAC track; the other held to one CPU, as
    # on a 1-core machine or under `taskset -c 0`. Before x264's threads were pinned, x264 cut
    # each frame into one slice per CPU and the two clips differed in bytes and pixels.
    first, second = tmp_path / "all-cpus.mp4", tmp_path / "one-cpu.mp4"
    _encode_in_child(first, one_cpu=False, audio_first=True)
    _encode_in_child(second, one_cpu=True, audio_first=False)
    assert _decoded_digest(first) == _decoded_digest(second), (
        f"{first.name} and {second.name} decode to other pixels from the same 24 frames"
    )
    assert first.read_bytes() == second.read_bytes(), (
        f"{first.name} and {second.name} differ in bytes from the same 24 frames"
    )
