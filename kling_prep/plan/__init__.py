"""Plan: the trim window and the orientation suggestion, from check results only."""
