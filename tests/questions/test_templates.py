"""Template strings pinned to vsibench-spbench-scannet.md §1.3 (V3R generator strings) and the registry."""

from __future__ import annotations

import pytest

from spatialladder.errors import UnknownNameError
from spatialladder.questions import (
    GENERATORS,
    get_generator,
    obj_appearance_order,
    object_abs_distance,
    object_counting,
    object_rel_direction,
    object_rel_distance,
    object_size_estimation,
    room_size_estimation,
    route_planning,
)
from spatialladder.vocab import SPLD_QUESTION_TYPES

REFERENCE = {
    "count": "How many {category}(s) are in this room?",
    "size": "What is the length of the longest dimension (length, width, or height) of the {category}, measured in "
    "centimeters?",
    "room": "What is the size of this room (in square meters)? \nIf multiple rooms are shown, estimate the size of "
    "the combined space.",
    "abs": "Measuring from the closest point of each object, what is the direct distance between the {object1} and "
    "the {object2} (in meters)?",
    "rel": "Measuring from the closest point of each object, which of these objects ({choice_a}, {choice_b}, "
    "{choice_c}, {choice_d}) is the closest to the {category}?\nIf there are multiple instances of an object "
    "category, measure to the closest.",
    "hard": "If I am standing by the {positioning_object} and facing the {orienting_object}, is the "
    "{querying_object} to my front-left, front-right, back-left, or back-right?\nThe directions refer to the "
    "quadrants of a Cartesian plane (if I am standing at the origin and facing along the positive y-axis).",
    "medium": "If I am standing by the {positioning_object} and facing the {orienting_object}, is the "
    "{querying_object} to my left, right, or back?\nAn object is to my back if I would have to turn at least 135 "
    "degrees in order to face it.",
    "easy": "If I am standing by the {positioning_object} and facing the {orienting_object}, is the "
    "{querying_object} to the left or the right of the {orienting_object}?",
    "order": "What will be the first-time appearance order of the following categories in the video: {choice_a}, "
    "{choice_b}, {choice_c}, {choice_d}?",
    "route": "You are a robot beginning at the {start} facing the {facing}. You want to navigate to the {dest}. You "
    "will perform the following actions (Note: for each [please fill in], choose either 'turn back,' 'turn left,' "
    "or 'turn right.'): {actions} You have reached the final destination.",
}


def test_templates_match_reference():
    assert object_counting.TEMPLATE == REFERENCE["count"]
    assert object_size_estimation.TEMPLATE == REFERENCE["size"]
    assert room_size_estimation.TEMPLATE == REFERENCE["room"]
    assert object_abs_distance.TEMPLATE == REFERENCE["abs"]
    assert object_rel_distance.TEMPLATE == REFERENCE["rel"]
    assert object_rel_direction.TEMPLATES == {k: REFERENCE[k] for k in ("hard", "medium", "easy")}
    assert obj_appearance_order.TEMPLATE == REFERENCE["order"]
    assert route_planning.TEMPLATE == REFERENCE["route"]


def test_registry_names_are_vsi_question_types():
    assert set(GENERATORS) == set(SPLD_QUESTION_TYPES) | {"localization"}
    for name, spec in GENERATORS.items():
        assert spec.name == name
        spec.default_params()  # every generator has complete defaults


def test_unknown_generator_lists_choices():
    with pytest.raises(UnknownNameError, match="valid names: localization, obj_appearance_order"):
        get_generator("object_count")


def test_training_question_types_follow_official_schema():
    """official-spatialladder.md §2.3 / §7: the seven SpatialLadder-26k names, byte for byte; route planning is ours."""
    assert SPLD_QUESTION_TYPES == {
        "object_rel_direction_easy": "relative direction",
        "object_rel_direction_medium": "relative direction",
        "object_rel_direction_hard": "relative direction",
        "object_rel_distance": "relative distance",
        "obj_appearance_order": "appearance order",
        "object_abs_distance": "absolute distance",
        "object_size_estimation": "object size",
        "object_counting": "object count",
        "room_size_estimation": "room size",
        "route_planning": "route planning",
    }
    from typing import get_args

    from spatialladder.vocab import SpldQuestionType

    assert set(get_args(SpldQuestionType)) == set(SPLD_QUESTION_TYPES.values())
