"""What every question generator returns and how the registry describes a generator.

A generator is a module exporting ``NAME`` (the VSI-Bench ``question_type`` string, or ``localization``), ``Params``
(a ``Strict`` model of its YAML knobs) and ``generate(scene, params, rng, letters) -> list[QAItem]``. Generators are
pure functions of their inputs: the only state they touch is the explicit ``LetterBalancer`` passed in, which keeps
option letters balanced.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from spatialladder.config.base import Strict
from spatialladder.scannet.types import SceneMeta
from spatialladder.vocab import AnswerKind, answer_kind_of_options, vsi_display_name


@dataclass(frozen=True)
class QAItem:
    """One generated question, before it is bound to frames and written as a record.

    ``instance_ids`` lists every instance the answer depends on (visibility rules use it); ``evidence`` holds the
    geometric facts behind the answer, from which the cold-start rationale is written.
    """

    question_type: str
    question: str
    answer: str
    options: tuple[str, ...] | None
    instance_ids: tuple[int, ...]
    categories: tuple[str, ...]
    evidence: Mapping[str, Any] = field(default_factory=dict)
    frame_indices: tuple[int, ...] = ()  # set only by generators that choose their own frame (localization)
    boxes_2d: tuple[tuple[str, tuple[float, float, float, float]], ...] = ()  # localization: (label, xyxy)

    @property
    def answer_kind(self) -> AnswerKind:
        if self.boxes_2d:
            return "grounding"
        return answer_kind_of_options(self.options)


@dataclass(frozen=True)
class GeneratorSpec:
    """A registry entry: a generator's name, parameter model and function."""

    name: str
    params: type[Strict]
    generate: Callable[..., list[QAItem]]

    @classmethod
    def from_module(cls, module: ModuleType) -> GeneratorSpec:
        return cls(name=module.NAME, params=module.Params, generate=module.generate)

    def default_params(self) -> Strict:
        return self.params()


# ----------------------------------------------------------------------------------------------- small helpers


def shown(scene: SceneMeta, category: str) -> str:
    """The name a question, its options and its evidence print for ``category``: VSI-Bench's display name for the
    scene's source (``vocab.VSI_DISPLAY_NAMES``). Instance lookups and ``QAItem.categories`` keep the meta's name."""
    return vsi_display_name(scene.dataset, category)


def subsample(items: list, k: int, rng: np.random.Generator) -> list:
    """At most ``k`` items, chosen uniformly without replacement, in their original order (VSI ``num_subsample``)."""
    if len(items) <= k:
        return list(items)
    keep = np.sort(rng.choice(len(items), size=k, replace=False))
    return [items[i] for i in keep]


def format_decimal(value: float, decimals: int) -> str:
    """Python ``round(value, decimals)`` printed with that many digits ("2.0", "54.1", "282"), as VSI-Bench rounds."""
    rounded = round(float(value), decimals)
    return f"{rounded:.{decimals}f}" if decimals else str(int(rounded))


def unrank_combination(n: int, r: int, rank: int) -> tuple[int, ...]:
    """The ``rank``-th r-combination of range(n) in lexicographic order (``itertools.combinations`` order)."""
    out, start = [], 0
    for slots in range(r, 0, -1):
        for value in range(start, n):
            block = math.comb(n - value - 1, slots - 1)
            if rank < block:
                out.append(value)
                start = value + 1
                break
            rank -= block
    return tuple(out)


def sample_keyed_combinations(
    pools: list[tuple[str, list[str]]], r: int, k: int, rng: np.random.Generator
) -> list[tuple[str, tuple[str, ...]]]:
    """``subsample([(key, c) for key, pool in pools for c in combinations(pool, r)], k, rng)`` without listing them.

    Rel-distance candidates number up to ~10^5 per scene; ranking them lazily keeps generation fast while drawing
    the same uniform sample of candidates.
    """
    sizes = [math.comb(len(pool), r) for _, pool in pools]
    total = sum(sizes)
    if total == 0:
        return []
    ranks = np.arange(total) if total <= k else np.sort(rng.choice(total, size=k, replace=False))
    bounds = np.cumsum(sizes)
    out = []
    for rank in ranks:
        p = int(np.searchsorted(bounds, rank, side="right"))
        local = int(rank) - (int(bounds[p - 1]) if p else 0)
        key, pool = pools[p]
        out.append((key, tuple(pool[i] for i in unrank_combination(len(pool), r, local))))
    return out
