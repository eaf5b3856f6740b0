"""converter/evaluation."""
