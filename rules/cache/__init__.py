"""rules/cache."""
