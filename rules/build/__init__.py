"""One build: its context, the jobs tasks carry, the key recipe, task names and paths, a variant's freshness.

``context`` is a doit process's build (project, cache settings, state, engine);
``jobs`` the picklable descriptions a task hands its actions; ``keys`` the cache
key recipe (declared inputs, options, versions, discovered files); ``layout``
every task name and every path a variant produces; ``variants`` whether an
artifact is current, restoring it from the cache and recording it; ``uptodate``
the base of doit's up-to-date check objects.

May import: ``rules.cache``, ``rules.manifest``, ``rules.project`` and below;
``converter``'s face, and inside functions ``converter.api`` (``Build.engine``) and
``converter.service.client`` (the warm service's settings). Never doit.
"""
