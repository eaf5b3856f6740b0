"""Where a stale conversion runs, chosen in one place: this process's engine or a Dask cluster."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rules.build.context import Build
from rules.build.jobs import ConvertJob
from rules.execute.local import convert_here

if TYPE_CHECKING:
    from rules.execute.dask import Cluster

# One connection per process and scheduler, like the engine: a forked doit worker opens its own.
_clusters: dict[tuple[int, str], Cluster] = {}


def convert(job: ConvertJob, build: Build, declared: str) -> dict[str, Any]:
    """Convert ``job`` where the settings say; raises ConverterError (ClusterError on the cluster)."""
    cluster = cluster_for(build.project.settings.executor)
    shadow = job.toolchain is not None  # a shadow build converts here, in its own toolchain
    if cluster is not None and not shadow and cluster.available(build.cache_settings):
        return cluster.convert(job, build, declared)
    return convert_here(job, build, declared)


def cluster_for(executor: str) -> Cluster | None:
    """This process's connection to the Dask cluster ``executor`` names (None: convert locally)."""
    if not executor.startswith("dask://"):
        return None
    found = _clusters.get((os.getpid(), executor))
    if found is None:
        from rules.execute.dask import Cluster  # here: a local build never imports Dask's client

        found = _clusters[(os.getpid(), executor)] = Cluster(executor)
    return found
