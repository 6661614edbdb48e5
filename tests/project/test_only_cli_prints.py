"""Only the command lines print: the library returns results and renderings, the entry points
write them (issue 12; import-linter cannot say this, so this test does)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kling_prep"
# The entry points: the CLI, the sandbox's own command, and the docs generator's __main__.
ENTRY_POINTS = {"cli.py", "sandbox/__main__.py", "report/reference.py"}
WRITERS = {"print", "echo", "secho", "write"}


def _writes(tree: ast.AST) -> list[int]:
    """Lines that call print(), click.echo/secho() or sys.stdout/stderr.write()."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "print":
            lines.append(node.lineno)
        elif isinstance(func, ast.Attribute) and func.attr in WRITERS:
            owner = ast.unparse(func.value)
            if owner in {"click", "sys.stdout", "sys.stderr"}:
                lines.append(node.lineno)
    return lines


def test_no_module_but_the_entry_points_writes_to_the_terminal():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in ENTRY_POINTS:
            continue
        for line in _writes(ast.parse(path.read_text())):
            offenders.append(f"kling_prep/{name}:{line}")
    assert offenders == [], "print or echo outside the command lines: " + ", ".join(offenders)


def test_the_scan_sees_each_way_of_writing():
    source = "import sys, click\nprint(1)\nclick.echo(2)\nsys.stderr.write('3')\nf.write(4)\n"
    assert _writes(ast.parse(source)) == [2, 3, 4]
