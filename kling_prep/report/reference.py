"""docs/CHECKS.md, generated from the code so the table of codes and thresholds cannot drift.

Regenerate with `python -m kling_prep.report.reference > docs/CHECKS.md`; a test compares.
"""

from __future__ import annotations

from kling_prep.checks.findings import CODES
from kling_prep.checks.thresholds import threshold_table
from kling_prep.limits import PROFILES, limit_rows, table_legend
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
    lines += [
        "",
        "## Provider profiles (choose with `--profile NAME` or `profile = ...`; override under "
        "`[limits]`)",
        "",
        "The same Kling Motion Control model is sold through several APIs whose documented input",
        "rules differ slightly. Each value below was read from the provider's public documentation",
        "as quoted in issue 14; none was measured against a live service. Only `vydra`'s API can be",
        "submitted to (`submit`, `batch --submit`, `wait`); the others are for `check`, `prepare`,",
        "`gate`, `batch` and `sandbox --profile`. `!` marks a limit on which the providers differ.",
        "",
        "| limit | " + " | ".join(f"`{name}`" for name in PROFILES) + " |",
        "|---|" + "---|" * len(PROFILES),
    ]
    for row in limit_rows():
        mark = "! " if row.differs else ""
        lines.append(f"| {mark}{row.label} | " + " | ".join(row.values) + " |")
    lines += ["", table_legend(), ""]
    for profile in PROFILES.values():
        lines += [
            f"- `{profile.name}`: {profile.description} Source: {profile.source}; read "
            f"{profile.read_on}.",
        ]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
