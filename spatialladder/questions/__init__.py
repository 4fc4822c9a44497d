"""Question generators, one module per VSI-Bench question type, in an explicit registry.

``GENERATORS`` maps the VSI ``question_type`` string (or ``localization``) to a ``GeneratorSpec``; its keys are
``spatialladder.vocab.GENERATOR_NAMES`` (``tests/test_vocab.py`` keeps the two equal).
"""

from __future__ import annotations

from spatialladder.errors import UnknownNameError
from spatialladder.questions import (
    localization,
    obj_appearance_order,
    object_abs_distance,
    object_counting,
    object_rel_direction,
    object_rel_distance,
    object_size_estimation,
    room_size_estimation,
    route_planning,
)
from spatialladder.questions.base import GeneratorSpec, QAItem

GENERATORS: dict[str, GeneratorSpec] = {
    object_counting.NAME: GeneratorSpec.from_module(object_counting),
    object_size_estimation.NAME: GeneratorSpec.from_module(object_size_estimation),
    room_size_estimation.NAME: GeneratorSpec.from_module(room_size_estimation),
    object_abs_distance.NAME: GeneratorSpec.from_module(object_abs_distance),
    object_rel_distance.NAME: GeneratorSpec.from_module(object_rel_distance),
    object_rel_direction.SPECS[0].name: object_rel_direction.SPECS[0],
    object_rel_direction.SPECS[1].name: object_rel_direction.SPECS[1],
    object_rel_direction.SPECS[2].name: object_rel_direction.SPECS[2],
    obj_appearance_order.NAME: GeneratorSpec.from_module(obj_appearance_order),
    route_planning.NAME: GeneratorSpec.from_module(route_planning),
    localization.NAME: GeneratorSpec.from_module(localization),
}


def get_generator(name: str) -> GeneratorSpec:
    """The registered generator called ``name``; unknown names list the valid ones."""
    if name not in GENERATORS:
        raise UnknownNameError("question generator", name, list(GENERATORS))
    return GENERATORS[name]


__all__ = ["GENERATORS", "GeneratorSpec", "QAItem", "get_generator"]
