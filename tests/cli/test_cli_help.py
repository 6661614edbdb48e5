"""Every command and option says what it is for in --help."""

from __future__ import annotations

import click

from kling_prep.cli import main


def test_every_option_of_every_command_has_help_text():
    assert isinstance(main, click.Group)
    missing = []
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and not param.help and not param.hidden:
                missing.append(f"{name} {param.opts[0]}")
    assert missing == []


def test_python_dash_m_of_the_cli_module_runs_the_cli():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "kling_prep.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "Usage:" in done.stdout
