"""Every kling-prep command shown in the README and docs/ parses with the real CLI: the options
exist on the command they are given to (placeholders like URL or "..." are not run)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from kling_prep.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands(path: Path) -> list[str]:
    """The command lines of the file's fenced code blocks that run kling-prep, continuation
    lines joined, comments dropped."""
    blocks: list[list[str]] = []
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                blocks.append([])
        elif inside:
            blocks[-1].append(line)
    out = []
    for block in blocks:
        for line in "\n".join(block).replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip().rstrip("&").strip()
            words = line.split()
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value prefixes
                words = words[1:]
            if words[:1] == ["kling-prep"]:
                out.append(" ".join(words))
    return out


def _arguments(command: str) -> list[str]:
    """The words after `kling-prep`, with the docs' [optional] brackets and a|b choices
    reduced to the first choice, and a "..." standing for more arguments dropped."""
    text = command.replace("[", " ").replace("]", " ")
    args = []
    for word in shlex.split(text)[1:]:
        if word == "..." and not (args and args[-1].startswith("-")):
            continue  # "more arguments here", unless it is an option's placeholder value
        args.append(word.split("|")[0] if word.startswith(("video", "image", "local")) else word)
    return args


CASES = [(path.name, command) for path in DOCS for command in _commands(path)]


def test_the_docs_show_commands():
    assert len(CASES) >= 8


@pytest.mark.parametrize(("doc", "command"), CASES, ids=[f"{d}:{c[:40]}" for d, c in CASES])
def test_a_documented_command_parses(doc, command):
    args = _arguments(command)
    names = [i for i, word in enumerate(args) if word in main.commands]  # type: ignore[attr-defined]
    assert names, f"{doc}: no kling-prep command in: {command}"
    first = names[0]
    sub = main.commands[args[first]]  # type: ignore[attr-defined]
    for cmd, name, words in (
        (main, "kling-prep", args[: first + 1]),  # the group's options, up to the command
        (sub, args[first], args[first + 1 :]),
    ):
        try:
            cmd.make_context(name, list(words))
        except (click.BadParameter, click.MissingParameter):
            continue  # a placeholder value (a file that is not here): the option itself exists
        except click.UsageError as exc:  # an unknown option, a stray argument
            pytest.fail(f"{doc}: {command}: {exc.format_message()}")
