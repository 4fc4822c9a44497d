"""Object counting: "How many {category}(s) are in this room?" for every category with at least 2 instances.

VSI-Bench rule (§1.5): categories seen once are not asked; the answer is the trusted ``object_counts`` value.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from spatialladder.config.base import Strict
from spatialladder.questions.base import QAItem, shown, subsample
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.types import SceneMeta

NAME = "object_counting"
TEMPLATE = "How many {category}(s) are in this room?"


class Params(Strict):
    max_per_scene: int = Field(6, ge=0)
    min_count: int = Field(2, ge=1)


def generate(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    items = []
    for category in scene.categories:
        count = scene.object_counts[category]
        instances = scene.instances_of(category)
        if count < params.min_count or not instances:
            continue
        items.append(
            QAItem(
                question_type=NAME,
                question=TEMPLATE.format(category=shown(scene, category)),
                answer=str(count),
                options=None,
                instance_ids=tuple(i.instance_id for i in instances),
                categories=(category,),
                evidence={"category": shown(scene, category), "count": count},
            )
        )
    return subsample(items, params.max_per_scene, rng)
