"""The batch manifest: one job per row, in CSV (with a header) or JSON Lines.

Columns: `image`, `video`, `prompt`, and optionally `orientation` (video|image), `keep_sound`
(true/false) and `profile` (a provider profile of `kling_prep.limits`). Paths are relative to
the manifest's folder; http(s) URLs are kept as they are. A bad row becomes a `RowError` with
its row number and the reason; it never stops the manifest.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kling_prep.errors import InputError
from kling_prep.limits import ORIENTATIONS, PROFILES, Orientation
from kling_prep.media.fetch import is_url

COLUMNS = ("image", "video", "prompt", "orientation", "keep_sound", "profile")
_TRUE = {"true", "yes", "1", "y", "on"}
_FALSE = {"false", "no", "0", "n", "off"}


@dataclass(frozen=True)
class ManifestRow:
    """One job as the manifest names it, with its paths made absolute.

    `row` counts data rows from 1 (the header is not a row); `line` is the line in the file.
    """

    row: int
    line: int
    image: str
    video: str
    prompt: str | None
    orientation: Orientation | None = None
    keep_sound: bool = True
    profile: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "line": self.line,
            "image": self.image,
            "video": self.video,
            "prompt": self.prompt,
            "orientation": self.orientation,
            "keep_sound": self.keep_sound,
            "profile": self.profile,
        }


@dataclass(frozen=True)
class RowError:
    """A row that cannot be run as written: its number, the reason, and the raw values."""

    row: int
    line: int
    reason: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """The rows to run, the rows that are wrong, and remarks about the file as a whole."""

    path: Path
    rows: list[ManifestRow]
    errors: list[RowError]
    warnings: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return len(self.rows) + len(self.errors)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _resolve(value: str, base_dir: Path) -> str:
    if is_url(value):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base_dir / path).resolve())


def _bool(value: Any, column: str) -> bool:
    if isinstance(value, bool):
        return value
    text = (_text(value) or "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{column} is {value!r}; write true or false")


def parse_row(raw: dict[str, Any], *, row: int, line: int, base_dir: Path) -> ManifestRow:
    """One manifest row from its raw values (column names already lower-cased).

    Raises:
        ValueError: a required column is empty or a value is not one the column takes; the
            message names the column and the value.
    """
    image = _text(raw.get("image"))
    video = _text(raw.get("video"))
    if image is None or video is None:
        missing = [name for name, value in (("image", image), ("video", video)) if value is None]
        raise ValueError(f"{' and '.join(missing)} missing: a job needs an image and a video")
    orientation: Orientation | None = None
    given = _text(raw.get("orientation"))
    if given is not None:
        if given.lower() not in ORIENTATIONS:
            raise ValueError(f"orientation is {given!r}; write video or image (or leave it empty)")
        orientation = "image" if given.lower() == "image" else "video"
    keep = raw.get("keep_sound")
    profile = _text(raw.get("profile"))
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"profile {profile!r} is unknown; known: {', '.join(sorted(PROFILES))}")
    prompt = raw.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError(f"prompt is {prompt!r}; it must be text")
    return ManifestRow(
        row=row,
        line=line,
        image=_resolve(image, base_dir),
        video=_resolve(video, base_dir),
        prompt=_text(prompt),
        orientation=orientation,
        keep_sound=True if keep is None or keep == "" else _bool(keep, "keep_sound"),
        profile=profile,
    )


def _records(
    path: Path, text: str
) -> tuple[list[tuple[int, int, dict[str, Any] | str]], list[str]]:
    """(row, line, raw values or the reason they could not be read) for each data row."""
    warnings: list[str] = []
    records: list[tuple[int, int, dict[str, Any] | str]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        row = 0
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            row += 1
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                records.append((row, line_no, f"not valid JSON ({exc.msg} at column {exc.colno})"))
                continue
            if not isinstance(value, dict):
                records.append(
                    (row, line_no, f"a JSON object is expected, not {type(value).__name__}")
                )
                continue
            records.append((row, line_no, {str(k).strip().lower(): v for k, v in value.items()}))
        unknown = sorted(
            {k for _, _, r in records if isinstance(r, dict) for k in r} - set(COLUMNS)
        )
    else:
        reader = csv.DictReader(text.splitlines(keepends=True))
        header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
        if "image" not in header or "video" not in header:
            raise InputError(
                f"{path}: the first line must name the columns (image, video, prompt, ...); "
                f"it names {', '.join(repr(h) for h in header) or 'nothing'}"
            )
        unknown = sorted(set(header) - set(COLUMNS) - {""})
        for row, values in enumerate(reader, start=1):
            line_no = reader.line_num
            if None in values:  # more cells than the header names
                extra = len(values[None])
                cells = f"{len(header) + extra} cells for {len(header)} columns"
                records.append((row, line_no, cells))
                continue
            raw = {(k or "").strip().lower(): v for k, v in values.items()}
            if all(_text(v) is None for v in raw.values()):
                records.append((row, line_no, "the row is empty"))
                continue
            records.append((row, line_no, raw))
    if unknown:
        warnings.append(
            f"{path}: columns ignored: {', '.join(unknown)} (known: {', '.join(COLUMNS)})"
        )
    return records, warnings


def read_manifest(path: Path) -> Manifest:
    """Read a CSV or JSONL manifest.

    Args:
        path: the manifest; `.jsonl`/`.ndjson`/`.json` are JSON Lines, anything else CSV.

    Returns:
        The rows, each bad row as a RowError (never raised), and file-level warnings.

    Raises:
        InputError: the file cannot be read, or a CSV has no header naming image and video.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: the manifest cannot be read ({exc})") from exc
    records, warnings = _records(path, text)
    base_dir = path.resolve().parent
    rows: list[ManifestRow] = []
    errors: list[RowError] = []
    for row, line_no, raw in records:
        if isinstance(raw, str):
            errors.append(RowError(row, line_no, raw))
            continue
        try:
            rows.append(parse_row(raw, row=row, line=line_no, base_dir=base_dir))
        except ValueError as exc:
            errors.append(RowError(row, line_no, str(exc), raw))
    return Manifest(path=path, rows=rows, errors=errors, warnings=warnings)
