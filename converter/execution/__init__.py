"""converter/execution."""
