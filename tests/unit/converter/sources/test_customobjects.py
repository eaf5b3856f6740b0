"""A Keras source's own classes: its imports run, its custom objects found, Keras's refusals
explained. Keras's messages are copied from what Keras 3 and tf_keras raise (the integration
tests raise them for real); ours are product text, pinned whole."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from converter.errors import SourceError
from converter.sources.customobjects import explain, load_custom_objects
from converter.sources.precheck import precheck
from converter.spec import KerasSource
from tests.support.project import Files, write_files

# Keras 3 loading a .keras file whose layer class 'Reg', registered as 'mine>Reg', is unknown.
KERAS3_UNLOCATED = (
    "<class 'keras.src.models.functional.Functional'> could not be deserialized properly. "
    "Please ensure that components that are Python object instances (layers, models, etc.) "
    "returned by `get_config()` are explicitly deserialized in the model's `from_config()` "
    "method.\n\nconfig={'module': 'keras.src.models.functional', 'class_name': 'Functional', "
    "'config': {}, 'registered_name': 'Functional', 'build_config': {'input_shape': None}, "
    "'compile_config': None}.\n\nException encountered: Could not locate class 'Reg'. Make sure "
    "custom classes and functions are decorated with "
    "`@keras.saving.register_keras_serializable()`. If they are already decorated, make sure "
    "they are all imported so that the decorator is run before trying to load them. Full object "
    "config: {'module': 'layers', 'class_name': 'Reg', 'config': {'name': 'reg', 'trainable': "
    "True, 'dtype': {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': "
    "'float32'}, 'registered_name': None}}, 'registered_name': 'mine>Reg', 'build_config': "
    "{'input_shape': [None, 4]}, 'name': 'reg', 'inbound_nodes': []}"
)
# Keras 3 or tf_keras loading an .h5 file.
H5_UNKNOWN = (
    "Unknown layer: 'Scale'. Please ensure you are using a `keras.utils.custom_object_scope` "
    "and that this object is included in the scope. See "
    "https://www.tensorflow.org/guide/keras/save_and_serialize#registering_the_custom_object "
    "for details."
)
LAMBDA = (
    "Requested the deserialization of a `Lambda` layer whose `function` is a Python lambda. "
    "This carries a potential risk of arbitrary code execution and thus it is disallowed by "
    "default. If you trust the source of the artifact, you can override this error by passing "
    "`safe_mode=False` to the loading function, or calling "
    "`keras.config.enable_unsafe_deserialization()."
)
FROM_CONFIG = (
    "<class 'keras.src.models.functional.Functional'> could not be deserialized properly. "
    "config={}.\n\nException encountered: <class 'layers.Scale'> could not be deserialized "
    "properly. config={}.\n\nException encountered: Scale.__init__() got an unexpected keyword "
    "argument 'factor'"
)


def test_an_unknown_class_is_named_as_keras_looks_it_up_with_both_keys() -> None:
    source = KerasSource(Path("m/model.keras"))
    assert explain(source, TypeError(KERAS3_UNLOCATED)) == (
        "m/model.keras: Keras cannot find the class 'mine>Reg': none is registered under that "
        "name; list the file or module that defines it under the source's imports (imports: "
        "[file.py], with @keras.saving.register_keras_serializable() on the class), or map the "
        "name to it with custom_objects: {'mine>Reg': file.py:Reg}"
    )


def test_an_unknown_layer_of_a_legacy_file_names_tf_keras_and_the_imports_tried() -> None:
    source = KerasSource(Path("m/model.h5"), legacy=True, imports=("layers.py",))
    assert explain(source, ValueError(H5_UNKNOWN)) == (
        "m/model.h5: Keras cannot find the class 'Scale': none is registered under that name "
        "(the source's imports, layers.py, register none); list the file or module that "
        "defines it under the source's imports (imports: [file.py], with "
        "@tf_keras.saving.register_keras_serializable() on the class), or map the name to it "
        "with custom_objects: {Scale: file.py:Scale}"
    )


def test_a_lambda_in_safe_mode_names_safe_mode_false_and_what_it_means() -> None:
    nested = f"<class 'Sequential'> could not be deserialized properly.\n\nException encountered: {LAMBDA}"
    for text in (LAMBDA, nested):
        assert explain(KerasSource(Path("m/model.keras")), ValueError(text)) == (
            "m/model.keras: the model holds a Lambda layer whose function is Python code stored "
            "in the file, which Keras loads only from a file it is told to trust. If you trust "
            "this file, set safe_mode: false under source: loading the model then runs the code "
            "stored in it"
        )


def test_a_class_that_fails_its_own_from_config_is_named_with_the_cause() -> None:
    assert explain(KerasSource(Path("m/model.keras")), TypeError(FROM_CONFIG)) == (
        "m/model.keras: Keras could not deserialize the class 'Scale': Scale.__init__() got an "
        "unexpected keyword argument 'factor'. If the class is yours, list the file or module "
        "that defines it under the source's imports (imports: [file.py], with "
        "@keras.saving.register_keras_serializable() on the class), or map the name to it with "
        "custom_objects: {Scale: file.py:Scale}; its from_config() must accept what its "
        "get_config() returns"
    )


def test_other_failures_are_not_ours_to_explain() -> None:
    assert explain(KerasSource(Path("m/model.keras")), OSError("file signature not found")) is None


CODE: Files = {
    "m/model.keras": b"",
    "m/layers.py": "from tfb_test_helper import FACTOR\n\nclass Scale:\n    factor = FACTOR\n",
    "m/tfb_test_helper.py": "FACTOR = 3\n",
    "m/tfb_test_pkg/__init__.py": "",
    "m/tfb_test_pkg/objects.py": "def shift(x):\n    return x + 1\n",
}


def test_imports_run_and_custom_objects_load_from_files_and_modules(tmp_path: Path) -> None:
    root = write_files(tmp_path, CODE)
    source = KerasSource(
        root / "m/model.keras",
        imports=("layers.py", "tfb_test_pkg.objects"),
        custom_objects=(("Scale", "layers.py:Scale"), ("shift", "tfb_test_pkg.objects:shift")),
        base_dir=root / "m",
    )
    precheck(source)
    try:
        objects = load_custom_objects(source)
        assert objects["Scale"].factor == 3 and objects["shift"](1) == 2
        # What the code imported is an ordinary module, which discovery sees by its file.
        assert sys.modules["tfb_test_helper"].__file__ == str(root / "m/tfb_test_helper.py")
    finally:
        for name in ("tfb_test_helper", "tfb_test_pkg", "tfb_test_pkg.objects"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("imports", "objects", "message"),
    [
        (("lyers.py",), (), "imports 'lyers.py': no such file {m}/lyers.py"),
        (("my-layers",), (), "imports 'my-layers': expected 'file.py' or 'package.module'"),
        (
            (),
            (("Scale", "layers.py"),),
            "custom_objects Scale: expected 'file.py:Class' or 'package.module:Class'; "
            "got 'layers.py'",
        ),
        ((), (("Scale", "lyers.py:Scale"),), "custom_objects Scale: no such file {m}/lyers.py"),
    ],
)
def test_precheck_names_the_key_and_the_code_that_is_not_there(
    tmp_path: Path, imports: tuple[str, ...], objects: tuple[tuple[str, str], ...], message: str
) -> None:
    root = write_files(tmp_path, CODE)
    source = KerasSource(
        root / "m/model.keras", imports=imports, custom_objects=objects, base_dir=root / "m"
    )
    with pytest.raises(SourceError) as raised:
        precheck(source)
    assert str(raised.value) == f"{root}/m/model.keras: " + message.format(m=root / "m")


def test_loading_names_the_class_a_file_lacks_and_the_module_that_fails(tmp_path: Path) -> None:
    root = write_files(tmp_path, CODE)
    missing = KerasSource(
        root / "m/model.keras", custom_objects=(("Shift", "layers.py:Shift"),), base_dir=root / "m"
    )
    with pytest.raises(
        SourceError,
        match=r"custom_objects Shift: 'layers.py:Shift': layers.py has no class 'Shift'",
    ):
        load_custom_objects(missing)
    absent = KerasSource(
        root / "m/model.keras", imports=("tfb_no_such_module",), base_dir=root / "m"
    )
    with pytest.raises(
        SourceError, match=r"imports 'tfb_no_such_module': cannot import tfb_no_such_module"
    ):
        load_custom_objects(absent)
    sys.modules.pop("tfb_test_helper", None)  # imported by layers.py above


def test_an_unknown_class_says_which_names_custom_objects_gave() -> None:
    source = KerasSource(Path("m/model.keras"), custom_objects=(("Clipper", "blocks:Clip"),))
    assert explain(source, ValueError(H5_UNKNOWN.replace("Scale", "Clip"))) == (
        "m/model.keras: Keras cannot find the class 'Clip': none is registered under that name "
        "(its custom_objects name Clipper); list the file or module that defines it under the "
        "source's imports (imports: [file.py], with "
        "@keras.saving.register_keras_serializable() on the class), or map the name to it with "
        "custom_objects: {Clip: file.py:Clip}"
    )
