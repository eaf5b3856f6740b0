"""converter/tflite."""
