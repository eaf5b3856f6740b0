"""model.yaml: its keys, its grammar, the located YAML reader, the JSON Schema and the parse cache.

``fields`` and ``budgets`` state every key and budget once; ``located`` reads YAML
nodes by those rows and locates every problem by file, line and key; ``parse``
(with ``variants``) is model.yaml's grammar, giving the frozen dataclasses of
``types``; ``schema`` publishes the same rows as JSON Schema; ``catalog`` is the
parse cache, which parses a manifest only when it or what it relied on changed.

May import: ``rules.project`` and the rooms below it; of ``converter``, the
spec, entry points, versions, the option checks, and the builtin op names
(``converter.tflite.modelinfo``, only when a budget lists ops); never doit.
"""
