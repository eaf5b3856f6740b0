"""converter/sources."""
