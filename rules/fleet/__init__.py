"""The fleet: every op each variant uses, what the whole fleet needs, and a selective runtime's registration.

``inventory`` reads each artifact's ops (memoized by digest in the build state)
and the runtime the fleet needs; ``registration`` writes the C++ source that
registers exactly those ops.

May import: ``converter.tflite`` (lazily: ``doit ops`` on a warm state imports no
flatbuffer schema). Never doit, never TensorFlow.
"""
