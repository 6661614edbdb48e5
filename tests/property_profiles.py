"""Hypothesis settings for the property-based tests (tests/*/test_properties_*.py).

Two profiles: `fast` (the default, what `make test` runs) and `thorough` (what
`make reliability` runs), chosen with HYPOTHESIS_PROFILE=thorough. Each property asks for its
own number of examples in each profile through `examples(fast, thorough)`, because one example
of the window choice takes a millisecond and one of `prepare` a few seconds.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
PROFILES = ("fast", "thorough")

# No deadline: a prepare example takes seconds, and a loaded 2-core machine makes any per-example
# time limit flaky. print_blob: a failure prints the line that replays it exactly.
settings.register_profile("fast", deadline=None, print_blob=True)
settings.register_profile(
    "thorough",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)

ACTIVE = os.environ.get(PROFILE_VARIABLE, "fast")
if ACTIVE not in PROFILES:
    raise RuntimeError(f"{PROFILE_VARIABLE}={ACTIVE!r}: known profiles are {', '.join(PROFILES)}")
settings.load_profile(ACTIVE)


def examples(fast: int, thorough: int) -> int:
    """The number of examples a property runs under the active profile."""
    return thorough if ACTIVE == "thorough" else fast
