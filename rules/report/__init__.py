"""One variant's report: its sections, how they are measured and cached, its device gates and budgets.

``sections`` is the report's data (size, latency, accuracy); ``measurements``
measures them (or takes them and the source's reference outputs from the cache);
``reference`` keys and keeps those reference outputs (one per signature);
``device`` is what the variant needs on a device (runtime, GPU) and its gates;
``variant`` assembles the report and checks its budgets; ``uptodate`` the report
tasks' checks.

May import: ``rules.fleet``, ``rules.build`` and below; ``converter.evaluation``
and ``converter.tflite`` (no TensorFlow). Never doit.
"""
