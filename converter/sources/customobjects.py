"""A Keras file's own classes: its imports run and its custom objects found before it loads, and
Keras's refusals (a class it cannot find, code it will not run) said in our words.

A ``.keras`` or ``.h5`` file stores a custom layer by name only; the class must be
known when the file loads. ``imports`` run the modules that register classes
with ``register_keras_serializable``; ``custom_objects`` names the classes that
are not registered, for ``load_model(custom_objects=...)``. Both run the
project's code, afresh on every load (see ``converter.sources.precheck``).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from converter.errors import SourceError
from converter.sources.precheck import import_module, load_entry
from converter.spec import KerasSource

# How Keras 3 and tf_keras say that no class (or function) is known by a name.
_LOCATE = re.compile(r"Could not locate (class|function) '([^']+)'")
_UNKNOWN = re.compile(r"Unknown ([a-z][a-z ]*?): '([^']+)'")
_CANNOT = re.compile(r"Cannot deserialize object of type `([^`]+)`")
_UNDESERIALIZED = re.compile(r"<class '(?:[\w.]*\.)?(\w+)'> could not be deserialized properly")
_ENCOUNTERED = "Exception encountered: "


def load_custom_objects(source: KerasSource) -> dict[str, Any]:
    """Run the source's imports, then load its custom objects: name -> class (or function)."""
    for text in source.imports:
        try:
            import_module(text, source.base_dir)
        except SourceError as e:
            raise SourceError(f"{source.path}: imports {text!r}: {e}") from None
    objects = {}
    for name, entry in source.custom_objects:
        try:
            objects[name] = load_entry(entry, source.base_dir, what="class")
        except SourceError as e:
            raise SourceError(f"{source.path}: custom_objects {name}: {e}") from None
    return objects


def explain(source: KerasSource, error: BaseException) -> str | None:
    """What to do about Keras refusing to load ``source``, when it is a refusal we know; else None."""
    text = str(error)
    missing = _missing(text)
    if missing is not None:
        what, name = missing
        return _unknown(source, what, name)
    if "safe_mode=False" in text:
        return _unsafe(source, text)
    classes = _UNDESERIALIZED.findall(text)
    if classes:
        cause = next(iter(text.rsplit(_ENCOUNTERED, 1)[-1].strip().splitlines()), "")
        return (
            f"{source.path}: Keras could not deserialize the class {classes[-1]!r}: {cause}. "
            f"If the class is yours, {_remedy(source, 'class', classes[-1])}; its from_config() "
            "must accept what its get_config() returns"
        )
    return None


def _missing(text: str) -> tuple[str, str] | None:
    """(what, the name Keras looks it up by) when Keras knows no object by that name."""
    found = _LOCATE.search(text)
    if found is not None:
        return found.group(1), _registered_name(text) or found.group(2)
    found = _UNKNOWN.search(text)
    if found is not None:
        return found.group(1), found.group(2)
    found = _CANNOT.search(text)
    if found is not None:
        return "class", found.group(1)
    return None


def _registered_name(text: str) -> str | None:
    """The name Keras 3 looked the object up by (``package>Name`` for a registered class).

    Its message names the class, but its lookup (and so ``custom_objects``) uses the
    registered name, which the object's config at the end of the message holds.
    """
    _, sep, config = text.rpartition("Full object config: ")
    if not sep:
        return None
    try:
        parsed = ast.literal_eval(config.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    name = parsed.get("registered_name") if isinstance(parsed, dict) else None
    return name if isinstance(name, str) else None


def _unknown(source: KerasSource, what: str, name: str) -> str:
    kind = "class" if what in ("class", "layer") else what
    tried = []
    if source.imports:
        tried.append(f"the source's imports, {', '.join(source.imports)}, register none")
    if source.custom_objects:
        given = ", ".join(key for key, _ in source.custom_objects)
        tried.append(f"its custom_objects name {given}")
    note = f" ({'; '.join(tried)})" if tried else ""
    return (
        f"{source.path}: Keras cannot find the {kind} {name!r}: none is registered under "
        f"that name{note}; {_remedy(source, kind, name)}"
    )


def _remedy(source: KerasSource, kind: str, name: str) -> str:
    decorator = "tf_keras" if source.legacy else "keras"
    key = name if re.fullmatch(r"\w+", name) else f"'{name}'"
    return (
        "list the file or module that defines it under the source's imports "
        f"(imports: [file.py], with @{decorator}.saving.register_keras_serializable() on "
        f"the {kind}), or map the name to it with "
        f"custom_objects: {{{key}: file.py:{name.rpartition('>')[2]}}}"
    )


def _unsafe(source: KerasSource, text: str) -> str:
    if "Lambda" in text:
        what = "a Lambda layer whose function is Python code stored in the file"
    elif "vocabulary file" in text:
        what = "a vocabulary file outside the model archive"
    else:
        what = "Python code stored in the file (a lambda)"
    return (
        f"{source.path}: the model holds {what}, which Keras loads only from a file it is "
        "told to trust. If you trust this file, set safe_mode: false under source: "
        "loading the model then runs the code stored in it"
    )
