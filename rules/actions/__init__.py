"""What doit runs, one thin module per task kind: convert, report, summary, ops, daemon, cache upkeep.

An action calls the rooms below it, turns a user-facing failure into
``TaskFailed`` (a sentence, no traceback) and prints its lines; actions are the
only writers of build outputs. Each takes its doit process's
``rules.build.context.Build``; none keeps state of its own.

May import: every room below it and doit; ``converter``'s face and service client.
"""
