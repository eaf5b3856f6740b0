"""Where a stale conversion runs: this process's engine, or a Dask cluster; chosen here alone.

doit decides what is stale; this room only runs what it is handed. ``convert``
picks the place from the ``executor`` setting: ``local`` (the default) converts
in this process's engine (``local``); ``dask://HOST:PORT`` ships the job to a
cluster (``dask``, its inputs through the shared cache, ``bundle``) and falls
back to local building, with one warning, when the scheduler cannot be reached.

May import: ``rules.build`` and the rooms below it, ``converter``'s face and
``converter.errors``; Dask only inside ``dask``, when a cluster is named.
"""
