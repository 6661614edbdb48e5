"""A local emulator of the hosted API, faithful to its documented contract.

In a test: `with SandboxServer(delay_s=0.2) as sandbox: KlingClient(key, base_url=sandbox.url)`.
From a shell: `python -m kling_prep.sandbox --port 8765`. Where it differs from the real
service is written in docs/SANDBOX.md.
"""

from kling_prep.sandbox.faults import FaultPlan, FaultRule
from kling_prep.sandbox.process import SandboxProcess
from kling_prep.sandbox.server import SandboxServer, SandboxStats, read_keys_file

__all__ = [
    "FaultPlan",
    "FaultRule",
    "SandboxProcess",
    "SandboxServer",
    "SandboxStats",
    "read_keys_file",
]
