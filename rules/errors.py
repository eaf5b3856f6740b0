"""The rules' exception family: manifest and project problems, each pointing into the user's file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: where (file, line, key path) and what."""

    file: str
    line: int | None
    keys: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        keys = " -> ".join(self.keys)
        return f"{where}: {keys}: {self.message}" if keys else f"{where}: {self.message}"


class RulesError(Exception):
    """A user mistake in the project's configuration; the message is for the user."""


class ManifestError(RulesError):
    """Every problem found in the project's manifests, reported together."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the manifests:"
        super().__init__("\n".join([heading, *(f"  {p}" for p in problems)]))
