"""Media: ffmpeg discovery, probe, frame sampling, trim, normalize, safe fetch."""
