"""Vision: people, pose, face view, lighting, cuts and motion measured on frames (MediaPipe, OpenCV, numpy)."""
