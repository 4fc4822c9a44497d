"""Every generator prints VSI-Bench's display name for the scene's source (``questions.base.shown``).

Hand-built ScanNet++ scenes with a ``coat hanger`` (VSI-Bench says "coat rack", docs/fidelity.md "VSI wording"):
the text, options and cold-start rationale print "coat rack", while ``categories`` and the answers stay those of
the meta's coat-hanger boxes. The same scene marked ScanNet keeps every name as it is.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatialladder.data.cot import solution, solution_answer
from spatialladder.questions import get_generator, localization
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.types import InstanceView
from spatialladder.vocab import VSI_DISPLAY_NAMES, vsi_display_name

SMALL = (0.2, 0.2, 0.2)


def run(name, scene, **params):
    spec = get_generator(name)
    return spec.generate(scene, spec.params(**params), np.random.default_rng(0), LetterBalancer())


def option_value(item):
    (text,) = [o for o in item.options if o.startswith(item.answer + ". ")]
    return text[3:]


def as_source(scene, dataset):
    return dataclasses.replace(scene, dataset=dataset)


def test_display_name_table():
    assert vsi_display_name("scannetpp", "coat hanger") == "coat rack"
    assert vsi_display_name("scannet", "coat hanger") == "coat hanger"  # renames belong to their source
    assert vsi_display_name("scannetpp", "chair") == "chair"
    assert vsi_display_name("3rscan", "coat hanger") == "coat hanger"  # a source without a table keeps its names
    assert set(VSI_DISPLAY_NAMES) == {"scannet", "scannetpp", "arkitscenes"}
    assert VSI_DISPLAY_NAMES["scannet"] == {}  # ScanNet's released names are VSI's (test_vsi_release.py)


@pytest.fixture
def room(make_scene):
    """Coat hanger at the origin, door 2 m ahead (+y), sofa ahead to the right, two chairs behind (-y)."""
    return make_scene(
        [
            ("coat hanger", (0, 0, 0.5), SMALL),
            ("door", (0, 2, 0.5), SMALL),
            ("sofa", (2, 1, 0.5), SMALL),
            ("chair", (-1, -3, 0.5), SMALL),
            ("chair", (1, -3, 0.5), SMALL),
        ],
        first_appearance_s={"coat hanger": 1.0, "door": 3.0, "sofa": 5.0, "chair": 7.0},
    )


def test_scannet_scene_keeps_the_meta_name(room):
    """The same objects in a ScanNet scene: nothing is renamed."""
    (item,) = [i for i in run("object_size_estimation", room, max_per_scene=10) if "coat" in i.question]
    assert "of the coat hanger," in item.question


def test_size_and_distance_print_the_coat_rack(room):
    scene = as_source(room, "scannetpp")
    sizes = {i.question: i for i in run("object_size_estimation", scene, max_per_scene=10)}
    item = sizes[
        "What is the length of the longest dimension (length, width, or height) of the coat rack, measured in "
        "centimeters?"
    ]
    assert item.answer == "20" and item.categories == ("coat hanger",) and item.evidence["category"] == "coat rack"
    distances = {i.question: i for i in run("object_abs_distance", scene, max_per_scene=10)}
    item = distances[
        "Measuring from the closest point of each object, what is the direct distance between the door and the "
        "coat rack (in meters)?"
    ]
    assert item.answer == "1.8"  # centres 2 m apart, 0.2 m cubes: gap 1.8 m
    assert item.categories == ("door", "coat hanger") and "coat rack" in solution(item)


def test_counting_prints_the_display_name(make_scene):
    scene = as_source(
        make_scene([("coat hanger", (0, 0, 0.5), SMALL), ("coat hanger", (2, 0, 0.5), SMALL)]), "scannetpp"
    )
    (item,) = run("object_counting", scene)
    assert (item.question, item.answer, item.categories) == (
        "How many coat rack(s) are in this room?",
        "2",
        ("coat hanger",),
    )
    assert "2 separate coat rack instances" in solution(item)


def test_relative_distance_answer_is_the_coat_rack(make_scene):
    scene = as_source(
        make_scene(
            [
                ("table", (0, 0, 0.5), SMALL),
                ("coat hanger", (1.0, 0, 0.5), SMALL),  # gap 0.8 m: the closest
                ("door", (0, 2.0, 0.5), SMALL),  # 1.8 m
                ("sofa", (-3.0, 0, 0.5), SMALL),  # 2.8 m
                ("bed", (0, -4.0, 0.5), SMALL),  # 3.8 m
            ]
        ),
        "scannetpp",
    )
    (item,) = [i for i in run("object_rel_distance", scene, max_per_scene=100) if i.categories[0] == "table"]
    assert option_value(item) == "coat rack" and "coat rack" in item.question
    assert sorted(o[3:] for o in item.options) == ["bed", "coat rack", "door", "sofa"]
    assert item.evidence["closest"] == "coat rack" and solution_answer(solution(item)) == item.answer


def test_direction_appearance_and_route_print_the_coat_rack(room):
    scene = as_source(room, "scannetpp")
    hard = run("object_rel_direction_hard", scene, max_triples=100, max_per_scene=100)
    (item,) = [i for i in hard if i.categories == ("coat hanger", "door", "sofa")]
    assert item.question.startswith("If I am standing by the coat rack and facing the door, is the sofa to my")
    assert option_value(item) == "front-right" and solution_answer(solution(item)) == item.answer

    (order,) = run("obj_appearance_order", scene)
    assert option_value(order) == "coat rack, door, sofa, chair"
    assert "coat rack" in order.question and "coat hanger" in order.categories
    assert solution_answer(solution(order)) == order.answer

    routes = run("route_planning", scene, max_blanks=1, max_per_scene=10)
    assert routes and all("coat hanger" not in i.question for i in routes)
    named = [i for i in routes if "coat hanger" in i.categories]
    assert named and all("coat rack" in i.question for i in named)


def test_localization_labels_print_the_coat_rack(room, make_frame):
    frame = make_frame(0, {0: InstanceView(100, 0.9, (10, 10, 200, 200))})
    scene = dataclasses.replace(as_source(room, "scannetpp"), frames=(frame,))
    (item,) = localization.generate(scene, localization.Params(), np.random.default_rng(0), LetterBalancer())
    assert item.question == "Where is the coat rack in the image?"
    assert item.boxes_2d == (("coat rack", (10.0, 10.0, 200.0, 200.0)),) and item.categories == ("coat hanger",)
