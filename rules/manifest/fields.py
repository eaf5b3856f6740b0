"""Every key a model.yaml may hold, stated once: the kind of value it takes and what it means.

``rules.manifest.located`` reads each value by its row here and ``rules.manifest.schema`` derives
the published JSON Schema from the same rows, so the parser and the schema cannot drift
apart: a new option is one new row (and its field in ``converter.spec.Options``).
Budgets are rows of ``rules.manifest.budgets``. What a row cannot say stays code:
paths that must exist (``rules.manifest.located``), option combinations
(``converter.conversion.options.check``), budgets that name real variants and
labelled evaluate data (``rules.manifest.parse``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from converter.conversion.options import MANAGED, OPS_SETS, V1_ATTRIBUTES
from converter.entry import CLASS_SYNTAX, MODULE_SYNTAX, SYNTAX
from converter.spec import INFERENCE_TYPES, IO_TYPES, QUANTIZE_MODES

# Model and variant names: they become folder and file names.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# How a value is written; the parser reads and the schema publishes each kind.
Kind = Literal[
    "string",  # any text
    "name",  # a model or variant name, matching NAME_PATTERN
    "boolean",  # true or false
    "positive",  # a whole number from 1
    "choice",  # one of ``choices``
    "strings",  # a list of strings, or a single string
    "choices",  # a list of ``choices`` (or ``aliases``), or a single one
    "file",  # a path relative to the manifest's folder, inside the project, to a file
    "directory",  # the same, to a directory
    "paths",  # a list of paths to files or directories, or a single one
    "entry",  # file.py:function or package.module:function (see converter.entry)
    "modules",  # Python files (paths, as for "file") or module names: a list, or a single one
    "objects",  # {name: file.py:Class or package.module:Class}
    "inputs",  # tensor names, or {name: shape} with a shape a list of integers or null
    "pair",  # two numbers: [0, 255]
    "pairs",  # {name: two numbers}
    "attributes",  # {name among ``choices``: any value}
    "section",  # a mapping of its own ``keys``
    "signatures",  # {signature key: a mapping of its own ``keys``}
    "variants",  # {variant name: options}; a null option unsets what defaults gave it
    "budgets",  # {variant name or '*': limits}, the limits being rules.manifest.budgets' rows
    "layers",  # auto, or a list of layer names (or a single one)
]
# Mapping-valued kinds that a variant merges key by key over the defaults' (a
# section such as representative is replaced whole: its keys exclude each other).
MERGED_KINDS: tuple[Kind, ...] = ("pairs", "attributes")


@dataclass(frozen=True)
class Key:
    """One key: its name, the kind of value it takes, and what it means."""

    name: str
    kind: Kind
    description: str
    choices: tuple[str, ...] = ()  # a choice's, a list's items', an attribute mapping's names
    aliases: tuple[str, ...] = ()  # accepted as well, but not offered in messages
    item: str = ""  # what one item of a list is called in messages
    suffixes: tuple[str, ...] = ()  # the endings a file may have
    non_empty: bool = False  # a list needs at least one item
    example: str = ""  # how a value looks, for messages that ask for one
    needs: tuple[str, str] | None = None  # another key of the section it needs, and why
    keys: KeySet | None = None  # a section's own keys


@dataclass(frozen=True)
class Alternative:
    """One of a section's keys that exclude each other, with the keys that go with it only."""

    name: str
    keys: tuple[str, ...] = ()
    required: tuple[str, ...] = ()  # given, and not empty


@dataclass(frozen=True)
class KeySet:
    """The keys of one mapping; any other key is unknown."""

    keys: tuple[Key, ...]
    required: tuple[str, ...] = ()
    one_of: tuple[Alternative, ...] = ()  # exactly one of these is given

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    def __getitem__(self, name: str) -> Key:
        return next(key for key in self.keys if key.name == name)

    @property
    def alternatives(self) -> tuple[str, ...]:
        return tuple(alt.name for alt in self.one_of)

    def applicable(self, alternative: Alternative) -> tuple[str, ...]:
        """The keys that may stand beside ``alternative``: its own and the section's common ones."""
        owned = {name for alt in self.one_of for name in (alt.name, *alt.keys)}
        common = tuple(name for name in self.names if name not in owned)
        return (alternative.name, *alternative.keys, *common)


def _strings(name: str, description: str) -> Key:
    return Key(name, "strings", description)


SIGNATURE_KEYS = _strings("signature_keys", "the signatures to convert (default serving_default)")
TAGS = _strings("tags", "the MetaGraph's tags (default serve)")
SOURCE = KeySet(
    (
        Key("saved_model", "directory", "SavedModel directory"),
        Key("keras", "file", ".keras or .h5 file"),
        Key("frozen_graph", "file", "frozen GraphDef .pb"),
        Key("tf1_saved_model", "directory", "SavedModel for the TF1 converter"),
        Key("python", "entry", f"{SYNTAX} returning the model"),
        Key(
            "pytorch",
            "entry",
            f"{SYNTAX} returning (module, example_args): a torch.nn.Module and a tuple of "
            "example tensors, converted by litert-torch in the PyTorch toolchain",
        ),
        Key(
            "jax",
            "entry",
            f"{SYNTAX} returning (function, example_args): a traceable function with its "
            "parameters closed over and a tuple of example arrays, converted through jax2tf "
            "in the JAX toolchain",
        ),
        Key(
            "inputs",
            "inputs",
            "input tensor names, or {name: shape} to set their shapes",
            item="input",
            example="{name: shape}",
        ),
        Key("legacy", "boolean", "a tf_keras file (needs the legacy-keras extra)"),
        Key(
            "imports",
            "modules",
            f"{MODULE_SYNTAX}: imported before the Keras model loads, so that the classes "
            "they register are known",
            item="module",
        ),
        Key(
            "custom_objects",
            "objects",
            f"the name Keras looks a class up by -> {CLASS_SYNTAX}, for classes not registered",
        ),
        Key(
            "safe_mode",
            "boolean",
            "false lets Keras run Python code stored in the file (a Lambda layer's): trust it",
        ),
        Key("outputs", "strings", "output tensor names", item="output", example="[tensor names]"),
        Key("signature_key", "string", "the signature to convert"),
        SIGNATURE_KEYS,
        TAGS,
        Key("deps", "paths", "more files the source depends on"),
        Key(
            "task",
            "string",
            "the doit task that produces the source",
            needs=(
                "deps",
                "the files the task reads (they, not the bytes it writes, key the cache)",
            ),
        ),
    ),
    one_of=(
        Alternative("saved_model", ("signature_keys", "tags")),
        Alternative("keras", ("legacy", "imports", "custom_objects", "safe_mode")),
        Alternative("frozen_graph", ("inputs", "outputs"), required=("inputs", "outputs")),
        Alternative("tf1_saved_model", ("signature_key", "tags", "inputs", "outputs")),
        Alternative("python"),
        Alternative("pytorch"),
        Alternative("jax"),
    ),
)
_SAMPLE_KEYS = (
    Key(
        "data",
        "file",
        "samples keyed by input name (.npz), or one input's samples (.npy)",
        suffixes=(".npz", ".npy"),
    ),
    Key("python", "entry", f"{SYNTAX} returning an iterable of samples"),
    Key("samples", "positive", "use the first N samples only"),
)
# One signature's samples, under representative: {signatures: {key: ...}}.
SIGNATURE_SAMPLES = KeySet(
    _SAMPLE_KEYS,
    one_of=(Alternative("data", ("samples",)), Alternative("python", ("samples",))),
)
REPRESENTATIVE = KeySet(
    (
        *_SAMPLE_KEYS,
        Key(
            "signatures",
            "signatures",
            "each converted signature's samples: {signature key: {data or python, samples}}",
            keys=SIGNATURE_SAMPLES,
        ),
    ),
    one_of=(
        Alternative("data", ("samples",)),
        Alternative("python", ("samples",)),
        Alternative("signatures"),
    ),
)
OPTIONS = KeySet(
    (
        Key("quantize", "choice", "the post-training quantization mode", choices=QUANTIZE_MODES),
        Key(
            "float_fallback",
            "boolean",
            "keep ops without an integer kernel in float (int8, int16x8)",
        ),
        Key(
            "representative",
            "section",
            "calibration samples for int8 and int16x8",
            keys=REPRESENTATIVE,
        ),
        Key("io_type", "choice", "input_type and output_type at once", choices=IO_TYPES),
        Key("input_type", "choice", "the model's input type", choices=IO_TYPES),
        Key("output_type", "choice", "the model's output type", choices=IO_TYPES),
        Key(
            "supported_ops",
            "choices",
            "the op sets the model may use",
            choices=tuple(OPS_SETS),
            aliases=tuple(OPS_SETS.values()),
            item="op set",
        ),
        Key(
            "keep_float",
            "layers",
            "int8: the layers to keep in float, or auto (the fewest that meet the variant's "
            "accuracy budget)",
            item="layer name",
            non_empty=True,
        ),
        Key("allow_custom_ops", "boolean", "allow ops TFLite has no kernel for (custom ops)"),
        Key(
            "exclude_conversion_metadata",
            "boolean",
            "leave TF's conversion metadata out of the artifact",
        ),
        Key(
            "inference_type",
            "choice",
            "quantization-aware or dummy quantization (TF1 converter)",
            choices=INFERENCE_TYPES,
        ),
        Key(
            "quantized_input_stats",
            "pairs",
            "input name -> [mean, std_dev] (TF1 converter)",
        ),
        Key("default_ranges", "pair", "[min, max] for tensors without ranges (TF1 converter)"),
        Key(
            "converter",
            "attributes",
            "any other TFLiteConverter attribute, by name",
            choices=tuple(sorted(V1_ATTRIBUTES - set(MANAGED))),
        ),
        Key(
            "allow_resource_variables",
            "boolean",
            "accept resource variables left in the artifact (mutable state)",
        ),
        Key("probe", "boolean", "run one inference after conversion; fail on NaN or inf"),
        Key(
            "signature_keys",
            "strings",
            "this variant's signatures of a saved_model source (overrides the source's)",
            item="signature key",
            non_empty=True,
        ),
    )
)
EVALUATE = KeySet(
    (
        Key(
            "data",
            "file",
            "a .npz with arrays keyed by input name (and optional labels)",
        ),
        Key("samples", "positive", "use the first N samples only"),
    ),
    required=("data",),
)
TOP = KeySet(
    (
        Key("name", "name", "the model's name, unique in the project (default: its folder's)"),
        Key("source", "section", "the model to convert, in exactly one format", keys=SOURCE),
        Key("defaults", "section", "options merged into every variant", keys=OPTIONS),
        Key("variants", "variants", "one .tflite per variant, by name", keys=OPTIONS),
        Key("evaluate", "section", "data for the accuracy report", keys=EVALUATE),
        Key("budgets", "budgets", "limits per variant ('*': every variant); a breach fails"),
    ),
    required=("source", "variants"),
)
