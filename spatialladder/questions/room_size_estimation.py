"""Room size: the scene's floor area in m², one decimal, one question per scene (VSI ``round(room_size, 1)``)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from spatialladder.config.base import Strict
from spatialladder.questions.base import QAItem, format_decimal
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.types import SceneMeta

NAME = "room_size_estimation"
# The space before "\n" is in VSI's generator string (V3R question_templates.py), kept on purpose.
TEMPLATE = (
    "What is the size of this room (in square meters)? \n"
    "If multiple rooms are shown, estimate the size of the combined space."
)


class Params(Strict):
    max_per_scene: int = Field(1, ge=0, le=1)
    min_area_m2: float = Field(1.0, ge=0.0)


def generate(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    area = float(scene.room_size_m2)
    if params.max_per_scene == 0 or not np.isfinite(area) or area < params.min_area_m2:
        return []
    return [
        QAItem(
            question_type=NAME,
            question=TEMPLATE,
            answer=format_decimal(area, 1),
            options=None,
            instance_ids=(),
            categories=(),
            evidence={"area_m2": area},
        )
    ]
