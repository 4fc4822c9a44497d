"""Object size: a unique object's longest box extent in whole centimetres (VSI ``round(max(axesLengths)*100)``)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from spatialladder.config.base import Strict
from spatialladder.questions.base import QAItem, format_decimal, shown, subsample
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.types import SceneMeta

NAME = "object_size_estimation"
TEMPLATE = (
    "What is the length of the longest dimension (length, width, or height) of the {category}, measured in centimeters?"
)


class Params(Strict):
    max_per_scene: int = Field(6, ge=0)


def generate(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    items = []
    for category in scene.unique_categories:
        (instance,) = scene.instances_of(category)
        size_cm = instance.box.longest_extent_m * 100.0
        answer = format_decimal(size_cm, 0)
        if int(answer) <= 0:
            continue
        items.append(
            QAItem(
                question_type=NAME,
                question=TEMPLATE.format(category=shown(scene, category)),
                answer=answer,
                options=None,
                instance_ids=(instance.instance_id,),
                categories=(category,),
                evidence={
                    "category": shown(scene, category),
                    "extents_m": [float(x) for x in instance.box.axes_lengths],
                    "size_cm": size_cm,
                },
            )
        )
    return subsample(items, params.max_per_scene, rng)
