"""Geometry on hand-computed cases: boxes, distances, alpha-shape area, projection and the VSI depth test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spatialladder.scannet.geometry import (
    alpha_shape_area_m2,
    box_box_distance_m,
    category_distance_m,
    closest_distance_m,
    depth_visible_mask,
    gravity_aligned_box,
    minimal_box,
    point_box_distance_m,
    project_points,
    room_area_m2,
)
from spatialladder.scannet.types import Box3D, Instance, SceneMeta


def rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def cuboid_points(size, center=(0, 0, 0), rotation=np.eye(3), n=6) -> np.ndarray:
    """Grid points on all six faces (corners included)."""
    g = np.linspace(-0.5, 0.5, n)
    a, b = np.meshgrid(g, g)
    faces = []
    for axis in range(3):
        for sign in (-0.5, 0.5):
            p = np.zeros((a.size, 3))
            others = [i for i in range(3) if i != axis]
            p[:, axis], p[:, others[0]], p[:, others[1]] = sign, a.ravel(), b.ravel()
            faces.append(p)
    return (np.concatenate(faces) * size) @ rotation.T + np.asarray(center, float)


def test_gravity_box_recovers_rotated_cuboid():
    pts = cuboid_points((2.0, 0.6, 0.9), center=(1, 2, 0.45), rotation=rot_z(0.7))
    box = gravity_aligned_box(pts)
    np.testing.assert_allclose(sorted(box.axes_lengths), [0.6, 0.9, 2.0], atol=1e-9)
    np.testing.assert_allclose(box.centroid, [1, 2, 0.45], atol=1e-9)
    np.testing.assert_allclose(box.rotation[:, 2], [0, 0, 1])
    assert np.linalg.det(box.rotation) == pytest.approx(1.0)
    np.testing.assert_allclose(box.longest_extent_m, 2.0)


def test_minimal_box_fits_tilted_cuboid_that_gravity_box_overestimates():
    tilt = np.array([[1, 0, 0], [0, math.cos(0.5), -math.sin(0.5)], [0, math.sin(0.5), math.cos(0.5)]])
    pts = cuboid_points((1.0, 0.4, 0.2), rotation=rot_z(0.3) @ tilt)
    box = minimal_box(pts)
    np.testing.assert_allclose(sorted(box.axes_lengths), [0.2, 0.4, 1.0], atol=1e-9)
    np.testing.assert_allclose(box.rotation.T @ box.rotation, np.eye(3), atol=1e-9)
    assert np.prod(gravity_aligned_box(pts).axes_lengths) > np.prod(box.axes_lengths) + 0.01


def test_box_corners_and_vsi_axes_convention():
    box = Box3D(np.array([1.0, 0, 0]), np.array([2.0, 1.0, 1.0]), rot_z(math.pi / 2))
    np.testing.assert_allclose(box.aabb_min, [0.5, -1.0, -0.5], atol=1e-12)
    np.testing.assert_allclose(box.aabb_max, [1.5, 1.0, 0.5], atol=1e-12)


@pytest.mark.parametrize(
    ("b_center", "b_rot", "expected"),
    [
        ((2.0, 0.0, 0.0), np.eye(3), 1.0),  # face to face
        ((2.0, 2.0, 0.0), np.eye(3), math.sqrt(2)),  # edge to edge
        ((2.0, 2.0, 2.0), np.eye(3), math.sqrt(3)),  # corner to corner
        ((2.0, 0.0, 0.0), rot_z(math.pi / 4), 1.5 - math.sqrt(0.5)),  # rotated edge towards a face
        ((0.7, 0.0, 0.0), np.eye(3), 0.0),  # overlapping
        ((0.0, 0.0, 0.0), rot_z(math.pi / 4), 0.0),  # same centre, crossing, no corner inside the other
    ],
)
def test_box_box_distance_exact(b_center, b_rot, expected):
    a = Box3D(np.zeros(3), np.ones(3), np.eye(3))
    b = Box3D(np.array(b_center, float), np.ones(3), b_rot)
    assert box_box_distance_m(a, b) == pytest.approx(expected, abs=1e-12)
    assert box_box_distance_m(b, a) == pytest.approx(expected, abs=1e-12)


def test_box_distance_edge_edge_skew():
    # Two long thin bars crossing at right angles, one above the other: closest pair is edge-edge (no vertex).
    a = Box3D(np.zeros(3), np.array([4.0, 0.2, 0.2]), np.eye(3))
    b = Box3D(np.array([0.0, 0.0, 1.0]), np.array([0.2, 4.0, 0.2]), np.eye(3))
    assert box_box_distance_m(a, b) == pytest.approx(0.8, abs=1e-12)
    assert point_box_distance_m(np.array([[0.0, 0.0, 1.0]]), a)[0] == pytest.approx(0.9)


def test_closest_distance_points_then_boxes_agree_within_1cm():
    rng = np.random.default_rng(0)
    for _ in range(20):
        ra, rb = rot_z(rng.uniform(0, np.pi)), rot_z(rng.uniform(0, np.pi))
        sa, sb = rng.uniform(0.3, 1.2, 3), rng.uniform(0.3, 1.2, 3)
        ca, cb = np.zeros(3), np.append(rng.uniform(-2.5, 2.5, 2), rng.uniform(-0.5, 0.5))
        pa, pb = cuboid_points(sa, ca, ra, n=61), cuboid_points(sb, cb, rb, n=61)
        ia = Instance(1, "chair", "chair", Box3D(ca, sa, ra), pa)
        ib = Instance(2, "table", "table", Box3D(cb, sb, rb), pb)
        exact = box_box_distance_m(ia.box, ib.box)
        if exact == 0.0:
            continue
        assert closest_distance_m(ia, ib) == pytest.approx(exact, abs=0.01)
        boxes_only = Instance(1, "chair", "chair", ia.box), Instance(2, "table", "table", ib.box)
        assert closest_distance_m(*boxes_only) == exact


def test_category_distance_is_min_over_instance_pairs():
    def inst(i, cat, x):
        box = Box3D(np.array([x, 0.0, 0.0]), np.ones(3), np.eye(3))
        return Instance(i, cat, cat, box, cuboid_points(np.ones(3), (x, 0, 0)))

    scene = SceneMeta("s", "scannet", 10.0, np.zeros(3), (inst(1, "chair", 0), inst(2, "chair", 10),
                      inst(3, "table", 4), inst(4, "table", 13)), {"chair": 2, "table": 2})  # fmt: skip
    assert category_distance_m(scene, "chair", "table") == pytest.approx(2.0)
    with pytest.raises(KeyError, match="lamp"):
        category_distance_m(scene, "chair", "lamp")


def test_alpha_shape_area_square_grid_and_threshold():
    g = np.linspace(0, 2, 41)  # 5 cm grid over a 2 m square
    xy = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    assert alpha_shape_area_m2(xy, alpha=5.0) == pytest.approx(4.0, rel=1e-9)
    sparse = np.stack(np.meshgrid(np.linspace(0, 2, 5), np.linspace(0, 2, 5)), -1).reshape(-1, 2)
    # 0.5 m grid: every triangle has circumradius ≈ 0.354 m > 0.2 m, so nothing is kept with alpha 5 …
    assert alpha_shape_area_m2(sparse, alpha=5.0) == 0.0
    # … and everything with alpha 2 (1/alpha = 0.5 m).
    assert alpha_shape_area_m2(sparse, alpha=2.0) == pytest.approx(4.0)


def test_alpha_shape_fills_enclosed_holes_like_polygonize():
    i, j = np.meshgrid(np.arange(61), np.arange(61))
    keep = ~((i > 20) & (i < 40) & (j > 20) & (j < 40))  # grid step 5 cm: a 1 m × 1 m hole from 1 m to 2 m
    ring = np.stack([i[keep], j[keep]], -1) * 0.05
    filled = alpha_shape_area_m2(ring, alpha=5.0, fill_holes=True)
    holed = alpha_shape_area_m2(ring, alpha=5.0, fill_holes=False)
    assert filled == pytest.approx(9.0, rel=1e-9)
    # Without filling, the hole stays open except where small corner-cutting triangles (circumradius < 0.2 m) lie.
    assert 8.0 < holed < 8.1


def test_room_area_seeded_and_reproducible():
    xy = np.stack(np.meshgrid(np.linspace(0, 4, 41), np.linspace(0, 3, 31)), -1).reshape(-1, 2)
    a1 = room_area_m2(xy, np.random.default_rng(5))
    a2 = room_area_m2(xy, np.random.default_rng(5))
    assert a1 == a2
    assert a1 == pytest.approx(12.0, rel=0.02)


def test_projection_and_depth_test_by_hand():
    k = np.array([[100.0, 0, 50.0], [0, 100.0, 40.0], [0, 0, 1]])
    pts = np.array([[0.0, 0.0, 2.0], [0.2, -0.1, 2.0], [0.0, 0.0, -1.0], [3.0, 0.0, 1.0], [0.0, 0.0, 3.0]])
    u, v, z = project_points(pts, np.eye(4), k)
    np.testing.assert_allclose(u[:2], [50.0, 60.0])
    np.testing.assert_allclose(v[:2], [40.0, 35.0])
    depth = np.full((80, 100), 2.0, dtype=np.float32)
    in_view, visible = depth_visible_mask(u, v, z, depth, 0.2)
    assert in_view.tolist() == [True, True, False, False, True]
    # The last point is 1 m behind the surface at 2 m: |2 - 3| = 1 > 0.4 → hidden.
    assert visible.tolist() == [True, True, False, False, False]
    depth[40, 50] = 2.5  # |2.5 - 2| = 0.5 ≤ 0.2·2.5 = 0.5 → still visible (the VSI test uses ≤)
    assert depth_visible_mask(u, v, z, depth, 0.2)[1][0]
    depth[40, 50] = 0.0  # no depth reading → not visible
    assert not depth_visible_mask(u, v, z, depth, 0.2)[1][0]
