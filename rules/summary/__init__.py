"""rules/summary."""
