"""Conversions on a Dask cluster: each one a pure function of its job and its inputs' digests.

doit still decides what is stale, and cache hits stay local. A conversion still
to do is packed (its inputs put in the shared cache's CAS, ``rules.execute.bundle``)
and submitted to the scheduler under a key made of its declared key, so the
same conversion asked twice runs once. The worker checks that it runs the
client's versions, lays the inputs out from the cache into its own folder,
converts in its own warm TensorFlow worker and stores the artifact and its
record in the shared cache; the build then restores it like any cache hit.
Nothing but the cache is shared, so a remote cache is required.

Faults: a worker lost mid-conversion has its task run again elsewhere (Dask's
own rescheduling); a scheduler that cannot be reached costs one warning and
the build converts locally; a conversion that fails on the cluster fails its
task with the sentence and the log a local failure has.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from converter import errors, versions
from converter.errors import ConverterError
from rules.build import variants
from rules.build.context import Build
from rules.build.jobs import ConvertJob
from rules.cache.artifacts import ArtifactCache
from rules.cache.settings import CacheSettings
from rules.execute import bundle
from rules.execute.local import convert_here
from rules.project.state import BuildState

CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler before building locally
POLL = 0.5  # seconds between looks at where a queued task is


class ClusterError(ConverterError):
    """The cluster could not convert a variant (its sentence says why)."""


class Cluster:
    """One build process's connection to a Dask scheduler (made on first use)."""

    def __init__(self, address: str) -> None:
        self.url = address
        self.address = address.removeprefix("dask://")
        self.client: Any = None
        self.failed = False
        self.submitted = 0

    def available(self, settings: CacheSettings) -> bool:
        """Whether conversions go to the cluster; a scheduler that cannot be reached warns once."""
        if self.failed:
            return False
        if settings.remote is None:
            raise ClusterError(
                f"the executor {self.url} needs a remote cache (cache = an http(s)://, "
                "grpc:// or s3:// URL): the cluster's workers meet the build only there"
            )
        if self.client is None:
            try:
                from distributed import Client
            except ImportError:
                raise ClusterError(
                    f"the executor {self.url} needs Dask: pip install 'tflite-build[cluster]'"
                ) from None
            try:
                self.client = Client(  # type: ignore[no-untyped-call]
                    self.address, timeout=CONNECT_TIMEOUT, set_as_default=False
                )
            except (OSError, TimeoutError) as e:
                self.failed = True
                errors.warn(f"the cluster {self.url} cannot be reached ({e}); converting locally")
                return False
        return True

    def convert(self, job: ConvertJob, build: Build, declared: str) -> dict[str, Any]:
        """Convert ``job`` on the cluster and restore its artifact from the cache; ClusterError."""
        cache = build.cache()
        seen = cache.fetch_discovered(declared) if job.discovers else []
        shipped = bundle.bundle_of(job, build.state, seen[0] if seen else ())
        started = time.perf_counter()
        sent = bundle.pack(shipped, job.root, cache)
        future = self.client.submit(
            run,
            job,
            shipped,
            build.cache_settings,
            build.project,
            versions.environment(),
            declared,
            key=f"tflite-build-convert-{declared}",
            pure=False,
        )
        self.submitted += 1
        print(f"    {job.name}: queued on {self.url}", file=sys.stderr)
        status, detail, log = self._await(job, future)
        if status != "ok":
            raise ClusterError(detail, log=log)
        origin = variants.restore(job, cache, build.state, declared)
        if origin is None:
            raise ClusterError(
                f"the cluster converted it but the shared cache {cache.settings.describe()} "
                "does not have it: do the build and the workers use the same cache?"
            )
        seconds = time.perf_counter() - started
        converting = _conversion_seconds(job)
        print(
            f"    {job.name}: converted on the cluster by {detail} in {seconds:.2f} s "
            f"({converting:.2f} s converting, {sent:,} bytes of inputs sent)",
            file=sys.stderr,
        )
        return {"key": declared, "origin": "cluster", "worker": detail, "sent": sent}

    def _await(self, job: ConvertJob, future: Any) -> tuple[str, str, str]:
        """The task's answer; says once when a worker starts on it (it was queued until then)."""
        announced = False
        pause = 0.02  # short at first: the scheduler hands a task to a worker in milliseconds
        while True:
            try:
                result: tuple[str, str, str] = future.result(timeout=pause)
                return result
            except TimeoutError:
                pass
            except Exception as e:  # KilledWorker after too many lost workers, and the like
                raise ClusterError(
                    f"the cluster {self.url} could not run it: {type(e).__name__}: {e}"
                ) from None
            pause = min(POLL, pause * 2)
            if not announced:
                busy = [w for w, keys in self.client.processing().items() if future.key in keys]
                if busy:
                    print(f"    {job.name}: running on {busy[0]}", file=sys.stderr)
                    announced = True

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def _conversion_seconds(job: ConvertJob) -> float:
    """The worker's own conversion time, from the record the artifact was restored with."""
    try:
        seconds = json.loads(job.sidecar.read_text()).get("seconds", 0.0)
    except (OSError, ValueError):
        return 0.0
    return float(seconds) if isinstance(seconds, (int, float)) else 0.0


def _toolchain_mismatch(job: ConvertJob, project: Any) -> str | None:
    """How this worker's toolchain for ``job`` differs from the build's (None: it does not).

    The build's is in the job's key; this worker's comes from the same settings,
    from the pins or from the environment it has made (made now if need be).
    """
    from converter.spec import toolchain_of
    from rules.project import toolchains

    kind = toolchain_of(job.source)
    if kind == "tensorflow":
        return None
    try:
        mine = toolchains.identity(project.settings, project.root, kind)
    except ConverterError as e:
        return f"{kind} toolchain cannot be made: {e}"
    differ = [
        f"{name} {version} (the build: {job.fingerprint.get(name)})"
        for name, version in mine.items()
        if job.fingerprint.get(name) != version
    ]
    return f"{kind} toolchain has {', '.join(differ)}" if differ else None


def run(
    job: ConvertJob,
    shipped: bundle.Bundle,
    settings: CacheSettings,
    project: Any,
    wanted: dict[str, str],
    declared: str,
) -> tuple[str, str, str]:
    """On a worker: ("ok", the worker's address, "") or ("failed", the sentence, the log)."""
    from distributed import get_worker

    worker = get_worker()
    mine = versions.environment()
    if mine != wanted:
        differ = [
            f"{name} {mine[name]} (the build: {wanted.get(name)})"
            for name in mine
            if mine[name] != wanted.get(name)
        ]
        return "failed", f"the cluster worker {worker.address} runs {', '.join(differ)}", ""
    toolchain = _toolchain_mismatch(job, project)
    if toolchain is not None:
        return "failed", f"the cluster worker {worker.address}'s {toolchain}", ""
    base = Path(worker.local_directory) / "tflite-build"
    here = dataclasses.replace(settings, local=base / "cache")
    root = base / "jobs" / declared[:16]
    shutil.rmtree(root, ignore_errors=True)
    try:
        bundle.unpack(shipped, ArtifactCache(here), base / "store", root / "project")
        moved: ConvertJob = bundle.moved(job, job.root, root / "project")
        moved = dataclasses.replace(moved, build_dir=root / "out")
        own = dataclasses.replace(
            project, settings=dataclasses.replace(project.settings, daemon="off")
        )
        convert_here(moved, Build(own, here, BuildState(root / "state")), declared)
    except ConverterError as e:
        return "failed", str(e), e.log
    except bundle.BundleError as e:
        return "failed", f"the cluster worker {worker.address} could not fetch its inputs: {e}", ""
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return "ok", worker.address, ""
