"""rules/build."""
