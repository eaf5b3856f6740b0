"""What doit runs, one module per task kind: convert, report, summary, and cache upkeep.

Actions are the only writers of build outputs. Each takes the ``rules.build.context.Build``
of its doit process as an argument; none keeps state of its own.
"""
