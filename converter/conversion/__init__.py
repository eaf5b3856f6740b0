"""One conversion's options: checked and mapped without TensorFlow, applied to TF's converter, checked after.

``options`` maps our options to TFLiteConverter attributes (a pure function, no
TensorFlow), ``configure`` applies such a plan to the converter a loader hands
out (and sets its calibration data), ``checks`` inspects the converted bytes for
what TF lets through that a build must not ship.

May import: ``converter.sources``, ``converter.tflite`` and the face below them
(spec, entry, errors, digest, files, versions). TensorFlow only inside functions.
"""
