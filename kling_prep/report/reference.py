"""docs/CHECKS.md, generated from the code so the table of codes and thresholds cannot drift.

Regenerate with `python -m kling_prep.report.reference > docs/CHECKS.md`; a test compares.
"""

from __future__ import annotations

from kling_prep.checks.findings import CODES
from kling_prep.checks.thresholds import threshold_table
from kling_prep.limits import PROFILES
from kling_prep.plan import orientation


def render() -> str:
    lines = [
        "# Checks reference",
        "",
        "Generated from `kling_prep/checks/findings.py`, `thresholds.py`, `plan/orientation.py` and `limits.py` by",
        "`python -m kling_prep.report.reference`; do not edit by hand.",
        "",
        "## Finding codes",
        "",
        "| code | subject | meaning | prepare can fix |",
        "|---|---|---|---|",
    ]
    for code, info in CODES.items():
        fix = "yes" if info.is_fixable else "no"
        lines.append(f"| `{code}` | {info.subject} | {info.meaning} | {fix} |")
    lines += [
        "",
        "Severities: `block` (the API would reject the input or the credits would be wasted;",
        "exit code 2), `warn` (it will run but the result may suffer; exit 1), `info` (advice).",
        "",
        "## Thresholds (override under `[thresholds]` in kling-prep.toml)",
        "",
        "| name | default | unit | why |",
        "|---|---|---|---|",
    ]
    for name, default, unit, why in threshold_table():
        lines.append(f"| `{name}` | {default:g} | {unit} | {why} |")
    lines += ["", "## The `character_orientation` suggestion", ""]
    lines += [
        line.strip() if not line.startswith("   ") else line
        for line in (orientation.__doc__ or "").strip().splitlines()[2:]
    ]
    lines += ["", "## API profiles (override under `[limits]`, choose with `profile = ...`)", ""]
    for profile in PROFILES.values():
        lines += [
            f"### `{profile.name}`",
            "",
            profile.description,
            "",
            f"- image: {', '.join(profile.image_formats)}; at most {profile.image_max_bytes:,} "
            f"bytes; each side at least {profile.image_min_side_px} px; aspect "
            f"{profile.image_min_aspect:.2f}-{profile.image_max_aspect:.2f} (width/height)",
            f"- video: {', '.join(profile.video_containers)}; at most {profile.video_max_bytes:,} "
            f"bytes; sides {profile.video_min_side_px}-{profile.video_max_side_px} px; "
            f"{profile.video_min_duration_s:g}-{profile.max_duration_s('video'):g} s "
            f"(orientation video), {profile.video_min_duration_s:g}-"
            f"{profile.max_duration_s('image'):g} s (orientation image)",
            f"- prompt: at most {profile.prompt_max_chars} characters; "
            f"{'required' if profile.is_prompt_required else 'optional'}",
            f"- price: {profile.credits_per_job} credits a job, charged at submission",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
