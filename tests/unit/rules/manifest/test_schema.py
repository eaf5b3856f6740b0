"""The published JSON Schema and the parser accept and reject the same manifests.

Both come from the rows of ``rules.manifest.fields`` and ``rules.manifest.budgets``; these tests hold
them to it on the golden bad manifests, the example project's manifests, good
manifests that together use every key, and bad ones for every kind of value.
Where the parser rejects what a schema cannot see, the case says why.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import textwrap
import typing
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from rules.manifest import budgets, schema
from rules.manifest.budgets import Budget
from rules.manifest.fields import OPTIONS, TOP, Key, KeySet
from rules.manifest.parse import parse_manifest
from rules.project.root import load_project
from tests.support import REPO
from tests.support.manifests import GOLDEN, problems

SCHEMA_FILE = REPO / "rules" / "manifest" / "manifest.schema.json"
VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def _npz(*names: str) -> bytes:
    """An .npz as far as the parser looks into one: a zip archive and its member names."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(f"{name}.npy", b"")
    return buffer.getvalue()


# Files beside every manifest below (tests/test_manifest.py's BASE comes too).
FILES: dict[str, str | bytes] = {
    "m/tf1/saved_model.pb": b"",
    "m/data/labelled.npz": _npz("image", "labels"),
    "m/data/unlabelled.npz": _npz("image"),
    "m/data/samples.txt": "",
    "m/pkg/__init__.py": "",
    "m/pkg/mod.py": "def make(): ...\n",
    "m/layers.py": "class Scale: ...\n",
}

# Accepted by both. Together they use every key of rules.manifest.fields and every budget
# (test_the_good_manifests_use_every_key), and the edges of each kind of value.
GOOD = {
    name: textwrap.dedent(text).lstrip()
    for name, text in {
        "saved model, every option": """
        name: every-option
        source:
          saved_model: export
          signature_keys: [serving_default]
          tags: serve
          deps: [build.py]
        defaults:
          representative: {data: data/calib.npz, samples: 100}
          converter: {_experimental_disable_per_channel: true}
          supported_ops: [builtins, SELECT_TF_OPS]
          allow_custom_ops: true
          exclude_conversion_metadata: true
          allow_resource_variables: true
          probe: false
        variants:
          float32: {representative: null, supported_ops: null}
          int8:
            quantize: int8
            float_fallback: true
            io_type: int8
            converter: {experimental_new_quantizer: true}
          int16x8:
            quantize: int16x8
            input_type: int16
            output_type: float32
            representative: {python: build.py:make, samples: 1}
          predict: {signature_keys: predict, representative: null}
          mixed: {quantize: int8, keep_float: [dense, conv]}
          searched: {quantize: int8, keep_float: auto}
        evaluate: {data: data/labelled.npz, samples: 10}
        budgets:
          "*": {max_size: 2MB, max_size_growth: 2%, max_error: 0.5, max_latency_ms: 20}
          int8: {min_accuracy: 95%, max_accuracy_drop: 0.01, min_top1_agreement: 0.9}
    """,
        "saved model, two signatures calibrated at once": """
        source: {saved_model: export, signature_keys: [encode, decode]}
        variants:
          int8:
            quantize: int8
            representative:
              signatures:
                encode: {data: data/calib.npz, samples: 50}
                decode: {python: build.py:decode_samples}
    """,
        "pytorch, quantized by the toolchain": """
        source: {pytorch: layers.py:Scale, deps: [data/samples.txt]}
        variants:
          float32: {}
          int8: {quantize: int8, io_type: int8, representative: {data: data/calib.npz}}
    """,
        "jax, every TensorFlow option": """
        source: {jax: layers.py:Scale}
        variants:
          int8: {quantize: int8, supported_ops: [builtins], representative: {data: data/calib.npz}}
    """,
        "keras, nulls read as empty": """
        source: {keras: model.keras, legacy: true}
        defaults:
        variants:
          float32:
          dynamic: {quantize: dynamic}
        budgets: {"*": null}
    """,
        "keras, its own classes": """
        source:
          keras: model.keras
          imports: [layers.py, pkg.mod]
          custom_objects: {Scale: layers.py:Scale, mine>Shift: pkg.mod:Shift}
          safe_mode: false
        variants: {float32: {}}
    """,
        "keras, one import, custom_objects null": """
        source: {keras: model.keras, imports: pkg.mod, custom_objects: }
        variants: {float32: {}}
    """,
        "frozen graph, TF1 options": """
        source:
          frozen_graph: graph.pb
          inputs: {image: [1, 28, 28, 1], mask: null}
          outputs: probs
        variants:
          float32: {}
          qat:
            inference_type: uint8
            input_type: uint8
            quantized_input_stats: {image: [0, 255]}
            default_ranges: [0, 6]
    """,
        "TF1 SavedModel, a TF1-only attribute": """
        source:
          tf1_saved_model: tf1
          signature_key: serving_default
          tags: [serve]
          inputs: [x]
          outputs: [y]
        variants:
          float32: {converter: {drop_control_dependency: true}}
    """,
        "python module, produced by a task": """
        source: {python: pkg.mod:make, task: make_it, deps: pkg/mod.py}
        variants: {f16: {quantize: float16}}
    """,
        "limits at their edges": """
        source: {saved_model: export}
        variants: {float32: {}}
        budgets:
          "*": {max_size: 0, max_size_growth: " .5 % ", min_top1_agreement: 100%}
          float32: {max_size: 1.5 MiB, max_size_growth: 0, min_top1_agreement: 1}
    """,
        "device gates": """
        source: {saved_model: export}
        variants: {float32: {}, int8: {quantize: dynamic}}
        budgets:
          "*": {runtime: "2.14", gpu_compatible: true, select_tf_ops: false}
          int8:
            runtime: "2"
            gpu_compatible: false
            allowed_ops: [CONV_2D, FULLY_CONNECTED v4, SOFTMAX v1-2, CUSTOM:MyOp, FLEX:Erf]
    """,
    }.items()
}

# Rejected by both: one or more per kind of value, beyond the golden manifests.
BAD = {
    "empty file": "",
    "not a mapping": "[source, variants]\n",
    "model name with a slash": "name: a/b\nsource: {saved_model: export}\nvariants: {f: {}}\n",
    "variant name with a slash": "source: {saved_model: export}\nvariants: {a/b: {}}\n",
    "source null": "source:\nvariants: {f: {}}\n",
    "no source format": "source: {deps: [build.py]}\nvariants: {f: {}}\n",
    "task without deps": "source: {saved_model: export, task: t}\nvariants: {f: {}}\n",
    "frozen graph without outputs": (
        "source: {frozen_graph: graph.pb, inputs: [x]}\nvariants: {f: {}}\n"
    ),
    "frozen graph with no outputs": (
        "source: {frozen_graph: graph.pb, inputs: [x], outputs: []}\nvariants: {f: {}}\n"
    ),
    "frozen graph with inputs null": (
        "source: {frozen_graph: graph.pb, inputs: null, outputs: y}\nvariants: {f: {}}\n"
    ),
    "shape of floats": (
        "source: {frozen_graph: graph.pb, inputs: {x: [1.5]}, outputs: y}\nvariants: {f: {}}\n"
    ),
    "inputs as one string": (
        "source: {frozen_graph: graph.pb, inputs: x, outputs: y}\nvariants: {f: {}}\n"
    ),
    "strings given a mapping": "source: {saved_model: export, tags: {a: 1}}\nvariants: {f: {}}\n",
    "strings holding a number": "source: {saved_model: export, tags: [1]}\nvariants: {f: {}}\n",
    "boolean given a string": "source: {keras: model.keras, legacy: 'yes'}\nvariants: {f: {}}\n",
    "a signature's samples from two places": (
        "source: {saved_model: export}\nvariants:\n  q:\n    quantize: int8\n"
        "    representative: {signatures: {a: {data: data/unlabelled.npz, python: pkg.mod:make}}}\n"
    ),
    "no signature named": (
        "source: {saved_model: export}\nvariants:\n  q:\n    quantize: int8\n"
        "    representative: {signatures: {}}\n"
    ),
    "samples beside signatures": (
        "source: {saved_model: export}\nvariants:\n  q:\n    quantize: int8\n"
        "    representative: {samples: 3, signatures: {a: {data: data/unlabelled.npz}}}\n"
    ),
    "entry point of a dashed module": "source: {python: my-mod:make}\nvariants: {f: {}}\n",
    "import of a dashed module": (
        "source: {keras: model.keras, imports: [my-layers]}\nvariants: {f: {}}\n"
    ),
    "import with a colon": (
        "source: {keras: model.keras, imports: [layers.py:Scale]}\nvariants: {f: {}}\n"
    ),
    "imports null": "source: {keras: model.keras, imports: }\nvariants: {f: {}}\n",
    "custom object without its class": (
        "source: {keras: model.keras, custom_objects: {Scale: layers.py}}\nvariants: {f: {}}\n"
    ),
    "custom objects as a list": (
        "source: {keras: model.keras, custom_objects: [layers.py:Scale]}\nvariants: {f: {}}\n"
    ),
    "safe_mode given a string": (
        "source: {keras: model.keras, safe_mode: 'no'}\nvariants: {f: {}}\n"
    ),
    "imports of a python source": (
        "source: {python: build.py:make, imports: [layers.py]}\nvariants: {f: {}}\n"
    ),
    "variants null": "source: {saved_model: export}\nvariants:\n",
    "variant a list": "source: {saved_model: export}\nvariants: {f: [1]}\n",
    "unknown option in defaults": (
        "source: {saved_model: export}\ndefaults: {quantise: int8}\nvariants: {f: {}}\n"
    ),
    "null option in defaults": (
        "source: {saved_model: export}\ndefaults: {quantize: null}\nvariants: {f: {}}\n"
    ),
    "representative null in defaults": (
        "source: {saved_model: export}\ndefaults: {representative: null}\nvariants: {f: {}}\n"
    ),
    "representative with data and python": (
        "source: {saved_model: export}\nvariants:\n  f:\n    quantize: int8\n"
        "    representative: {data: data/calib.npz, python: build.py:make}\n"
    ),
    "representative data of another type": (
        "source: {saved_model: export}\nvariants:\n  f:\n    quantize: int8\n"
        "    representative: {data: data/samples.txt}\n"
    ),
    "samples zero": (
        "source: {saved_model: export}\nvariants:\n  f:\n    quantize: int8\n"
        "    representative: {data: data/calib.npz, samples: 0}\n"
    ),
    "unknown op set": (
        "source: {saved_model: export}\nvariants: {f: {supported_ops: [bultins]}}\n"
    ),
    "unknown io type": "source: {saved_model: export}\nvariants: {f: {io_type: int9}}\n",
    "unknown inference type": (
        "source: {frozen_graph: graph.pb, inputs: [x], outputs: y}\n"
        "variants: {f: {inference_type: int4}}\n"
    ),
    "pair of one number": (
        "source: {frozen_graph: graph.pb, inputs: [x], outputs: y}\n"
        "variants: {f: {default_ranges: [0]}}\n"
    ),
    "stats not pairs": (
        "source: {frozen_graph: graph.pb, inputs: [x], outputs: y}\n"
        "variants: {f: {quantized_input_stats: {x: 1}}}\n"
    ),
    "converter attribute an option owns": (
        "source: {saved_model: export}\nvariants: {f: {converter: {optimizations: [x]}}}\n"
    ),
    "no signature keys": "source: {saved_model: export}\nvariants: {f: {signature_keys: []}}\n",
    "keep_float empty": (
        "source: {saved_model: export}\nvariants:\n  f:\n    quantize: int8\n"
        "    representative: {data: data/calib.npz}\n    keep_float: []\n"
    ),
    "keep_float a number": (
        "source: {saved_model: export}\nvariants:\n  f:\n    quantize: int8\n"
        "    representative: {data: data/calib.npz}\n    keep_float: 3\n"
    ),
    "evaluate without data": (
        "source: {saved_model: export}\nvariants: {f: {}}\nevaluate: {samples: 3}\n"
    ),
    "unknown budget": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {max_sise: 2MB}}\n"
    ),
    "budget limits a list": "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: [1]}\n",
    "runtime as a number": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {runtime: 2.14}}\n"
    ),
    "runtime not a version": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {runtime: 'v2'}}\n"
    ),
    "gpu_compatible as a string": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {gpu_compatible: 'yes'}}\n"
    ),
    "allowed_ops as one string": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {allowed_ops: CONV_2D}}\n"
    ),
    "allowed op with a bad version": (
        "source: {saved_model: export}\nvariants: {f: {}}\n"
        "budgets: {f: {allowed_ops: [CONV_2D v0x]}}\n"
    ),
    "negative size": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {max_size: -1}}\n"
    ),
    "fractional size in bytes": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {max_size: 2.5}}\n"
    ),
    "percentage in exponent form": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {max_size_growth: 1e1%}}\n"
    ),
    "negative fraction": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {max_size_growth: -2%}}\n"
    ),
    "share above 1": (
        "source: {saved_model: export}\nvariants: {f: {}}\n"
        "budgets: {f: {min_top1_agreement: 1.5}}\n"
    ),
    "share above 100%": (
        "source: {saved_model: export}\nvariants: {f: {}}\n"
        "budgets: {f: {min_top1_agreement: 100.5%}}\n"
    ),
    "negative number": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {max_error: -1}}\n"
    ),
    "number given a string": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {max_latency_ms: 5ms}}\n"
    ),
}

# Rejected by the parser alone, each with the reason a schema cannot tell.
FILE_SYSTEM = "whether a path exists, as a file or a directory, is the file system's to say"
ACROSS_OPTIONS = (
    "a rule across options, which the defaults and a variant may each give "
    "(converter.conversion.options.check)"
)
ACROSS_SECTIONS = "a rule across sections of the manifest, kept in the parser as code"
WHOLE_FLOAT = "JSON has one kind of number: 1.0 is an integer to JSON Schema, a float to YAML"
BEYOND_SCHEMA = {
    "missing file": FILE_SYSTEM,
    "missing import": FILE_SYSTEM,
    "custom object in a missing file": FILE_SYSTEM,
    "path escaping the project root": "where the project root lies is not in the manifest",
    "impossible option combination": ACROSS_OPTIONS,
    "io type without integer quantization": ACROSS_OPTIONS,
    "budget for a variant that does not exist": (
        "a budget names one of the manifest's own variants: a reference, not a shape"
    ),
    "a file where a directory belongs": FILE_SYSTEM,
    "duplicate key": "a YAML loader keeps the last of duplicate keys; the schema sees only that",
    "samples 1.0": WHOLE_FLOAT,
    "size 2.0": WHOLE_FLOAT,
    "float_fallback without integer quantization": ACROSS_OPTIONS,
    "min above max": "JSON Schema cannot compare two items of a list",
    "TF1 option on a TF2 source": f"the source's format decides the converter: {ACROSS_SECTIONS}",
    "TF1-only attribute on a TF2 source": (
        f"the source's format decides the converter: {ACROSS_SECTIONS}"
    ),
    "signature keys of a Keras source": ACROSS_SECTIONS,
    "labelled budget without evaluate": ACROSS_SECTIONS,
    "evaluate data without labels": "whether the evaluate data holds labels is in the .npz file",
    "keep_float without int8": ACROSS_OPTIONS,
    "keep_float auto without an accuracy budget": ACROSS_SECTIONS,
    "allowed op that is no builtin": (
        "the builtin op names are TFLite's flatbuffer schema, installed with the tool; the "
        "pattern checks their spelling, the parser the names"
    ),
}
BEYOND = {
    "custom object in a missing file": (
        "source: {keras: model.keras, custom_objects: {Scale: lyers.py:Scale}}\nvariants: {f: {}}\n"
    ),
    "a file where a directory belongs": "source: {saved_model: model.keras}\nvariants: {f: {}}\n",
    "duplicate key": "source: {saved_model: export}\nvariants: {f: {}, f: {}}\n",
    "samples 1.0": (
        "source: {saved_model: export}\nvariants:\n  f:\n    quantize: int8\n"
        "    representative: {data: data/calib.npz, samples: 1.0}\n"
    ),
    "size 2.0": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {max_size: 2.0}}\n"
    ),
    "float_fallback without integer quantization": (
        "source: {saved_model: export}\nvariants: {f: {float_fallback: true}}\n"
    ),
    "min above max": (
        "source: {frozen_graph: graph.pb, inputs: [x], outputs: y}\n"
        "variants: {f: {default_ranges: [6, 0]}}\n"
    ),
    "TF1 option on a TF2 source": (
        "source: {saved_model: export}\nvariants: {f: {default_ranges: [0, 6]}}\n"
    ),
    "TF1-only attribute on a TF2 source": (
        "source: {saved_model: export}\n"
        "variants: {f: {converter: {drop_control_dependency: true}}}\n"
    ),
    "signature keys of a Keras source": (
        "source: {keras: model.keras}\nvariants: {f: {signature_keys: [serve]}}\n"
    ),
    "labelled budget without evaluate": (
        "source: {saved_model: export}\nvariants: {f: {}}\nbudgets: {f: {min_accuracy: 0.9}}\n"
    ),
    "evaluate data without labels": (
        "source: {saved_model: export}\nvariants: {f: {}}\nevaluate: {data: data/unlabelled.npz}\n"
        "budgets: {f: {max_accuracy_drop: 0.01}}\n"
    ),
    "keep_float without int8": (
        "source: {saved_model: export}\nvariants: {f: {quantize: float16, keep_float: [dense]}}\n"
    ),
    "keep_float auto without an accuracy budget": (
        "source: {saved_model: export}\nvariants:\n  f:\n    quantize: int8\n"
        "    representative: {data: data/calib.npz}\n    keep_float: auto\n"
        "budgets: {f: {max_size: 2MB}}\n"
    ),
}

CASES = [
    *((kind, text, False) for kind, text, _ in GOLDEN),
    *((name, text, True) for name, text in GOOD.items()),
    *((name, text, False) for name, text in BAD.items()),
    *((name, text, False) for name, text in BEYOND.items()),
]


def _schema_accepts(text: str) -> bool:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return False  # not YAML: nothing a schema could accept
    return bool(VALIDATOR.is_valid(document))


def _agree(name: str, parser_accepts: bool, schema_accepts: bool) -> None:
    reason = BEYOND_SCHEMA.get(name)
    if reason is None:
        assert schema_accepts == parser_accepts, (
            f"the parser {'accepts' if parser_accepts else 'rejects'} it, the schema does not"
        )
    else:
        assert (parser_accepts, schema_accepts) == (False, True), (
            f"listed as beyond the schema ({reason}), yet the parser "
            f"{'accepts' if parser_accepts else 'rejects'} it and the schema "
            f"{'accepts' if schema_accepts else 'rejects'} it"
        )


@pytest.mark.parametrize(("name", "text", "accepted"), CASES, ids=[c[0] for c in CASES])
def test_the_schema_and_the_parser_agree(
    tmp_path: Path, name: str, text: str, accepted: bool
) -> None:
    found = problems(tmp_path, {"m/model.yaml": text}, FILES)
    assert (found == []) == accepted, found
    _agree(name, accepted, _schema_accepts(text))


EXAMPLES = sorted((REPO / "example_project").glob("**/model.yaml"))


@pytest.mark.parametrize("manifest", EXAMPLES, ids=lambda p: p.parent.name)
def test_the_schema_and_the_parser_agree_on_the_example_project(manifest: Path) -> None:
    parsed = parse_manifest(load_project(REPO / "example_project"), manifest)
    assert parsed.problems == []
    _agree(str(manifest), parsed.manifest is not None, _schema_accepts(manifest.read_text()))


def test_every_exception_is_a_case() -> None:
    names = {name for name, _, _ in CASES}
    assert set(BEYOND_SCHEMA) <= names


def _label(key: Key) -> str:
    """Options are one set of keys, whether defaults or a variant gives them."""
    return "options" if key.keys is OPTIONS else key.name


def _used(section: KeySet, data: Any, label: str, out: set[tuple[str, str]]) -> None:
    """Every (section, key) the document gives a value to, nested sections included."""
    for key in section.keys:
        value = data.get(key.name) if isinstance(data, dict) else None
        if value is None:
            continue
        out.add((label, key.name))
        if key.kind == "variants":
            for options in value.values():
                _used(OPTIONS, options, "options", out)
        elif key.kind == "budgets":
            out.update(("budgets", limit) for limits in value.values() for limit in limits or ())
        elif key.kind == "signatures":
            assert key.keys is not None
            for part in value.values():
                _used(key.keys, part, _label(key), out)
        elif key.keys is not None:
            _used(key.keys, value, _label(key), out)


def _described(section: KeySet, label: str, out: set[tuple[str, str]]) -> None:
    """Every (section, key) of the description, walked as ``_used`` walks a document."""
    for key in section.keys:
        out.add((label, key.name))
        if key.kind == "budgets":
            out.update(("budgets", name) for name in budgets.NAMES)
        elif key.keys is not None:
            _described(key.keys, _label(key), out)


def test_the_good_manifests_use_every_key() -> None:
    """A new row in rules.manifest.fields or rules.manifest.budgets needs a good manifest that uses it."""
    used: set[tuple[str, str]] = set()
    for text in GOOD.values():
        _used(TOP, yaml.safe_load(text), "top", used)
    described: set[tuple[str, str]] = set()
    _described(TOP, "top", described)
    sections = {"top", "source", "options", "representative", "signatures", "evaluate", "budgets"}
    assert {label for label, _ in described} == sections  # the walk reached every section
    assert described - used == set()


def test_committed_schema_is_the_generated_one() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == schema.schema(), (
        "regenerate it: python -m rules.manifest.schema > rules/manifest/manifest.schema.json"
    )


def test_the_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema.schema())


@pytest.mark.parametrize(
    "text",
    [
        "build.py:make",
        "tools/build.py:make_model",
        "a b.py:f",
        "pkg.module:make",
        "module:make",
        "build.py:",
        ":make",
        "build.py:1x",
        "my-module:make",
        "pkg..mod:make",
        "a.pyx:f",
        "no_colon",
        "x:y:z",
    ],
)
def test_schema_and_parser_agree_on_entry_points(text: str) -> None:
    from converter.entry import ENTRY_PATTERN, EntryPoint

    assert (re.match(ENTRY_PATTERN, text) is not None) == (EntryPoint.parse(text) is not None)


def test_each_budget_field_holds_what_its_row_reads() -> None:
    """The table is Budget's fields: each field's type is the type its value kind reads to."""
    reads_to = {
        "size": int,
        "fraction": float,
        "share": float,
        "number": float,
        "flag": bool,
        "version": str,
        "ops": tuple[str, ...],
    }
    hints = typing.get_type_hints(Budget)
    assert [kind.name for kind in budgets.BUDGETS] == [f.name for f in dataclasses.fields(Budget)]
    for kind in budgets.BUDGETS:
        assert hints[kind.name] == reads_to[kind.value] | None, kind.name
        assert getattr(Budget(), kind.name) is None  # no limit unless a manifest sets one


@pytest.mark.parametrize(
    "text",
    ["layers.py", "tools/layers.py", "pkg.layers", "layers", "layers.py:Scale", "my-layers", ""],
)
def test_schema_and_parser_agree_on_imports(text: str) -> None:
    from converter.entry import MODULE_PATTERN, Module

    assert (re.match(MODULE_PATTERN, text) is not None) == (Module.parse(text) is not None)
