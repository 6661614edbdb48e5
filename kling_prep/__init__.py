"""kling_prep: pre-flight checks, trimming and a safe client for the Kling Motion Control API.

The Python API for production code is `kling_prep.check(...)`; it returns the same result object
the CLI renders, never prints and never exits. Heavy libraries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kling_prep.preflight import check

__all__ = ["__version__", "check"]


def __getattr__(name: str) -> Any:
    if name == "check":
        from kling_prep.preflight import check

        return check
    raise AttributeError(f"module 'kling_prep' has no attribute {name!r}")
