"""PySceneDetect's ContentDetector alone on one clip, with its default settings (OpenCV
backend, automatic downscale), as bench_speed.py's comparison: it finds cuts and nothing else.

Run: `.venv/bin/python benchmarks/scenedetect_content.py CLIP [--adaptive]`; prints the cut
frames (first frame of each new scene) as one JSON line.
"""

from __future__ import annotations

import argparse
import json


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--adaptive", action="store_true", help="AdaptiveDetector instead")
    args = parser.parse_args(argv)
    from scenedetect import AdaptiveDetector, ContentDetector, detect

    detector = AdaptiveDetector() if args.adaptive else ContentDetector()
    scenes = detect(args.clip, detector)
    print(json.dumps({"cuts": [int(start.frame_num) for start, _ in scenes[1:]]}))


if __name__ == "__main__":
    main()
