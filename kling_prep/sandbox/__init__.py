"""A local emulator of the hosted API, faithful to its documented contract.

In a test: `with SandboxServer(delay_s=0.2) as sandbox: KlingClient(key, base_url=sandbox.url)`.
From a shell: `kling-prep sandbox --port 8765` (or `python -m kling_prep.sandbox`). Where it
differs from the real service is written in docs/SANDBOX.md.

The names below load on first use: `kling-prep` imports the sandbox's command line at start-up,
and the server (httpx, the media probe) must not come with it, so that `kling-prep check` starts
fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kling_prep.sandbox.faults import FaultPlan, FaultRule
    from kling_prep.sandbox.process import SandboxProcess
    from kling_prep.sandbox.server import SandboxServer, SandboxStats, read_keys_file

# Shared by the server's constructor, the child process and the command line's --help.
DEFAULT_CREDITS = 1000
DEFAULT_DELAY_S = 3.0

_MODULE_OF = {
    "FaultPlan": "kling_prep.sandbox.faults",
    "FaultRule": "kling_prep.sandbox.faults",
    "SandboxProcess": "kling_prep.sandbox.process",
    "SandboxServer": "kling_prep.sandbox.server",
    "SandboxStats": "kling_prep.sandbox.server",
    "read_keys_file": "kling_prep.sandbox.server",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first asked for (PEP 562)."""
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)


__all__ = [
    "DEFAULT_CREDITS",
    "DEFAULT_DELAY_S",
    "FaultPlan",
    "FaultRule",
    "SandboxProcess",
    "SandboxServer",
    "SandboxStats",
    "read_keys_file",
]
