"""Report: terminal, JSON and HTML renderings of a check."""
