"""Make the project's own sample inputs from the public-domain astronaut photograph that
scikit-image's wheel carries (NASA, Eileen Collins). Run: `make samples`.

Good pair: character.jpg + reference.mp4 (the astronaut cut out and swaying in front of a plain
studio wall, with a tone as audio). Bad cases under bad/: two people, too dark, a hard cut, too
long. Every file is regenerated the same way each run.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data

from kling_prep.media.synthetic import darken, save_jpeg, sway_frames, write_mp4

HERE = Path(__file__).resolve().parent
BAD = HERE / "bad"


def astronaut() -> np.ndarray:
    return np.asarray(data.astronaut(), dtype=np.uint8)  # 512x512 RGB


def person_mask(rgb: np.ndarray) -> np.ndarray:
    from mediapipe.python.solutions import pose

    with pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True) as model:
        result = model.process(rgb)
    mask = np.asarray(result.segmentation_mask, dtype=np.float32)
    return cv2.GaussianBlur(mask, (5, 5), 0)


def main() -> None:
    rgb = astronaut()
    mask = person_mask(rgb)
    save_jpeg(HERE / "character.jpg", rgb)
    write_mp4(HERE / "reference.mp4", sway_frames(rgb, mask, 6.0, (480, 640)))
    save_jpeg(BAD / "two-people.jpg", np.concatenate([rgb, rgb[:, ::-1]], axis=1))
    save_jpeg(BAD / "dark.jpg", darken(rgb, -5.0))
    first = sway_frames(rgb, mask, 3.0, (480, 640))
    second = sway_frames(rgb, mask, 3.0, (480, 640), tint=(70, 110, 160), mirror=True)
    write_mp4(BAD / "cut.mp4", first + second)
    write_mp4(BAD / "too-long.mp4", sway_frames(rgb, mask, 35.0, (360, 480)), crf=36)
    for path in sorted(HERE.rglob("*")):
        if path.is_file() and path.suffix in (".jpg", ".mp4"):
            print(f"{path.relative_to(HERE)}: {path.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
