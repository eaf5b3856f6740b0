"""rules/manifest."""
