"""tflite-build's tests: ``unit/`` (pure: no TensorFlow, no doit run, no server), ``integration/``
(real doit runs, TensorFlow, servers), and ``support/``, the helpers both import."""
