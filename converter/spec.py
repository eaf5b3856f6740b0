"""What to convert and how: plain frozen dataclasses, shared by the caller and the worker.

Nothing here imports TensorFlow. The worker receives these objects over a pipe,
so every field is a plain value (str, int, float, bool, tuples, dicts, Paths).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from converter.entry import EntryPoint, Module

QUANTIZE_MODES = ("none", "dynamic", "float16", "int8", "int16x8")
IO_TYPES = ("float32", "int8", "uint8", "int16")
INFERENCE_TYPES = ("float32", "int8", "uint8")

QuantizeMode = Literal["none", "dynamic", "float16", "int8", "int16x8"]
ConverterApi = Literal["v1", "v2"]


@dataclass(frozen=True)
class SavedModelSource:
    """A TF2 SavedModel directory, converted by ``tf.lite.TFLiteConverter.from_saved_model``."""

    path: Path
    signature_keys: tuple[str, ...] = ()  # empty: TF's default (serving_default)
    tags: tuple[str, ...] = ()  # empty: TF's default ({"serve"})

    kind: ClassVar[str] = "saved_model"
    api: ClassVar[ConverterApi | None] = "v2"


@dataclass(frozen=True)
class TF1SavedModelSource:
    """A SavedModel converted through ``tf.compat.v1.lite.TFLiteConverter.from_saved_model``."""

    path: Path
    signature_key: str | None = None
    tags: tuple[str, ...] = ()
    input_arrays: tuple[str, ...] = ()
    output_arrays: tuple[str, ...] = ()
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    kind: ClassVar[str] = "tf1_saved_model"
    api: ClassVar[ConverterApi | None] = "v1"


@dataclass(frozen=True)
class KerasSource:
    """A ``.keras`` or ``.h5`` file; ``legacy`` loads it with tf_keras (``TF_USE_LEGACY_KERAS=1``).

    A model with classes of its own needs them before it loads. ``imports`` are
    Python files (``layers.py``, relative to ``base_dir``) or module names
    (``pkg.layers``, with ``base_dir`` on ``sys.path``), imported first, so the
    classes they register with ``register_keras_serializable`` are known.
    ``custom_objects`` names the classes (or functions) that are not registered:
    ``(("Scale", "layers.py:Scale"), ...)``, the name Keras looks up and where the
    object is, passed to ``load_model(custom_objects=...)``. ``safe_mode=False``
    lets Keras 3 run Python code stored in the file (a ``Lambda`` layer's): only for
    files you trust. ``base_dir`` stays ``.`` when nothing is imported, so a source
    without code of its own describes itself (and keys its artifacts) as before.
    """

    path: Path
    legacy: bool = False
    imports: tuple[str, ...] = ()
    custom_objects: tuple[tuple[str, str], ...] = ()  # (name, entry), sorted by name
    safe_mode: bool = True
    base_dir: Path = Path(".")

    kind: ClassVar[str] = "keras"
    api: ClassVar[ConverterApi | None] = "v2"

    @property
    def runs_code(self) -> bool:
        """Whether loading it runs the project's Python code (its imports, its custom objects)."""
        return bool(self.imports or self.custom_objects)

    @property
    def files(self) -> tuple[Path, ...]:
        """The files the named code comes from (modules resolved to their files), in order."""
        found: list[Path] = []
        for text in self.imports:
            module = Module.parse(text)
            if module is not None:
                found.extend(module.files(self.base_dir))
        for _, entry in self.custom_objects:
            parsed = EntryPoint.parse(entry)
            if parsed is not None:
                found.extend(parsed.files(self.base_dir))
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class FrozenGraphSource:
    """A frozen GraphDef ``.pb``, converted by the TF1 converter."""

    path: Path
    input_arrays: tuple[str, ...]
    output_arrays: tuple[str, ...]
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    kind: ClassVar[str] = "frozen_graph"
    api: ClassVar[ConverterApi | None] = "v1"


@dataclass(frozen=True)
class PythonSource:
    """``file.py:function`` or ``package.module:function``, called in the worker.

    The function returns a Keras model, a ``tf.function`` with an input signature,
    one or more ConcreteFunctions, or a ``(tf.compat.v1.Session, inputs, outputs)``
    triple. ``base_dir`` is where a relative file is looked up and what is put on
    ``sys.path`` during the call. Sessions go through the TF1 converter, the rest
    through TF2.
    """

    entry: str
    base_dir: Path = Path(".")

    kind: ClassVar[str] = "python"
    api: ClassVar[ConverterApi | None] = None  # decided by what the function returns

    @property
    def entry_point(self) -> EntryPoint | None:
        """The entry parsed by ``converter.entry`` (None when it does not follow the syntax)."""
        return EntryPoint.parse(self.entry)

    @property
    def target(self) -> str:
        parsed = self.entry_point
        return parsed.target if parsed is not None else ""

    @property
    def function(self) -> str:
        parsed = self.entry_point
        return parsed.function if parsed is not None else ""

    @property
    def file(self) -> Path | None:
        """The entry's file when it names one (``build.py:make``), else None (a module)."""
        parsed = self.entry_point
        return parsed.file(self.base_dir) if parsed is not None else None

    @property
    def files(self) -> tuple[Path, ...]:
        """The files the entry's own code comes from (a module entry resolved to its files)."""
        parsed = self.entry_point
        return parsed.files(self.base_dir) if parsed is not None else ()


@dataclass(frozen=True)
class _FrameworkEntry:
    """``file.py:make`` or ``module:make``: a model of another framework, made by the project's code.

    ``base_dir`` is where a relative file is looked up. It converts in its
    toolchain's worker (``converter.toolchains``), never in TensorFlow's.
    """

    entry: str
    base_dir: Path = Path(".")

    @property
    def entry_point(self) -> EntryPoint | None:
        return EntryPoint.parse(self.entry)

    @property
    def file(self) -> Path | None:
        parsed = self.entry_point
        return parsed.file(self.base_dir) if parsed is not None else None

    @property
    def files(self) -> tuple[Path, ...]:
        parsed = self.entry_point
        return parsed.files(self.base_dir) if parsed is not None else ()


@dataclass(frozen=True)
class PyTorchSource(_FrameworkEntry):
    """``make()`` returns ``(module, example_args)``: a ``torch.nn.Module`` and a tuple of
    example tensors, converted by litert-torch (and quantized by ai-edge-quantizer)."""

    kind: ClassVar[str] = "pytorch"
    api: ClassVar[ConverterApi | None] = None  # no TF converter: litert-torch's own


@dataclass(frozen=True)
class JaxSource(_FrameworkEntry):
    """``make()`` returns ``(function, example_args)``: a traceable function with its
    parameters closed over and a tuple of example arrays, converted through jax2tf by
    TensorFlow's converter (so every TensorFlow option applies)."""

    kind: ClassVar[str] = "jax"
    api: ClassVar[ConverterApi | None] = "v2"


Source = (
    SavedModelSource
    | TF1SavedModelSource
    | KerasSource
    | FrozenGraphSource
    | PythonSource
    | PyTorchSource
    | JaxSource
)
# Sources that are the project's code: an entry point called in the worker.
ENTRY_SOURCES = (PythonSource, PyTorchSource, JaxSource)
# The toolchain each kind of source converts in; every other kind is TensorFlow's.
TOOLCHAINS = {PyTorchSource.kind: "pytorch", JaxSource.kind: "jax"}
# Toolchains whose worker converts with TensorFlow's converter (jax: through jax2tf).
THROUGH_TENSORFLOW = frozenset({"tensorflow", "jax"})


def toolchain_of(source: Source) -> str:
    """``tensorflow``, or the toolchain (``converter.toolchains``) the source converts in."""
    return TOOLCHAINS.get(source.kind, "tensorflow")


@dataclass(frozen=True)
class Representative:
    """Calibration samples for integer quantization.

    Exactly one of ``data`` (an ``.npz`` with arrays keyed by input name, or an
    ``.npy`` for a single-input model; the first axis indexes samples) and
    ``python`` (``file.py:function`` returning an iterable of samples, each an
    array, a list or tuple of arrays in input order, or a dict keyed by input name).
    ``samples`` caps how many are used (the first N, so the result is deterministic).

    Input names are a SavedModel signature's input names, a Keras model's input
    names (``keras.Input(name=...)``), a function's TensorSpec names (else its
    argument names), or ``input_arrays`` (frozen graphs, TF1 SavedModels, sessions).
    Input order, for lists: a SavedModel signature's inputs sorted by name; a Keras
    model's ``inputs``; a function's arguments, flattened; the TF1 converter's
    ``input_arrays``. The TFLite model's own input order may differ: samples reach
    TF's calibrator keyed by name wherever the model has a signature.

    A model converted with several signatures is calibrated through each one:
    ``signatures`` then holds one Representative per signature key, in key order
    (``(("decode", Representative(...)), ("encode", ...))``), and TF is fed
    ``(signature key, inputs by name)`` samples; ``data`` and ``python`` stay unset.
    """

    data: Path | None = None
    python: str | None = None
    samples: int | None = None
    base_dir: Path = Path(".")
    signatures: tuple[tuple[str, Representative], ...] = ()

    def parts(self) -> tuple[Representative, ...]:
        """Where the samples come from: this one, or each signature's."""
        return tuple(rep for _, rep in self.signatures) if self.signatures else (self,)

    @property
    def runs_code(self) -> bool:
        """Whether its samples come from the project's Python code (a generator)."""
        return any(part.python is not None for part in self.parts())


@dataclass(frozen=True)
class Goal:
    """One accuracy budget the variant must meet: ``figure`` compared with ``limit``.

    ``budget`` is the manifest's name for it (``max_accuracy_drop``), ``figure``
    the report figure it limits (``accuracy_drop``, see ``converter.evaluation.evaluate``).
    """

    budget: str
    figure: str
    comparison: Literal["at most", "at least"]
    limit: float

    def met_by(self, value: float | None) -> bool:
        if value is None:
            return False
        return value <= self.limit if self.comparison == "at most" else value >= self.limit

    def closer(self, value: float | None, than: float | None) -> bool:
        """Whether ``value`` is nearer to meeting this goal than ``than``."""
        if value is None:
            return False
        if than is None:
            return True
        return value < than if self.comparison == "at most" else value > than


@dataclass(frozen=True)
class KeepFloat:
    """Layers an int8 model keeps in float: named (``layers``), or searched for (``auto``).

    Names are the Keras/TF layer names behind the TFLite tensors (see
    ``converter.quantization.doctor``). The search keeps the fewest layers in float that meet
    every goal, measured on ``evaluate`` (an ``.npz`` keyed by input name, with
    optional labels; the first ``samples``), else on the seeded samples an
    accuracy report uses: the same data, and so the same verdict, as the report.
    """

    layers: tuple[str, ...] = ()
    auto: bool = False
    goals: tuple[Goal, ...] = ()
    evaluate: Path | None = None
    samples: int | None = None


@dataclass(frozen=True)
class Options:
    """How to convert; mapped onto converter attributes by ``converter.conversion.options.plan``.

    ``quantize`` picks the post-training quantization mode. For ``int8`` and
    ``int16x8`` every op must be quantized unless ``float_fallback`` lets the
    converter keep unsupported ops in float. ``converter`` passes any other
    TFLiteConverter attribute by name (``target_spec.*`` included).
    """

    quantize: QuantizeMode = "none"
    float_fallback: bool = False
    representative: Representative | None = None
    input_type: str | None = None  # None: the converter's default (float32)
    output_type: str | None = None
    supported_ops: tuple[str, ...] = ()
    allow_custom_ops: bool = False
    exclude_conversion_metadata: bool = False
    # TF1 converter only: quantization-aware or "dummy" quantization.
    inference_type: str | None = None
    quantized_input_stats: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    default_ranges: tuple[float, float] | None = None
    custom_opdefs: tuple[str, ...] = ()
    converter: Mapping[str, Any] = field(default_factory=dict)
    keep_float: KeepFloat | None = None  # int8 only: layers left in float
    # Checks after conversion (see converter.conversion.checks).
    allow_resource_variables: bool = False
    probe: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with defaults left out: stable input for fingerprints."""
        out: dict[str, Any] = {}
        for name, default in _option_defaults().items():
            value = getattr(self, name)
            if value != default:
                out[name] = _jsonable(value)
        return out


@functools.cache
def _option_defaults() -> dict[str, Any]:
    defaults = Options()
    return {f.name: getattr(defaults, f.name) for f in dataclasses.fields(Options)}


def runs_code(source: Source) -> bool:
    """Whether loading ``source`` runs the project's Python code: what it reads is then discovered."""
    return isinstance(source, ENTRY_SOURCES) or (
        isinstance(source, KerasSource) and source.runs_code
    )


def source_file(source: Source) -> Path | None:
    """The file or directory a source's bytes come from (a Python entry's file, if it names one)."""
    return source.file if isinstance(source, ENTRY_SOURCES) else source.path


def source_to_dict(source: Source) -> dict[str, Any]:
    """A JSON-ready description of a source (its kind plus every non-default field)."""
    out: dict[str, Any] = {"kind": source.kind}
    for f in dataclasses.fields(source):
        value = getattr(source, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        out[f.name] = _jsonable(value)
    return out


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) != f.default
        }
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value
