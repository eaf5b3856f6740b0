"""rules/project."""
