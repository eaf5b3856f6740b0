"""The Python API: ``convert(source, options, output)`` -> Result, through a persistent worker.

Everything that can be checked without TensorFlow (paths, formats, option
combinations) is checked here, in the caller's process, before a worker starts.
The artifact appears at ``output`` only when the conversion and every check
succeeded: the worker writes a temporary file that is renamed into place.

Requests run in this process's own workers, or in the user's warm conversion
service (``daemon``, see ``converter.service.server``); when the service cannot be
reached, or dies mid-build, the engine warns once and converts locally.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from converter import errors, files
from converter.conversion import options as options_module
from converter.digest import path_digest
from converter.errors import ConverterError, OptionsError
from converter.execution.executor import Executor, ExecutorUnavailable
from converter.execution.worker import DEFAULT_TIMEOUT, Worker
from converter.protocol import (
    AnyOutcome,
    AnyRequest,
    LayersOutcome,
    LayersRequest,
    Outcome,
    Request,
    RunOutcome,
    RunRequest,
)
from converter.sources import precheck as sources
from converter.spec import (
    KerasSource,
    Options,
    Source,
    source_file,
    source_to_dict,
    toolchain_of,
)
from converter.versions import PROJECT, tensorflow_version, version

if TYPE_CHECKING:
    import numpy as np

    from converter.service.client import ServiceConfig
    from converter.toolchains.environments import Toolchain


@dataclass(frozen=True)
class Result:
    """A finished conversion."""

    path: Path
    size: int
    sha256: str
    seconds: float
    warnings: tuple[str, ...]
    log: str
    provenance: dict[str, Any] | None
    # Project files the source's Python code read (path relative to ``track`` -> sha256).
    discovered: dict[str, str]
    # keep_float: the layers kept in float, and the search's account (auto)
    kept_float: tuple[str, ...] = ()
    search: dict[str, Any] | None = None


def make_provenance(source: Source, options: Options, extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON stamped into an artifact: no absolute paths, no clock, the same on every machine.

    ``extra`` is merged last, so a caller that knows better (relative paths) can say so;
    a caller that has the source's digest already (``source_digest``) spares a second
    read of the source (a SavedModel can be large).
    """
    provenance: dict[str, Any] = {
        "tool": PROJECT,
        "tool_version": version(PROJECT),
        "tensorflow": tensorflow_version(),
        "source": _names_only(source_to_dict(source)),
        "options": _names_only(options.to_dict()),
    }
    if "source_digest" not in extra:
        origin = source_file(source)
        exists = origin is not None and origin.exists()
        provenance["source_digest"] = path_digest(origin) if origin is not None and exists else None
    provenance.update(extra)
    return provenance


def _names_only(value: Any) -> Any:
    """``value`` with absolute paths cut to their last part: where a file lay is machine-specific."""
    if isinstance(value, dict):
        return {k: _names_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_names_only(v) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        return Path(value).name
    return value


class Engine:
    """Converts through persistent workers (one for Keras 3, one for legacy tf_keras if needed).

    With ``daemon`` (True, or a ``ServiceConfig``), requests go to the warm
    service instead, which starts on first use; if it cannot be reached, ``warn``
    is called once and this engine's own workers take over. Use one engine per
    process and close it (or use it as a context manager).
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        memory_limit_mb: float | None = None,
        daemon: bool | ServiceConfig = False,
        warn: Callable[[str], None] = errors.warn,
        toolchains: Mapping[str, Toolchain] | None = None,
        toolchains_dir: Path | None = None,
    ) -> None:
        """``memory_limit_mb`` defaults to 80% of physical memory.

        ``toolchains``: the environments other kinds of source convert in, by kind
        (default ``converter.toolchains.defaults``), made in ``toolchains_dir``
        (default: the user's cache directory) on first use.
        """
        self.timeout = timeout
        self.memory_limit_mb = memory_limit_mb
        self.warn = warn
        self.toolchains = dict(toolchains) if toolchains is not None else None
        self.toolchains_dir = toolchains_dir
        self._workers: dict[bool | tuple[str, str], Worker] = {}
        self._interpreters: dict[str, str] = {}  # a toolchain's name -> its made interpreter
        self._remote: Executor | None = None
        self._remote_failed = False
        if daemon:
            from converter.service.client import ServiceClient, ServiceConfig

            config = daemon if isinstance(daemon, ServiceConfig) else ServiceConfig()
            self._remote = ServiceClient(config, timeout=timeout, memory_limit_mb=memory_limit_mb)
        self._logs = Path(tempfile.mkdtemp(prefix="tflite-build-logs-"))
        self.layer_runs = 0  # of the requests served, per-layer measurements (run_layers)

    def _executors(self) -> list[Executor]:
        remote = [self._remote] if self._remote is not None else []
        return [*self._workers.values(), *remote]

    @property
    def processes_started(self) -> int:
        """Processes this engine started: workers, or the service (a cache hit starts none)."""
        return sum(e.processes_started for e in self._executors())

    @property
    def requests_served(self) -> int:
        """Requests answered, wherever they ran."""
        return sum(e.requests_served for e in self._executors())

    @property
    def conversions_served(self) -> int:
        """Of those, conversions (the rest are reference runs)."""
        return sum(e.conversions_served for e in self._executors())

    @property
    def remote(self) -> Executor | None:
        """Where requests go while it answers (the warm service); None: only local workers."""
        return None if self._remote_failed else self._remote

    def run(self, request: AnyRequest, log_path: Path) -> AnyOutcome:
        """Run one request where it belongs; raises ConverterError."""
        toolchain = toolchain_of(request.source)
        if toolchain != "tensorflow":
            return self._run_in_toolchain(toolchain, request, log_path)
        remote = self.remote
        if remote is not None:
            try:
                return remote.convert(request, log_path)
            except ExecutorUnavailable as e:
                self._remote_failed = True
                remote.close()
                self.warn(f"{e}; converting in this process instead")
        legacy = isinstance(request.source, KerasSource) and request.source.legacy
        return self.worker(legacy).convert(request, log_path)

    def _run_in_toolchain(self, kind: str, request: AnyRequest, log_path: Path) -> AnyOutcome:
        """In the warm service's pool of the toolchain while it answers, else in this process's
        own worker of it; the environment is made here first, either way."""
        worker = self.toolchain_worker(kind)
        remote = self.remote
        if remote is not None:
            from converter.service.client import ServiceClient

            assert isinstance(remote, ServiceClient)
            try:
                return remote.convert(request, log_path, toolchain=(kind, worker.python))
            except ExecutorUnavailable as e:
                self._remote_failed = True
                remote.close()
                self.warn(f"{e}; converting in this process instead")
        return worker.convert(request, log_path)

    def use_toolchains(
        self, toolchains: Mapping[str, Toolchain] | None, where: Path | None
    ) -> None:
        """Convert other kinds of source with these toolchains, made in ``where``, from now on."""
        self.toolchains = dict(toolchains) if toolchains is not None else None
        self.toolchains_dir = where

    def toolchain_worker(self, kind: str) -> Worker:
        """This process's worker of a toolchain, its environment made first if need be."""
        from converter.toolchains import defaults

        chosen = self.toolchains if self.toolchains is not None else defaults.DEFAULTS
        toolchain = chosen.get(kind)
        if toolchain is None:
            raise errors.OptionsError(f"no {kind} toolchain is configured")
        return self.worker_of(toolchain)

    def worker_of(self, toolchain: Toolchain) -> Worker:
        """This process's worker in ``toolchain``'s environment, made first if need be."""
        from converter.toolchains import environments

        kind = toolchain.kind
        # One worker per interpreter: a process that builds two projects may use two, and a
        # toolchain given as the interpreter of another (a shadow of itself) shares its worker.
        name = f"{kind}:{toolchain.digest}:{toolchain.python}:{self.toolchains_dir}"
        python = self._interpreters.get(name)
        if python is None:
            made = environments.ensure(toolchain, self.toolchains_dir)  # says so on stderr
            python = self._interpreters[name] = str(made.python)
        if (kind, python) not in self._workers:
            self._workers[kind, python] = Worker(
                timeout=self.timeout,
                memory_limit_mb=self.memory_limit_mb,
                python=python,
                toolchain=kind,
            )
        return self._workers[kind, python]

    def worker(self, legacy_keras: bool = False) -> Worker:
        """This process's own worker of a kind (made on first use)."""
        if legacy_keras not in self._workers:
            self._workers[legacy_keras] = Worker(
                legacy_keras=legacy_keras,
                timeout=self.timeout,
                memory_limit_mb=self.memory_limit_mb,
            )
        return self._workers[legacy_keras]

    def convert(
        self,
        source: Source,
        options: Options | None = None,
        output: Path | str = "model.tflite",
        *,
        provenance: bool | dict[str, Any] = False,
        track: Path | None = None,
        track_ignore: tuple[Path, ...] = (),
        toolchain: Toolchain | None = None,
    ) -> Result:
        """Convert ``source`` to ``output``. Raises a ConverterError subclass on any failure.

        ``toolchain``: convert in that environment instead of the one the source's kind
        gets (another TensorFlow, say: a shadow build), made first if need be.
        ``provenance`` stamps a metadata entry (a dict adds caller fields, e.g. a cache key).
        ``track`` (a project root) records the files under it that Python code
        reads while it runs (an entry point, a Keras source's imports and custom
        objects, a calibration generator): they come
        back in ``Result.discovered``, and in the provenance as ``discovered``.
        On failure nothing is left at ``output``, not even an earlier artifact.
        """
        output = Path(output)
        try:
            return self._convert(
                source, options or Options(), output, provenance, track, track_ignore, toolchain
            )
        except ConverterError:
            # Like make's .DELETE_ON_ERROR: an earlier artifact no longer matches its inputs.
            output.unlink(missing_ok=True)
            raise

    def _convert(
        self,
        source: Source,
        options: Options,
        output: Path,
        provenance: bool | dict[str, Any],
        track: Path | None,
        track_ignore: tuple[Path, ...],
        toolchain: Toolchain | None = None,
    ) -> Result:
        sources.precheck(source)
        planned = None
        if source.api is not None:  # checked and planned here, once: the worker applies it
            planned = options_module.plan(options, source.api)
        else:  # what can be checked before the entry point says which converter it is
            problems = options_module.check(options, None, toolchain_of(source))
            if problems:
                raise OptionsError(options_module.format_problems(problems))
        rep = options.representative
        for part in rep.parts() if rep is not None else ():
            if part.data is not None and not part.data.is_file():
                raise OptionsError(f"representative data {part.data}: no such file")
        stamp = None
        if provenance:
            extra = provenance if isinstance(provenance, dict) else {}
            stamp = make_provenance(source, options, extra)
        output.parent.mkdir(parents=True, exist_ok=True)
        files.sweep(output.parent)
        temporary = files.temporary_for(output)
        log_path = self._logs / f"{uuid.uuid4().hex}.log"
        try:
            request = Request(
                source, options, temporary.resolve(), stamp, track, track_ignore, planned
            )
            if toolchain is not None:
                outcome = self.worker_of(toolchain).convert(request, log_path)
            else:
                outcome = self.run(request, log_path)
            assert isinstance(outcome, Outcome)
            os.replace(temporary, output)
        except BaseException:  # Ctrl-C included: never leave a half-written file
            temporary.unlink(missing_ok=True)
            raise
        finally:
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            log_path.unlink(missing_ok=True)
        if stamp is not None:
            stamp = dict(stamp)
            if options.keep_float is not None:
                stamp["kept_float"] = list(outcome.kept_float)
            if track is not None:
                stamp["discovered"] = dict(outcome.discovered)
        return Result(
            path=output,
            size=outcome.size,
            sha256=outcome.sha256,
            seconds=outcome.seconds,
            warnings=outcome.warnings,
            log=log,
            provenance=stamp,
            discovered=dict(outcome.discovered),
            kept_float=outcome.kept_float,
            search=dict(outcome.search) if outcome.search is not None else None,
        )

    def run_reference(
        self, source: Source, inputs: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], RunOutcome]:
        """The source model's outputs on ``inputs`` (arrays keyed by input name), run in TF.

        Outputs come back keyed by the model's output names, in its order; the
        outcome says how inputs were matched (by name, or by position).
        """
        import numpy as np

        sources.precheck(source)
        with tempfile.TemporaryDirectory(prefix="tflite-build-reference-") as scratch:
            given, produced = Path(scratch) / "inputs.npz", Path(scratch) / "outputs.npz"
            np.savez(given, **inputs)  # type: ignore[arg-type]
            log_path = self._logs / f"{uuid.uuid4().hex}.log"
            try:
                outcome = self.run(RunRequest(source, given, produced), log_path)
            finally:
                log_path.unlink(missing_ok=True)
            assert isinstance(outcome, RunOutcome)
            with np.load(produced, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}, outcome

    def run_layers(
        self, source: Source, options: Options, inputs: dict[str, np.ndarray] | None
    ) -> LayersOutcome:
        """Each quantized op's error in ``source`` quantized as ``options`` say (int8), worst first.

        Measured on ``inputs`` (arrays keyed by input name), else on the
        calibration samples; see ``converter.quantization.keepfloat.measure_layers``.
        """
        import numpy as np

        sources.precheck(source)
        with tempfile.TemporaryDirectory(prefix="tflite-build-layers-") as scratch:
            given = None
            if inputs is not None:
                given = Path(scratch) / "inputs.npz"
                np.savez(given, **inputs)  # type: ignore[arg-type]
            log_path = self._logs / f"{uuid.uuid4().hex}.log"
            try:
                request = LayersRequest(source, options, given, Path(scratch) / "unused")
                outcome = self.run(request, log_path)
                self.layer_runs += 1
            finally:
                log_path.unlink(missing_ok=True)
        assert isinstance(outcome, LayersOutcome)
        return outcome

    def close(self) -> None:
        """Stop this engine's workers and leave the service (it serves the next build)."""
        for executor in self._executors():
            executor.close()
        self._workers.clear()
        self._interpreters.clear()
        shutil.rmtree(self._logs, ignore_errors=True)

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_default: Engine | None = None


def default_engine(
    timeout: float = DEFAULT_TIMEOUT,
    memory_limit_mb: float | None = None,
    daemon: bool | ServiceConfig = False,
    warn: Callable[[str], None] = errors.warn,
    toolchains: Mapping[str, Toolchain] | None = None,
    toolchains_dir: Path | None = None,
) -> Engine:
    """The process-wide engine, made on first use with these limits, executor and warning;
    the toolchains are the latest caller's (a process may build two projects)."""
    global _default
    if _default is None:
        _default = Engine(
            timeout=timeout, memory_limit_mb=memory_limit_mb, daemon=daemon, warn=warn
        )
        atexit.register(_default.close)
    _default.use_toolchains(toolchains, toolchains_dir)
    return _default


def convert(
    source: Source,
    options: Options | None = None,
    output: Path | str = "model.tflite",
    *,
    provenance: bool | dict[str, Any] = False,
) -> Result:
    """Convert with the process-wide default engine (see ``Engine.convert``)."""
    return default_engine().convert(source, options, output, provenance=provenance)
