"""Localization (stage-1 grounding): per frame, the objects whose category occurs once in that frame.

An object qualifies when it is the only visible instance of its category in the frame, at least
``min_visible_fraction`` of its in-view points pass the depth test, and its 2D box is at least ``min_box_px``
on each side. The question names 1..``max_objects`` such categories; the answer is one Qwen2.5-VL grounding box
per category in the colour frame's pixels (the dataset builder rescales to the stored image). SpatialLadder's
referring-question wording is unpublished; ``TEMPLATES`` are ours (docs/fidelity.md).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from spatialladder.config.base import Strict
from spatialladder.questions.base import QAItem, shown, subsample
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.types import FrameInfo, SceneMeta

NAME = "localization"
TEMPLATES = {1: "Where is the {0} in the image?", 2: "Where are the {0} and the {1} in the image?"}
TEMPLATE_MANY = "Where are the {head}, and the {last} in the image?"


class Params(Strict):
    max_per_scene: int = Field(6, ge=0)
    max_objects: int = Field(3, ge=1)
    min_visible_fraction: float = Field(0.5, ge=0.0, le=1.0)
    min_box_px: float = Field(20.0, ge=0.0)


def question_text(names: list[str]) -> str:
    if len(names) in TEMPLATES:
        return TEMPLATES[len(names)].format(*names)
    return TEMPLATE_MANY.format(head=", the ".join(names[:-1]), last=names[-1])


def groundable(scene: SceneMeta, frame: FrameInfo, params: Params) -> list[tuple[str, int]]:
    """(category, instance_id) of the objects in ``frame`` that a referring question can name unambiguously."""
    by_category: dict[str, list[int]] = {}
    category_of = {i.instance_id: i.category for i in scene.instances}
    for instance_id in frame.views:
        if instance_id in category_of:
            by_category.setdefault(category_of[instance_id], []).append(instance_id)
    out = []
    for category in sorted(by_category):
        ids = by_category[category]
        if len(ids) != 1:
            continue
        view = frame.views[ids[0]]
        box = view.bbox_2d
        if view.visible_fraction < params.min_visible_fraction or box is None:
            continue
        if min(box[2] - box[0], box[3] - box[1]) < params.min_box_px:
            continue
        out.append((category, ids[0]))
    return out


def generate(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    frames = [(f, groundable(scene, f, params)) for f in scene.frames]
    frames = [(f, objs) for f, objs in frames if objs]
    items = []
    for frame, objects in subsample(frames, params.max_per_scene, rng):
        k = int(rng.integers(1, min(params.max_objects, len(objects)) + 1))
        chosen = [objects[i] for i in np.sort(rng.choice(len(objects), size=k, replace=False))]
        names = [shown(scene, c) for c, _ in chosen]
        boxes = tuple((shown(scene, c), tuple(float(x) for x in frame.views[i].bbox_2d)) for c, i in chosen)
        items.append(
            QAItem(
                question_type=NAME,
                question=question_text(names),
                answer="",
                options=None,
                instance_ids=tuple(i for _, i in chosen),
                categories=tuple(c for c, _ in chosen),
                evidence={"frame_index": frame.frame_index},
                frame_indices=(frame.frame_index,),
                boxes_2d=boxes,
            )
        )
    return items
