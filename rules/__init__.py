"""Build rules: YAML manifests become incremental doit tasks. Never imports TensorFlow.

In a dodo.py: ``globals().update(rules.doit_tasks(__file__))``.
"""

from __future__ import annotations

from rules.loader import doit_tasks

__all__ = ["doit_tasks"]
