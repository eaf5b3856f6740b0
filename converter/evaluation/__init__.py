"""Running models on many samples: a .tflite in the interpreter, the source model in TensorFlow, compared.

``evaluate`` runs an artifact (batched, through ai-edge-litert; one signature at
a time when it has several) and compares its outputs with a reference;
``samples`` makes the seeded inputs of each input's kind when there is no
evaluate data, and picks one signature's share when there is; ``reference``
runs the source model in the worker to make that reference.

May import: ``converter.sources`` and the face; TensorFlow only inside the
worker's functions. ``rules`` reads ``evaluate`` without TensorFlow.
"""
