"""doit's up-to-date checks as small callable objects, the way doit's own ``config_changed`` is.

doit calls an ``uptodate`` object with the task when its signature's first
parameter is named ``task``, and reads that signature for every task on every
run: each check states it once, as a class attribute, so the lookup is free.
"""

from __future__ import annotations

import inspect
from typing import ClassVar


class UpToDate:
    """Base of our checks: ``check(task)`` is True when the task need not run."""

    __signature__: ClassVar[inspect.Signature] = inspect.Signature(
        [inspect.Parameter("task", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    )

    def __call__(self, task: object) -> bool:
        raise NotImplementedError
