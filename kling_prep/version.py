"""The package version, apart from the package root so any layer may read it."""

__version__ = "0.1.0"
