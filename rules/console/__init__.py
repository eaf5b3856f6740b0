"""rules/console."""
