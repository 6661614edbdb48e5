"""Checks: measurements turned into Findings and scores against thresholds and the API's limits."""
