"""Batch: a manifest of image/video pairs checked, prepared and submitted once each, resumable,
on local worker processes or on Ray. See docs/BATCH.md.

    from kling_prep.batch import BatchOptions, run_batch
    result = run_batch(Path("manifest.csv"), Path("out"), options=BatchOptions(prepare=True))
"""

from kling_prep.batch.manifest import Manifest, ManifestRow, RowError, read_manifest
from kling_prep.batch.results import read_results
from kling_prep.batch.row import BatchOptions, RowOutcome, RowTask, process_row, row_key
from kling_prep.batch.runner import EXECUTORS, BatchResult, Executor, run_batch

__all__ = [
    "EXECUTORS",
    "BatchOptions",
    "BatchResult",
    "Executor",
    "Manifest",
    "ManifestRow",
    "RowError",
    "RowOutcome",
    "RowTask",
    "process_row",
    "read_manifest",
    "read_results",
    "row_key",
    "run_batch",
]
