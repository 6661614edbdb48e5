"""docs/CHECKS.md, generated from the code so the table of codes and thresholds cannot drift.

Regenerate with `python -m kling_prep.report.reference > docs/CHECKS.md`; a test compares.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools

from kling_prep.checks.findings import CODES
from kling_prep.checks.thresholds import threshold_table
from kling_prep.limits import PROFILES, limit_rows, table_legend
from kling_prep.plan import orientation

# The modules whose named constants are measurement parameters (listed in the docs, not
# overridable): how the measures sample, see and tell events apart, not what the checks accept.
MEASURE_MODULES = (
    "kling_prep.vision.timeline",
    "kling_prep.vision.video",
    "kling_prep.vision.pose",
    "kling_prep.vision.cuts",
    "kling_prep.vision.camera",
    "kling_prep.vision.camera_shots",
)


def measurement_parameters() -> list[tuple[str, str, str, str]]:
    """(module, name, value, why) for every public constant with a docstring in
    `MEASURE_MODULES`, in source order."""
    rows = []
    for name in MEASURE_MODULES:
        module = importlib.import_module(name)
        body = ast.parse(inspect.getsource(module)).body
        for node, after in itertools.pairwise(body):
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            const = node.target.id
            doc = None
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                doc = after.value.value
            if const.startswith("_") or not isinstance(doc, str):
                continue
            why = " ".join(doc.split())
            rows.append((name.rsplit(".", 1)[1], const, repr(getattr(module, const)), why))
    return rows


def _measurement_section() -> list[str]:
    lines = [
        "",
        "## Measurement parameters (fixed: how the measures look, not what the checks accept)",
        "",
        "These shape what `kling_prep/vision/` measures: the sampling, when a landmark counts as",
        "seen, what the cut detector takes for a cut, a fade or a dissolve, how the camera is",
        "tracked. Each was set from what it measures and checked on generated cases with known",
        "answers, so they are not overridable; the thresholds above judge their results.",
        "",
        "| module | name | value | why |",
        "|---|---|---|---|",
    ]
    for module, name, value, why in measurement_parameters():
        lines.append(f"| `vision/{module}.py` | `{name}` | `{value}` | {why} |")
    return lines


def render() -> str:
    lines = [
        "# Checks reference",
        "",
        "Generated from `kling_prep/checks/findings.py`, `thresholds.py`, the named constants of "
        "`kling_prep/vision/`, `plan/orientation.py` and `limits.py` by",
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
    lines += _measurement_section()
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
