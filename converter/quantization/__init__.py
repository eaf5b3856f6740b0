"""Int8 models that work: the quantization doctor, the search for layers to keep in float, and keep_float.

``doctor`` measures each int8 op's error against float (TF's quantization
debugger); ``search`` finds the fewest layers kept in float that meet a budget
(pure); ``keepfloat`` puts both to work for a conversion or a report's per-layer
request.

May import: ``converter.conversion``, ``converter.evaluation``, ``converter.sources``
and the face. TensorFlow only inside functions.
"""
