"""kling_prep: pre-flight checks, trimming and a safe client for the Kling Motion Control API.

The Python API for production code is `kling_prep.check(image=..., video=...)` and
`kling_prep.prepare(image=..., video=..., out_dir=...)` (or a `kling_prep.CheckRequest` /
`kling_prep.PrepareOptions` in place of the keywords); they return the same result objects the
CLI renders, never print and never exit. Heavy libraries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kling_prep.version import __version__

if TYPE_CHECKING:
    from kling_prep.preflight import CheckRequest, check
    from kling_prep.preparation import PrepareOptions, prepare

__all__ = ["CheckRequest", "PrepareOptions", "__version__", "check", "prepare"]


def __getattr__(name: str) -> Any:
    if name == "check":
        from kling_prep.preflight import check

        return check
    if name == "CheckRequest":
        from kling_prep.preflight import CheckRequest

        return CheckRequest
    if name == "prepare":
        from kling_prep.preparation import prepare

        return prepare
    if name == "PrepareOptions":
        from kling_prep.preparation import PrepareOptions

        return PrepareOptions
    raise AttributeError(f"module 'kling_prep' has no attribute {name!r}")
