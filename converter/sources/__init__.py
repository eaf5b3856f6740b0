"""Model sources: one loader per input format, calibration data, and what user code reads.

``loader`` is the interface (a loaded model hands out TF's converter, its input
specs and a reference run); ``savedmodel``, ``kerasmodel``, ``function``,
``graph`` and ``entrypoint`` implement it per format, and ``dispatch`` picks one.
``precheck`` checks a source on disk before TensorFlow starts; ``customobjects``
imports a Keras file's own classes before it loads and explains Keras's refusals;
``representative`` loads calibration samples; ``discovery`` records the files user code imports or
opens while it runs (a depfile).

May import: ``converter.tflite`` and the face. TensorFlow and Keras only inside
functions: importing any of these never imports them.
"""
