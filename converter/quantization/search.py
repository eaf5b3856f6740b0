"""The search behind ``keep_float: auto``: the fewest layers kept in float that meet the budget.

Pure: a trial (quantize with these layers kept in float, then measure) is a
function handed in, so the search is tested in milliseconds without TensorFlow.
It starts from the per-layer ranking, worst layer first, and bounds the trials:

1. all layers quantized: when that meets the budget, nothing is kept in float;
2. bisect on how many of the worst-ranked layers are kept in float: the
   smallest count that meets the budget, in ceil(log2(layers)) trials (one
   more when only keeping every layer in float was left to try);
3. try to put each chosen layer back, least suspect first, except the last
   one the bisection added (without it the budget was already missed).

With the ranking trial, a search that keeps ``k`` layers in float and finds
nothing to put back uses at most 2 + ceil(log2(layers)) + k conversions. The
bisection assumes that more layers in float never hurt; the third step
recovers when the ranking put an innocent layer before the guilty ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from converter.spec import Goal


@dataclass(frozen=True)
class Trial:
    """One set of layers kept in float, and the figures its model reached."""

    layers: tuple[str, ...]
    figures: Mapping[str, float | None]  # by goal figure

    def meets(self, goals: Sequence[Goal]) -> bool:
        return all(goal.met_by(self.figures.get(goal.figure)) for goal in goals)


@dataclass
class Found:
    """What the search found: the layers to keep in float, or the best it reached."""

    goals: tuple[Goal, ...]
    layers: tuple[str, ...]  # every layer, worst-ranked first
    trials: list[Trial] = field(default_factory=list)
    chosen: tuple[str, ...] | None = None  # None: no set met the goals

    @property
    def met(self) -> bool:
        return self.chosen is not None

    @property
    def best(self) -> Trial | None:
        """The trial that met the goals with the fewest layers, else the one that came closest."""
        if self.chosen is not None:
            return next(t for t in self.trials if t.layers == self.chosen)
        best: Trial | None = None
        goal = self.missed
        for trial in self.trials:
            if best is None or goal.closer(
                trial.figures.get(goal.figure), best.figures.get(goal.figure)
            ):
                best = trial
        return best

    @property
    def missed(self) -> Goal:
        """The goal a failed search reports: the first one its closest trial misses."""
        last = self.trials[-1] if self.trials else None
        for goal in self.goals:
            if last is None or not goal.met_by(last.figures.get(goal.figure)):
                return goal
        return self.goals[0]


def search(
    layers: Sequence[str],
    goals: Sequence[Goal],
    trial: Callable[[tuple[str, ...]], Mapping[str, float | None]],
) -> Found:
    """The smallest set of ``layers`` (ranked worst first) whose float keeping meets ``goals``.

    ``trial(kept)`` quantizes the model with ``kept`` in float and returns its
    figures by name. Each distinct set is tried at most once.
    """
    found = Found(tuple(goals), tuple(layers))
    tried: dict[tuple[str, ...], Trial] = {}

    def attempt(kept: tuple[str, ...]) -> bool:
        if kept not in tried:
            tried[kept] = Trial(kept, dict(trial(kept)))
            found.trials.append(tried[kept])
        return tried[kept].meets(goals)

    ranked = tuple(layers)
    if attempt(()):
        found.chosen = ()
        return found
    low, high = 0, len(ranked)  # low fails; high is assumed to pass until tried
    while high - low > 1:
        middle = (low + high) // 2
        if attempt(ranked[:middle]):
            high = middle
        else:
            low = middle
    if not ranked or not attempt(ranked[:high]):
        return found
    chosen = list(ranked[:high])
    for layer in reversed(ranked[: high - 1]):  # the last one added is needed: see above
        fewer = tuple(name for name in chosen if name != layer)
        if attempt(fewer):
            chosen = list(fewer)
    found.chosen = tuple(chosen)
    return found


def bound(layers: int, chosen: int) -> int:
    """The most conversions a search may use (the ranking's included) that puts nothing back."""
    return 2 + (math.ceil(math.log2(layers)) if layers > 1 else 0) + chosen
