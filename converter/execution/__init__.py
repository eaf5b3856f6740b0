"""Where a request runs: the executor interface, the persistent TensorFlow worker, one request's steps.

``executor`` is the interface every place implements (this worker, the warm
service's client); ``worker`` is the child process that imports TensorFlow once
and serves many requests; ``convert`` is one conversion request inside it
(load, configure, convert or keep layers in float, check, stamp, write);
``isolation`` puts the process back as it was between requests.

May import: every room below (quantization, conversion, evaluation, sources,
tflite) and the face. Never ``converter.service`` or ``converter.api``.
"""
