"""One identity for rows and submissions: the SHA-256 of what makes two of them the same.

Every hash kling_prep keys work by goes through `identity(parts)`: the caller names what must
tell two things apart, this module turns it into bytes one way. The users, and what each puts
in `parts`:

- a batch row's result key (`batch.row.row_key`, results.jsonl's `key`, the prepared files'
  folder): the inputs' content (a file's SHA-256, a URL as written), the row's prompt,
  orientation and sound, every setting that changes the verdict, the batch options, and the
  API base URL when the row is submitted. The same key means the same result: a re-run skips it.
- a manifest row that cannot run (`row-error:` and `missing:` keys in results.jsonl): the row
  as written, so that a fixed row or an input that appears gets a new key and runs.
- a submission (`client.submission.hash_inputs`, the journal's `inputs_hash`): the files'
  content (or the URLs) and the API's fields. The same hash would make the same video and pay
  twice for it, so the journal refuses it.
- a worker's configuration (`batch.row.WorkerConfig.fingerprint`): held in memory only, so that
  a worker process reuses its context (client, journal, models) for the same configuration.

The bytes hashed: `parts` as JSON with the keys sorted; a value JSON has no form for (a Path, a
datetime, a dataclass) is written as its `str()`. The first three are stored on disk, so their
bytes never change: row keys and submissions keep non-ASCII text as UTF-8, while the keys of
rows that cannot run were written with non-ASCII escaped (`\\u00e9`) and stay so
(`ascii_only=True`), so results files written before still match.
"""

from __future__ import annotations

import hashlib
import json


def identity(parts: object, *, ascii_only: bool = False) -> str:
    """The SHA-256 (hex) of `parts` as canonical JSON (keys sorted, other values as `str()`).

    Args:
        parts: what tells two rows, submissions or configurations apart: a dict, a list, or a
            plain value.
        ascii_only: escape non-ASCII characters, as the keys of rows that cannot run have
            always been written (see the module's docstring); otherwise they are UTF-8.
    """
    encoded = json.dumps(parts, sort_keys=True, ensure_ascii=ascii_only, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()
