"""rules/execute."""
