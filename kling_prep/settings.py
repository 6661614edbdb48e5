"""The one settings object: defaults, then kling-prep.toml, then KLING_PREP_* variables, then
command-line options. Built in the CLI and passed down; no module keeps a global copy.

Every environment variable the package reads is read here, in `load_settings`, and nowhere
else: KLING_PREP_CONFIG, KLING_PREP_PROFILE, KLING_PREP_BASE_URL, VYDRA_API_KEY,
KLING_PREP_FETCH_ALLOW, KLING_PREP_JOURNAL and KLING_PREP_FFMPEG. The command line's options
are applied once per command, by `Settings.with_overrides`."""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kling_prep.checks.thresholds import Thresholds
from kling_prep.errors import ConfigError
from kling_prep.limits import DEFAULT_BASE_URL, DEFAULT_PROFILE, PROFILES, ApiProfile, get_profile
from kling_prep.media.urlsafety import AddressPolicy, parse_networks

CONFIG_NAME = "kling-prep.toml"
# The submission journal when neither --journal nor KLING_PREP_JOURNAL names one (`~` is
# expanded where the journal is opened).
DEFAULT_JOURNAL_PATH = Path("~/.kling-prep/journal.sqlite")
# Every key the file may hold, by table ("" is the top level); a misspelled key is an error,
# not a setting silently left at its default.
_KNOWN_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({"profile", "allow_no_face", "fetch_allow", "limits", "thresholds", "api"}),
    "api": frozenset({"base_url", "api_key", "timeout_s", "poll_interval_s", "wait_deadline_s"}),
    # A profile's name, provenance and wire contract describe it; they are not limits to set.
    "limits": frozenset(f.name for f in fields(ApiProfile))
    - {
        "name",
        "description",
        "source",
        "read_on",
        "assumed_fields",
        "assumed_notes",
        "wire_contract",
    },
    "thresholds": frozenset(f.name for f in fields(Thresholds)),
}


def _unknown_keys(path: Path | None, table: str, keys: set[str], known: set[str]) -> None:
    """Raise ConfigError naming each key not in `known`, with the nearest known key.

    Raises:
        ConfigError: a key that is not known.
    """
    wrong = sorted(keys - known)
    if not wrong:
        return
    where = f"[{table}]" if table else "the top level"
    hints = []
    for key in wrong:
        near = difflib.get_close_matches(key, sorted(known), n=1)
        hints.append(f"{key!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    raise ConfigError(
        f"{path}: unknown key(s) at {where}: {', '.join(hints)}; known: {', '.join(sorted(known))}"
    )


@dataclass(frozen=True)
class Settings:
    profile: ApiProfile = field(default_factory=lambda: PROFILES[DEFAULT_PROFILE])
    thresholds: Thresholds = field(default_factory=Thresholds)
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    fetch_timeout_s: float = 120.0
    # The API client: the read/write timeout of one request, the mean time between polls of a
    # job, and how long `--wait` / `wait` follow a job before giving up (the job goes on).
    request_timeout_s: float = 30.0
    poll_interval_s: float = 10.0
    wait_deadline_s: float = 15 * 60.0
    allow_no_face: bool = False
    # Networks an input URL may reach besides public addresses ("127.0.0.0/8" for a sandbox
    # or a test server on this machine, "10.0.0.0/8" for a LAN). Empty: public only, in every
    # command, so that `check` and `gate` give one URL the same answer.
    fetch_allow: tuple[str, ...] = ()
    # The SQLite journal of submissions (KLING_PREP_JOURNAL, or --journal).
    journal_path: Path = DEFAULT_JOURNAL_PATH
    # The ffmpeg binary prepare encodes with (KLING_PREP_FFMPEG); None: `ffmpeg` on PATH, else
    # the one in the imageio-ffmpeg wheel (see media/ffmpeg.py).
    ffmpeg: str | None = None

    def with_overrides(
        self,
        *,
        allow_no_face: bool | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        journal_path: Path | None = None,
    ) -> Settings:
        """These settings with the command line's options applied: the one place they are.

        Each option left out (None; an empty --base-url or --api-key too) keeps the setting
        from the file and the environment; `allow_no_face` given replaces it either way.
        """
        changes: dict[str, Any] = {}
        if allow_no_face is not None:
            changes["allow_no_face"] = allow_no_face
        if base_url:
            changes["base_url"] = base_url
        if api_key:
            changes["api_key"] = api_key
        if journal_path is not None:
            changes["journal_path"] = journal_path
        return replace(self, **changes) if changes else self

    def fetch_policy(self) -> AddressPolicy:
        """The addresses input downloads may connect to.

        Raises:
            ConfigError: an entry of `fetch_allow` that is not a network.
        """
        return AddressPolicy(parse_networks(self.fetch_allow, source="fetch_allow"))

    def __repr__(self) -> str:  # the key never reaches a log line
        return f"Settings(profile={self.profile.name!r}, base_url={self.base_url!r})"


def load_settings(
    config_path: Path | None = None,
    env: dict[str, str] | None = None,
    profile_name: str | None = None,
) -> Settings:
    """Settings from defaults, the config file (given, or ./kling-prep.toml if present) and env.

    The profile: `profile_name` (the CLI's --profile), else KLING_PREP_PROFILE, else the file's
    `profile = ...`, else vydra.

    Raises:
        ConfigError: an unreadable file, an unknown profile, key or threshold.
    """
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    path = config_path or (Path(env["KLING_PREP_CONFIG"]) if env.get("KLING_PREP_CONFIG") else None)
    if path is None and Path(CONFIG_NAME).is_file():
        path = Path(CONFIG_NAME)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    _unknown_keys(path, "", set(data), set(_KNOWN_KEYS[""]))
    for table in ("api", "limits", "thresholds"):
        if not isinstance(data.get(table, {}), dict):
            raise ConfigError(f"{path}: [{table}] must be a table of keys")
        _unknown_keys(path, table, set(data.get(table, {})), set(_KNOWN_KEYS[table]))
    name = profile_name or env.get("KLING_PREP_PROFILE") or data.get("profile") or DEFAULT_PROFILE
    profile = get_profile(str(name))
    try:
        profile = profile.with_overrides(data.get("limits", {}))
    except (KeyError, TypeError) as exc:  # names are checked above: a value of the wrong type
        raise ConfigError(f"{path}: [limits] has a bad value: {exc}") from exc
    try:
        thresholds = Thresholds().with_overrides(data.get("thresholds", {}))
    except (KeyError, TypeError, ValueError) as exc:  # names are checked above
        raise ConfigError(f"{path}: [thresholds] has a bad value: {exc}") from exc
    api = data.get("api", {})
    fetch_allow = _fetch_allow(path, data.get("fetch_allow", []), env)
    return Settings(
        profile=profile,
        thresholds=thresholds,
        base_url=env.get("KLING_PREP_BASE_URL")
        or api.get("base_url")
        or profile.base_url
        or DEFAULT_BASE_URL,
        api_key=env.get("VYDRA_API_KEY") or api.get("api_key"),
        **_api_times(path, api),
        allow_no_face=bool(data.get("allow_no_face", False)),
        fetch_allow=fetch_allow,
        journal_path=Path(env.get("KLING_PREP_JOURNAL", str(DEFAULT_JOURNAL_PATH))),
        # An empty KLING_PREP_FFMPEG is as good as unset.
        ffmpeg=env.get("KLING_PREP_FFMPEG") or None,
    )


_API_TIMES = {
    "timeout_s": "request_timeout_s",
    "poll_interval_s": "poll_interval_s",
    "wait_deadline_s": "wait_deadline_s",
}


def _api_times(path: Path | None, api: dict[str, Any]) -> dict[str, float]:
    """The client's times from [api], each a positive number of seconds.

    Raises:
        ConfigError: a value that is not a positive number.
    """
    times: dict[str, float] = {}
    for key, name in _API_TIMES.items():
        if key not in api:
            continue
        value = api[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{path}: [api] {key} = {value!r} must be a positive number of s")
        times[name] = float(value)
    return times


def _fetch_allow(path: Path | None, listed: object, env: dict[str, str]) -> tuple[str, ...]:
    """`fetch_allow` from the file, then KLING_PREP_FETCH_ALLOW (comma-separated) in its place.

    Raises:
        ConfigError: not a list of strings, or an entry that is not a network.
    """
    if "KLING_PREP_FETCH_ALLOW" in env:
        source = "KLING_PREP_FETCH_ALLOW"
        values = [v.strip() for v in env["KLING_PREP_FETCH_ALLOW"].split(",") if v.strip()]
    else:
        source = f"{path}: fetch_allow"
        if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
            raise ConfigError(f'{source} must be a list of networks, e.g. ["127.0.0.0/8"]')
        values = list(listed)
    parse_networks(values, source=source)
    return tuple(values)
