"""Writing output files whole or not at all: the one way reports, images and results are saved."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def give_normal_mode(path: Path) -> None:
    """mkstemp makes a file private (0600); an output is as readable as any file the user
    makes here (0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_atomically(data: bytes, path: Path) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, fsynced, renamed.

    A kill, a full disk or Ctrl-C leaves no partial file under `path` (only, at worst, a
    `.NAME.*.part` file beside it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        give_normal_mode(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
