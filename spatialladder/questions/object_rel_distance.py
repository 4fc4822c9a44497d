"""Relative distance: which of four categories is closest to a unique object (VSI ``get_obj_rel_distance``).

Candidates (primary, 4 choices) are subsampled *before* distances are computed, as VSI-Bench does. A candidate is
rejected when the closest choice touches the primary (< 0.15 m) or when two choice distances are within the
ambiguity threshold: 0.15 m, or 0.30 m in rooms over 40 m² (PAPER). VSI's V1 script computed the room-dependent
threshold but then used 0.15 m always; ``ambiguity_rule: v3r_v1`` reproduces that (docs/fidelity.md).
"""

from __future__ import annotations

from itertools import combinations
from typing import Literal

import numpy as np
from pydantic import Field

from spatialladder.config.base import Strict
from spatialladder.questions.base import QAItem, sample_keyed_combinations, shown
from spatialladder.questions.options import LetterBalancer, lettered, place_answer
from spatialladder.scannet.geometry import category_distance_m
from spatialladder.scannet.types import SceneMeta

NAME = "object_rel_distance"
TEMPLATE = (
    "Measuring from the closest point of each object, which of these objects ({choice_a}, {choice_b}, "
    "{choice_c}, {choice_d}) is the closest to the {category}?\n"
    "If there are multiple instances of an object category, measure to the closest."
)


class Params(Strict):
    max_per_scene: int = Field(6, ge=0)
    touching_m: float = Field(0.15, ge=0.0)
    ambiguity_m: float = Field(0.15, ge=0.0)
    large_room_ambiguity_m: float = Field(0.30, ge=0.0)
    large_room_m2: float = Field(40.0, ge=0.0)
    ambiguity_rule: Literal["paper", "v3r_v1"] = "paper"


def ambiguity_threshold_m(scene: SceneMeta, params: Params) -> float:
    if params.ambiguity_rule == "paper" and scene.room_size_m2 > params.large_room_m2:
        return params.large_room_ambiguity_m
    return params.ambiguity_m


def generate(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    present = [c for c in scene.categories if scene.instances_of(c)]
    pools = [(primary, [c for c in present if c != primary]) for primary in scene.unique_categories]
    candidates = sample_keyed_combinations(pools, 4, params.max_per_scene, rng)
    threshold = ambiguity_threshold_m(scene, params)
    items = []
    for primary, choices in candidates:
        distances = {c: category_distance_m(scene, primary, c) for c in choices}
        ordered = sorted(distances.values())
        if ordered[0] < params.touching_m:
            continue
        if any(b - a <= threshold for a, b in combinations(ordered, 2)):
            continue
        closest = min(choices, key=distances.__getitem__)
        values, letter = place_answer(closest, [c for c in choices if c != closest], NAME, letters, rng)
        involved = [primary, *values]
        names = [shown(scene, c) for c in values]
        items.append(
            QAItem(
                question_type=NAME,
                question=TEMPLATE.format(
                    choice_a=names[0],
                    choice_b=names[1],
                    choice_c=names[2],
                    choice_d=names[3],
                    category=shown(scene, primary),
                ),
                answer=letter,
                options=lettered(names),
                instance_ids=tuple(i.instance_id for c in involved for i in scene.instances_of(c)),
                categories=tuple(involved),
                evidence={
                    "primary": shown(scene, primary),
                    "distances_m": {shown(scene, c): distances[c] for c in values},
                    "closest": shown(scene, closest),
                },
            )
        )
    return items
