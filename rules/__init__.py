"""Build rules: YAML manifests become incremental doit tasks. Never imports TensorFlow.

In a dodo.py: ``globals().update(rules.doit_tasks(__file__))``; a project's own task
that must run in a toolchain (training a PyTorch model, say) takes its action from
``rules.in_toolchain(__file__, "pytorch", "train.py")``.

The face doit loads is ``loader`` (DOIT_CONFIG and the task creators), ``tasks``
(validated manifests -> task dicts), ``watch`` and ``errors``; its rooms, top to
bottom (each may import only those below it; pyproject's import contracts check
it): ``actions`` (what tasks run, thin), ``execute`` (where a conversion runs)
and ``console`` (what a run prints), ``summary``, ``report``, ``fleet``, ``build``,
``cache``, ``manifest``, ``project``.
"""

from __future__ import annotations

from rules.actions.toolchains import in_toolchain
from rules.loader import doit_tasks

__all__ = ["doit_tasks", "in_toolchain"]
