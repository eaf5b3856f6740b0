"""converter/quantization."""
