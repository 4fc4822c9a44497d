"""Generators on VSI-Bench's released ScanNet meta-info give the questions and answers VSI-Bench published.

Expected values are VSI-Bench test-set questions on scene0222_01 (issue "Exact reproduction"): the absolute
distances lamp–nightstand 0.4 m and fan–radiator 0.5 m, and "If I am standing by the lamp and facing the radiator,
is the fan to my front-left, front-right, back-left, or back-right?" with answer front-right.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatialladder.questions import get_generator
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.meta import load_meta_file

ALL = 10**6  # caps high enough to list every candidate a generator accepts, before per-scene subsampling


@pytest.fixture(scope="module")
def scene0222(shared_data):
    return load_meta_file(shared_data / "vsibench_meta_scannet_val.json")["scene0222_01"]


def generate(name, scene, **params):
    spec = get_generator(name)
    return spec.generate(scene, spec.params(**params), np.random.default_rng(0), LetterBalancer())


def test_categories_keep_the_release_order(scene0222):
    assert scene0222.categories[:6] == ["bed", "chair", "window", "refrigerator", "pillow", "lamp"]
    assert scene0222.unique_categories == ["lamp", "nightstand", "fan", "radiator"]


def test_absolute_distances_and_question_order(scene0222):
    """VSI pairs each unique category with the unique ones listed before it: object1 is the later one."""
    items = {i.question: i.answer for i in generate("object_abs_distance", scene0222, max_per_scene=ALL)}
    template = (
        "Measuring from the closest point of each object, what is the direct distance between the {} and the {} "
        "(in meters)?"
    )
    assert items[template.format("nightstand", "lamp")] == "0.4"
    assert items[template.format("radiator", "fan")] == "0.5"
    assert len(items) == 6  # all C(4, 2) pairs are ≥ 0.2 m apart


def test_hard_direction_question_is_generated_with_vsibench_answer(scene0222):
    items = generate("object_rel_direction_hard", scene0222, max_triples=ALL, max_per_scene=ALL)
    found = [i for i in items if i.categories == ("lamp", "radiator", "fan")]
    assert len(found) == 1
    (item,) = found
    assert item.question.startswith(
        "If I am standing by the lamp and facing the radiator, is the fan to my front-left, front-right, back-left"
    )
    assert dict(o.split(". ", 1) for o in item.options)[item.answer] == "front-right"


def test_alphabetical_enumeration_cannot_reach_it(scene0222):
    """The role orders VSI tries per triple depend on the category order: sorted names reach the other half."""
    alphabetical = dataclasses.replace(scene0222, object_counts=dict(sorted(scene0222.object_counts.items())))
    items = generate("object_rel_direction_hard", alphabetical, max_triples=ALL, max_per_scene=ALL)
    assert ("lamp", "radiator", "fan") not in {i.categories for i in items}
