"""Running models on many samples: a .tflite in the interpreter, the source model in TensorFlow, compared.

``evaluate`` runs an artifact (batched, through ai-edge-litert) and compares its
outputs with a reference; ``reference`` runs the source model in the worker to
make that reference.

May import: ``converter.sources`` and the face; TensorFlow only inside the
worker's functions. ``rules`` reads ``evaluate`` without TensorFlow.
"""
