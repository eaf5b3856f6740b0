"""The project summary: every report in one table, as summary.json, summary.md and summary.html.

``model`` is the data (rows, the comparison with a baseline, ``summary.json``),
``ranking`` an int8 variant's worst ops; ``cells`` gives the text of each cell of
a row, which ``markdown`` (the pull-request comment) and ``html`` (the page, its
charts drawn by ``charts``) both show, so the two cannot disagree. ``shadow`` does the
same for a shadow build's summary (``doit shadow``) and its section of the page.

May import: ``rules.report`` and the rooms below it, and ``converter.tflite.runtimes``
(how a runtime version reads); never doit.
"""
