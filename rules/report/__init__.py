"""rules/report."""
