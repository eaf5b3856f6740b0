"""converter/service."""
