"""converter/conversion."""
