"""`python -m kling_prep` runs the CLI."""

from kling_prep.cli import main

main()
