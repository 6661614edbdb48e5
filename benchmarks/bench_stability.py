"""How stable the check's judgement of a real image is under changes that leave its truth alone.

The real set's labels (../shared/realset) score the check against the truth; this benchmark asks
a different question that needs no label: does the check say the same thing about the same
picture when it is mirrored, made smaller or recompressed? None of these changes who is in the
picture, which way the face looks (a mirror only swaps the yaw's sign) or how it is lit, so every
change of the check's answer is a decision taken on noise, next to a threshold. A judgement that
flips under a mirror is right or wrong by chance on a set it has never seen, which is why this is
measured beside the accuracy: the accuracy on one small set can be fitted, the stability cannot.

For every image of the set, each variant is written to a temporary folder (never into the
project), checked alone, and compared with the original's answer on four things scored as in
benchmarks/bench_realset.py: the person count (0 / 1 / 2+), the face view's verdict (pass /
warn / block / no person found), the set of lighting findings, and the verdict its judgements
give (ready / warnings / blocked; the API's file rules, such as its smallest side, left out).

Variants:
  mirror   left and right swapped
  small    0.7 of each side (area resampling), as a smaller upload of the same photo
  jpeg70   recompressed as JPEG at quality 70, as a messaging app would

Run: `.venv/bin/python benchmarks/bench_stability.py [REALSET_DIR] [--only TEXT]
[--out FILE]` (default ../shared/realset beside the project). Prints markdown; writes the
per-file answers to --out (default /tmp/kp-stability.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_realset import (  # benchmarks/ is the script's own folder
    DEFAULT_REALSET,
    LIMIT_CODES,
    run_image,
    said_lighting,
    said_people,
    said_view,
    table,
)
from PIL import Image, ImageOps

from kling_prep.checks.image import load_rgb

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _mirror(image: Image.Image, path: Path) -> None:
    ImageOps.mirror(image).save(path, quality=95)


def _small(image: Image.Image, path: Path) -> None:
    size = (max(1, round(image.width * 0.7)), max(1, round(image.height * 0.7)))
    image.resize(size, Image.Resampling.BOX).save(path, quality=95)


def _jpeg70(image: Image.Image, path: Path) -> None:
    image.save(path, quality=70)


VARIANTS: dict[str, Callable[[Image.Image, Path], None]] = {
    "mirror": _mirror,
    "small": _small,
    "jpeg70": _jpeg70,
}
MEASURES = ("people", "face", "lighting", "verdict")


def answers(result: dict[str, Any]) -> dict[str, Any]:
    """What the check said, in the four terms compared."""
    if "error" in result:
        return dict.fromkeys(MEASURES, "error")
    return {
        "people": said_people("image", result),
        "face": said_view(result),
        "lighting": "+".join(said_lighting(result)) or "none",
        "verdict": judged_verdict(result["codes"]),
    }


def judged_verdict(codes: dict[str, str]) -> str:
    """The verdict the judgements give, the API's file rules left out: a copy at 0.7 of each
    side may fall under the API's smallest side, which is right about that copy and says
    nothing of the picture."""
    severities = {severity for code, severity in codes.items() if code not in LIMIT_CODES}
    if "block" in severities:
        return "blocked"
    return "warnings" if "warn" in severities else "ready"


def check_variants(path: Path, folder: Path) -> dict[str, dict[str, Any]]:
    """The original's answers and each variant's, checked one by one."""
    out = {"original": answers(_safe_run(path))}
    # The picture as the check itself sees it (upright, alpha flattened the check's way), at
    # full size: a variant must differ from the original only by its own change.
    image = Image.fromarray(load_rgb(path, max_side_px=1 << 20))
    for name, make in VARIANTS.items():
        variant = folder / f"{path.stem}.{name}.jpg"
        make(image, variant)
        out[name] = answers(_safe_run(variant))
        variant.unlink()
    return out


def _safe_run(path: Path) -> dict[str, Any]:
    try:
        return run_image(path)
    except Exception as exc:  # a crash is reported as an answer, not a stopped benchmark
        return {"error": f"{type(exc).__name__}: {exc}"}


def report(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [f"### Stability of the check's answers, {len(results)} real images", ""]
    rows = []
    for variant in VARIANTS:
        row: list[Any] = [variant]
        for measure in MEASURES:
            changed = sum(r[variant][measure] != r["original"][measure] for r in results.values())
            row.append(f"{changed} / {len(results)}")
        rows.append(row)
    lines.append(table(["variant", *(f"{m} changed" for m in MEASURES)], rows))
    lines += ["", "Changes, file by file (original -> variant):", ""]
    changes = []
    for file, r in results.items():
        for variant in VARIANTS:
            for measure in MEASURES:
                before, after = r["original"][measure], r[variant][measure]
                if before != after:
                    changes.append(
                        [f"`{Path(file).name}`", variant, measure, f"{before} -> {after}"]
                    )
    lines.append(table(["file", "variant", "measure", "answer"], changes) if changes else "none")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("realset", nargs="?", type=Path, default=DEFAULT_REALSET)
    parser.add_argument("--only", default="", help="only files whose path contains TEXT")
    parser.add_argument("--out", type=Path, default=Path("/tmp/kp-stability.json"))
    args = parser.parse_args(argv)
    labels = json.loads((args.realset / "labels-images.json").read_text())
    files = [lab["file"] for lab in labels if args.only in lab["file"]]
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="kp-stability-") as tmp:
        for n, file in enumerate(files, 1):
            results[file] = check_variants(args.realset / file, Path(tmp))
            print(f"  [{n}/{len(files)}] {file}", file=sys.stderr)
    args.out.write_text(json.dumps(results, indent=1))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
