"""The README's set-up: `make run` installs only what the check needs, `make test` adds the
development extras, and the Python versions the README names are those pip and make accept."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]


def _dry_run(target: str, venv: Path, python: str = "python3") -> list[str]:
    """The commands `make TARGET` would run for a venv that does not exist yet (nothing runs)."""
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"VENV={venv}", f"PYTHON={python}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.splitlines()


def _installs(commands: list[str]) -> list[str]:
    return [line for line in commands if " -m pip install " in line and "--upgrade pip" not in line]


def test_make_run_installs_the_package_without_the_development_extras(tmp_path):
    installs = _installs(_dry_run("run", tmp_path / "venv"))
    assert installs, "make run installs nothing"
    assert all("[" not in line for line in installs), installs


def test_make_test_adds_the_development_extras(tmp_path):
    installs = _installs(_dry_run("test", tmp_path / "venv"))
    assert any("'.[dev]'" in line for line in installs), installs


def test_requires_python_admits_3_11_and_3_12_only():
    # mediapipe 0.10.21 publishes wheels for CPython 3.9-3.12: nothing newer installs.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    allowed = SpecifierSet(project["requires-python"])
    assert [v for v in ("3.10.13", "3.11.7", "3.12.1", "3.13.0") if v in allowed] == [
        "3.11.7",
        "3.12.1",
    ]


def test_the_makefile_accepts_the_python_running_these_tests(tmp_path):
    assert sys.version_info[:2] in ((3, 11), (3, 12))
    first = _dry_run("run", tmp_path / "venv", python=sys.executable)[0]
    words = shlex.split(first)
    assert words[:2] == [sys.executable, "-c"], first
    check = subprocess.run(words, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("version", [(3, 10), (3, 13)])
def test_the_makefile_refuses_other_pythons_by_name(tmp_path, version):
    first = _dry_run("run", tmp_path / "venv", python=sys.executable)[0]
    code = shlex.split(first)[2]
    # The check, run where `sys` reports another version (`import sys` finds the same module).
    pretend = f"import sys; sys.version_info = {(*version, 0, 'final', 0)}; sys.version = 'x'\n"
    check = subprocess.run([sys.executable, "-c", pretend + code], capture_output=True, text=True)
    assert check.returncode != 0
    assert "needs Python 3.11 or 3.12" in check.stderr
    assert "Traceback" not in check.stderr
