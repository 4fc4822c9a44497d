"""Counting, size, room size and absolute distance on boxes with hand-computed answers."""

from __future__ import annotations

from spatialladder.questions import get_generator
from spatialladder.questions.options import LetterBalancer


def run(name, scene, rng, **params):
    spec = get_generator(name)
    return spec.generate(scene, spec.params(**params), rng, LetterBalancer())


def test_counting_asks_only_categories_seen_twice(make_scene, rng):
    scene = make_scene(
        [
            ("chair", (0, 0, 0.5), (0.5, 0.5, 1.0)),
            ("chair", (2, 0, 0.5), (0.5, 0.5, 1.0)),
            ("table", (1, 2, 0.4), (1.2, 0.6, 0.8)),
        ]
    )
    (item,) = run("object_counting", scene, rng)
    assert item.question == "How many chair(s) are in this room?"
    assert item.answer == "2" and item.options is None and item.answer_kind == "na"
    assert item.instance_ids == (0, 1)


def test_counting_trusts_object_counts_over_box_lists(make_scene, rng):
    scene = make_scene([("window", (0, 0, 1), (1, 0.1, 1)), ("window", (3, 0, 1), (1, 0.1, 1))], counts={"window": 3})
    (item,) = run("object_counting", scene, rng)
    assert item.answer == "3"


def test_size_is_longest_extent_in_whole_cm_for_unique_objects(make_scene, rng):
    scene = make_scene(
        [
            ("table", (0, 0, 0.4), (0.6, 1.234, 0.8)),
            ("chair", (2, 0, 0.5), (0.5, 0.5, 1.0)),
            ("chair", (3, 0, 0.5), (0.5, 0.5, 1.0)),
        ]
    )
    (item,) = run("object_size_estimation", scene, rng)
    assert item.question.endswith("of the table, measured in centimeters?")
    assert item.answer == "123"


def test_room_size_one_decimal(make_scene, rng):
    (item,) = run("room_size_estimation", make_scene([], room_size_m2=23.46), rng)
    assert item.answer == "23.5"
    assert run("room_size_estimation", make_scene([], room_size_m2=0.5), rng) == []


def test_abs_distance_closest_points_and_touching_pair_skipped(make_scene, rng):
    scene = make_scene(
        [
            ("table", (0, 0, 0.5), (1.0, 1.0, 1.0)),  # x in [-0.5, 0.5]
            ("lamp", (2.12, 0, 0.5), (0.5, 0.5, 1.0)),  # x in [1.87, 2.37] → gap 1.37 m
            ("sofa", (0, 0.6, 0.5), (1.0, 0.1, 1.0)),  # y in [0.55, 0.65] → 0.05 m from the table: skipped
        ]
    )
    items = {frozenset(i.categories): i for i in run("object_abs_distance", scene, rng)}
    assert set(items) == {frozenset({"table", "lamp"}), frozenset({"lamp", "sofa"})}
    table_lamp = items[frozenset({"table", "lamp"})]
    assert table_lamp.answer == "1.4"
    a, b = table_lamp.categories
    assert table_lamp.question == (
        "Measuring from the closest point of each object, what is the direct distance between the "
        f"{a} and the {b} (in meters)?"
    )
    # lamp–sofa: dx = 1.87 - 0.5 = 1.37, dy = 0.55 - 0.25 = 0.30 → sqrt(1.37² + 0.30²) = 1.402 → 1.4
    assert items[frozenset({"lamp", "sofa"})].answer == "1.4"


def test_per_scene_cap(make_scene, rng):
    objects = [(f"obj{i}", (2.0 * i, 0, 0.5), (0.5, 0.5, 1.0)) for i in range(6)]  # 15 unique pairs
    assert len(run("object_abs_distance", make_scene(objects), rng)) == 6
    assert len(run("object_abs_distance", make_scene(objects), rng, max_per_scene=20)) == 15


def test_numeric_answers_are_formatted_as_vsi(make_scene, rng):
    """Counts and sizes print as integers; distances and room size always carry one decimal ("2.0", not "2")."""
    scene = make_scene(
        [
            ("table", (0, 0, 0.5), (1.0, 1.0, 1.0)),  # x ∈ [-0.5, 0.5]
            ("lamp", (2.6, 0, 0.5), (0.2, 0.2, 0.2)),  # x ∈ [2.5, 2.7] → exactly 2.0 m from the table
            ("sofa", (0, -0.66, 0.5), (1.0, 0.0, 1.0)),  # y = -0.66 → 0.16 m from the table: rounds to "0.2", kept
        ],
        room_size_m2=30.0,
    )
    answers = {frozenset(i.categories): i.answer for i in run("object_abs_distance", scene, rng)}
    assert answers[frozenset({"table", "lamp"})] == "2.0"
    assert answers[frozenset({"table", "sofa"})] == "0.2"  # VSI skips only when the rounded answer is < 0.2
    (room,) = run("room_size_estimation", scene, rng)
    assert room.answer == "30.0"
    sizes = {i.categories[0]: i.answer for i in run("object_size_estimation", scene, rng)}
    assert sizes == {"table": "100", "lamp": "20", "sofa": "100"}
