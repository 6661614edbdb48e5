"""What report/ reads of a prepare result, as protocols.

`preparation.PrepareResult` sits above report/ in the layers (prepare writes its report.json
through `report.json_report`), so report/ names the fields it renders instead of importing the
class; mypy checks that a PrepareResult has them wherever one is rendered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from kling_prep.media.imagefix import ImageFix
from kling_prep.media.transcode import PathTaken, Step, TranscodeResult
from kling_prep.plan.window import Window
from kling_prep.preflight import CheckResult


class RefusalView(Protocol):
    """Why nothing was prepared (`preparation.Refusal`)."""

    @property
    def message(self) -> str: ...

    @property
    def rule(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


class PreparedView(Protocol):
    """What prepare wrote, what it did to each file and the check of it
    (`preparation.PrepareResult`)."""

    @property
    def input_check(self) -> CheckResult | None: ...

    @property
    def check(self) -> CheckResult | None: ...

    @property
    def image_path(self) -> Path | None: ...

    @property
    def video_path(self) -> Path | None: ...

    @property
    def report_path(self) -> Path | None: ...

    @property
    def image_steps(self) -> list[Step]: ...

    @property
    def video_steps(self) -> list[Step]: ...

    @property
    def window(self) -> Window | None: ...

    @property
    def window_source(self) -> str | None: ...

    @property
    def path_taken(self) -> PathTaken | None: ...

    @property
    def transcode(self) -> TranscodeResult | None: ...

    @property
    def image_fix(self) -> ImageFix | None: ...

    @property
    def refusal(self) -> RefusalView | None: ...

    @property
    def removed_paths(self) -> list[Path]: ...

    @property
    def kept_paths(self) -> list[Path]: ...

    @property
    def verdict(self) -> str: ...

    @property
    def exit_code(self) -> int: ...
