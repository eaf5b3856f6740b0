"""GitHub Actions' ``${{ ... }}`` expressions, as far as a workflow here uses them.

Literals, ``==``, ``!=``, ``!``, ``&&``, ``||`` and parentheses; context properties
(``github.sha``, ``matrix.shard``...); the status functions success(), failure(),
always() and cancelled(). Anything else, an unknown function or a property the
caller did not provide included, is an error rather than GitHub's empty string: a
harness must not quietly run a step with a value it made up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|&&|\|\||[!().])|(?P<name>[A-Za-z_][\w-]*))"
)
STATUS = ("success", "failure", "always", "cancelled")
LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


class ExpressionError(Exception):
    """An expression this emulation cannot evaluate faithfully."""


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


def equal(a: Any, b: Any) -> bool:
    """GitHub's ``==``: strings compare ignoring case; mixed types compare as numbers."""
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if type(a) is type(b):
        return bool(a == b)

    def number(v: Any) -> float:
        try:
            return float(v or 0)
        except ValueError:
            return float("nan")

    return number(a) == number(b)


class _Parser:
    """Recursive descent over the tokens, evaluating as it goes."""

    def __init__(self, text: str, context: Mapping[str, Any], failed: bool) -> None:
        self.text, self.context, self.failed = text, context, failed
        self.tokens: list[tuple[str, str]] = []
        pos, text = 0, text.rstrip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.lastgroup is None:
                raise ExpressionError(f"expression {self.text!r}: cannot read {text[pos:]!r}")
            self.tokens.append((match.lastgroup, match[match.lastgroup]))
            pos = match.end()
        self.pos = 0

    def fail(self, what: str) -> ExpressionError:
        return ExpressionError(f"expression {self.text!r}: {what}")

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens) or expected not in (None, self.tokens[self.pos][1]):
            raise self.fail(f"expected {expected or 'more'}")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def parse(self) -> Any:
        value = self.either()
        if self.pos != len(self.tokens):
            raise self.fail(f"unexpected {self.peek()!r}")
        return value

    def either(self) -> Any:
        value = self.both()
        while self.peek() == "||":
            self.take()
            other = self.both()
            value = value if truthy(value) else other
        return value

    def both(self) -> Any:
        value = self.compare()
        while self.peek() == "&&":
            self.take()
            other = self.compare()
            value = other if truthy(value) else value
        return value

    def compare(self) -> Any:
        value = self.unary()
        if self.peek() in ("==", "!="):
            same = self.take()[1] == "=="
            return equal(value, self.unary()) == same
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, word = self.take()
        if word == "(":
            value = self.either()
            self.take(")")
            return value
        if kind == "str":
            return word[1:-1].replace("''", "'")
        if kind == "num":
            return float(word) if "." in word else int(word)
        if kind != "name":
            raise self.fail(f"unexpected {word!r}")
        if word in LITERALS:
            return LITERALS[word]
        if self.peek() == "(":
            self.take()
            self.take(")")
            if word not in STATUS:
                raise self.fail(f"no function {word}() here")
            return {"success": not self.failed, "failure": self.failed, "always": True}.get(
                word, False
            )
        if word not in self.context:
            raise self.fail(f"no context {word!r} here")
        value, path = self.context[word], word
        while self.peek() == ".":
            self.take()
            name = self.take()[1]
            path += "." + name
            if not isinstance(value, Mapping) or name not in value:
                raise self.fail(f"{path} is not emulated")
            value = value[name]
        return value


def evaluate(expression: str, context: Mapping[str, Any], failed: bool = False) -> Any:
    """The value of one expression (the text inside ``${{ }}``); ``failed``: a step failed."""
    return _Parser(expression, context, failed).parse()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def interpolate(text: Any, context: Mapping[str, Any]) -> str:
    """``text`` with each ``${{ ... }}`` replaced by its value, as a string.

    A value YAML read as a boolean or a number is shown as GitHub shows it (``true``).
    """
    if not isinstance(text, str):
        return _text(text)
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: _text(evaluate(m[1], context)), str(text))


def condition(text: Any, context: Mapping[str, Any], failed: bool) -> bool:
    """An ``if:`` (bare, or one ``${{ }}``), as ``success() && (...)`` unless it checks status."""
    if text is None:
        return not failed
    text = str(text).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not any(re.search(rf"\b{name}\s*\(", text) for name in STATUS):
        text = f"success() && ({text})"
    return truthy(evaluate(text, context, failed))
