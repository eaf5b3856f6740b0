"""rules/fleet."""
