"""VSI-Bench's object distance (box point sample), checked against hand geometry and against VSI-Bench itself.

``data/vsi_distances_scannet.json`` holds VSI-Bench's own distances for category pairs of the released ScanNet
meta-info: the output of VITA-Group/VLM-3R ``common_utils.cal_3d_bbox_distance_between_categories`` run with
Open3D 0.19.0 (numpy 2.4.6, scipy 1.17.1) on ``vsibench_meta_scannet_val.json``, every pair of categories that
involves a unique category and at most 4 instance pairs. Only the numbers are stored, not their code.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from spatialladder.scannet.geometry import (
    box_box_distance_m,
    category_distance_m,
    min_pairwise_distance_m,
    vsi_grid_points,
)
from spatialladder.scannet.meta import load_meta_file
from spatialladder.scannet.types import Box3D, Instance, SceneMeta

GOLDEN = Path(__file__).parent / "data" / "vsi_distances_scannet.json"


def box(center, size, rotation=None) -> Box3D:
    return Box3D(np.array(center, float), np.array(size, float), np.eye(3) if rotation is None else rotation)


def scene_of(*objects: tuple[str, Box3D], method: str = "vsi_grid") -> SceneMeta:
    instances = tuple(Instance(k, c, c, b) for k, (c, b) in enumerate(objects))
    counts: dict[str, int] = {}
    for c, _ in objects:
        counts[c] = counts.get(c, 0) + 1
    return SceneMeta("s", "scannet", 20.0, np.zeros(3), instances, counts, distance_method=method)


def test_grid_shape_core_and_faces():
    """A 1 m cube: 20 linspace points per axis over [-0.5, 0.5], the 10×10×10 core (|c| <= 0.25) removed."""
    points = vsi_grid_points(box((0, 0, 0), (1, 1, 1)))
    assert len(points) == 20**3 - 10**3
    assert points.min() == -0.5 and points.max() == 0.5  # centred at the origin, faces survive the crop exactly
    assert not np.any(np.all(np.abs(points) <= 0.25, axis=1))


def test_crop_drops_face_points_that_round_outside():
    """VSI crops with ``|p - c| <= e/2`` after adding c: 2.6 - 0.1 = 2.5, and 2.5 - 2.6 = -0.10000000000000009, so
    the face at x = 2.5 is cropped away and the table–lamp distance is 2.0667 m, not the 2.0 m box gap."""
    lamp = vsi_grid_points(box((2.6, 0, 0.5), (0.2, 0.2, 0.2)))
    assert lamp[:, 0].min() == pytest.approx(2.5 + 0.2 / 3)  # the next grid plane, linspace(-0.1, 0.1, 4)[1]
    scene = scene_of(("table", box((0, 0, 0.5), (1, 1, 1))), ("lamp", box((2.6, 0, 0.5), (0.2, 0.2, 0.2))))
    assert round(category_distance_m(scene, "table", "lamp"), 1) == 2.1
    exact = dataclasses.replace(scene, distance_method="exact")
    assert category_distance_m(exact, "table", "lamp") == pytest.approx(2.0)


def test_empty_crop_halves_the_step():
    """A box thinner than the step keeps at least its two face planes; zero extents do not loop forever."""
    thin = vsi_grid_points(box((0, 0, 0), (1.0, 1.0, 0.0)))
    assert len(thin) > 0 and np.all(thin[:, 2] == 0.0)


def test_min_pairwise_distance_equals_cdist():
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(size=(rng.integers(1, 400), 3))
        b = rng.normal(size=(rng.integers(1, 400), 3)) + rng.normal(size=3) * 3
        assert min_pairwise_distance_m(a, b) == cdist(a, b).min()


def test_category_distance_is_the_min_over_instances_and_cached():
    far = box((5, 0, 0), (0.5, 0.5, 0.5))
    near = box((1.5, 0, 0), (0.5, 0.5, 0.5))
    scene = scene_of(("table", box((0, 0, 0), (1, 1, 1))), ("chair", far), ("chair", near))
    d = category_distance_m(scene, "table", "chair")
    assert d == min_pairwise_distance_m(vsi_grid_points(scene.instances[0].box), vsi_grid_points(near))
    assert (
        box_box_distance_m(scene.instances[0].box, near) <= d < 0.05 + box_box_distance_m(scene.instances[0].box, near)
    )
    # the far chair's exact box distance bounds it out: its points are never sampled
    assert ("vsi_grid_points", 1) not in scene.distance_cache
    # copies share the memo (same instances), and the method is part of the key
    copy = dataclasses.replace(scene, frames=())
    assert copy.distance_cache is scene.distance_cache
    assert category_distance_m(copy, "chair", "table") == d
    assert ("exact", 0, 2) not in scene.distance_cache


@pytest.fixture(scope="module")
def released_scannet(shared_data) -> dict[str, SceneMeta]:
    return load_meta_file(shared_data / "vsibench_meta_scannet_val.json")


def test_equals_vsibench_own_distances_on_the_released_meta(released_scannet):
    """Bit-for-bit the float VSI-Bench's generator computes (Open3D crop included) for every stored pair."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert len(golden) > 1000
    mismatches = [
        (scene, a, b, expected, got)
        for scene, a, b, expected in golden
        if (got := category_distance_m(released_scannet[scene], a, b)) != expected
    ]
    assert not mismatches, mismatches[:5]


def test_issue_examples_round_to_vsibench_answers(released_scannet):
    """scene0222_01 in VSI-Bench's test set: lamp–nightstand 0.4 and fan–radiator 0.5 (the exact box distance
    gives 0.3 and 0.4)."""
    scene = released_scannet["scene0222_01"]
    exact = dataclasses.replace(scene, distance_method="exact")
    for (a, b), vsi, box_gap in ((("lamp", "nightstand"), 0.4, 0.3), (("fan", "radiator"), 0.5, 0.4)):
        assert round(category_distance_m(scene, a, b), 1) == vsi
        assert round(category_distance_m(exact, a, b), 1) == box_gap
