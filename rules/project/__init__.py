"""The project: its root, its settings, and its build state.

``root`` finds the project (pyproject's ``[tool.tflite-build]``), its build
folder and its manifests; ``settings`` is every setting, from pyproject.toml and the
environment, validated; ``state`` is the one owner of the SQLite build state
(digests, folder listings, records, parsed manifests).

May import: ``rules.errors``, ``rules.quantities``, ``converter``'s face (digests)
and ``converter.conversion.options`` (the option names settings validate). Never doit.
"""
