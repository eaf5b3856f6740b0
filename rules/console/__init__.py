"""What a run prints: doit's reporter with our closing line, and the live progress display.

``reporter`` is the ConsoleReporter doit uses (and where a run's lifecycle hooks
are called, in doit's main process); ``display`` shows variants done and what
runs now (plain lines, or ``live``'s display on a terminal, drawn by rich).

May import: ``rules.build`` and below, doit's reporter. Nothing here writes a build output.
"""
