"""Absolute distance between two unique objects, closest points, metres with one decimal; pairs under 0.2 m skipped."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from spatialladder.config.base import Strict
from spatialladder.questions.base import QAItem, format_decimal, shown, subsample
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.geometry import category_distance_m
from spatialladder.scannet.types import SceneMeta

NAME = "object_abs_distance"
TEMPLATE = (
    "Measuring from the closest point of each object, what is the direct distance between the {object1} "
    "and the {object2} (in meters)?"
)


class Params(Strict):
    max_per_scene: int = Field(6, ge=0)
    min_distance_m: float = Field(0.2, ge=0.0)  # VSI skips pairs whose rounded answer is below 0.2 m


def generate(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    """Every pair of unique categories, in VSI-Bench's order (``get_obj_abs_distance_qa.py``): each category, in
    ``object_counts`` order, is ``object1`` against every unique category listed before it (``object2``)."""
    items = []
    uniques = scene.unique_categories
    for k, first in enumerate(uniques):
        for second in uniques[:k]:
            distance = category_distance_m(scene, first, second)
            answer = format_decimal(distance, 1)
            if float(answer) < params.min_distance_m:
                continue
            name1, name2 = shown(scene, first), shown(scene, second)
            (ia,) = scene.instances_of(first)
            (ib,) = scene.instances_of(second)
            items.append(
                QAItem(
                    question_type=NAME,
                    question=TEMPLATE.format(object1=name1, object2=name2),
                    answer=answer,
                    options=None,
                    instance_ids=(ia.instance_id, ib.instance_id),
                    categories=(first, second),
                    evidence={"object1": name1, "object2": name2, "distance_m": distance},
                )
            )
    return subsample(items, params.max_per_scene, rng)
