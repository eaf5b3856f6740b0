"""Reading a .tflite without TensorFlow: its structure, the GPU delegate's verdict, the runtime it needs.

``modelinfo`` reads and stamps flatbuffers through TF's generated schema;
``gpu`` (with the delegate's rules in ``gpurules``) says which nodes the GPU
delegate takes; ``runtimes`` says which TFLite runtime first runs each op
version.

May import: ``converter.errors``, ai-edge-litert's schema and flatbuffers.
Never TensorFlow or Keras (a contract in pyproject.toml checks it).
"""
