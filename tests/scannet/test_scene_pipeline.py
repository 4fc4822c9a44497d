"""End to end on synthetic ScanNet scenes with known geometry (acceptance criteria of the ingestion issue)."""

from __future__ import annotations

import dataclasses
import math
from itertools import combinations

import numpy as np
import pytest

from spatialladder.scannet.frames import PointsByInstance, frame_visibility
from spatialladder.scannet.geometry import category_distance_m, closest_distance_m, project_points
from spatialladder.scannet.labels import load_category_spec
from spatialladder.scannet.pipeline import build_scene_meta, read_color_frames
from spatialladder.testing.synthetic_scannet import HIDDEN_LABEL, _obj, write_synthetic_scene


@pytest.fixture(scope="module")
def scene_both(tmp_path_factory):
    return write_synthetic_scene(tmp_path_factory.mktemp("both"), "scene0001_00", layout="both", pad_width=6, seed=3)


@pytest.fixture(scope="module")
def meta_raw(scene_both, settings):
    return build_scene_meta(scene_both.scene_dir, settings.model_copy(update={"layout": "raw"}))


def by_object(gt, meta):
    """Ground-truth object for each instance (instance_id == objectId)."""
    objects = dict(zip(gt.object_ids, gt.objects, strict=True))
    return [(inst, objects[inst.instance_id]) for inst in meta.instances]


def test_counts_exact(scene_both, meta_raw):
    assert meta_raw.object_counts == scene_both.expected_counts
    vocabulary = list(load_category_spec().vocabulary)
    assert list(meta_raw.object_counts) == sorted(meta_raw.object_counts, key=vocabulary.index)  # VSI order
    assert meta_raw.ingest_stats["unmapped_seg_groups"] == 1 + 1 + 4  # cabinet, floor, 4 walls
    assert meta_raw.ingest_stats["mesh_vertices"] == scene_both.num_vertices


def test_sizes_centroids_within_1cm(scene_both, meta_raw):
    for inst, obj in by_object(scene_both, meta_raw):
        np.testing.assert_allclose(sorted(inst.box.axes_lengths), sorted(obj.size), atol=0.01)
        np.testing.assert_allclose(inst.box.centroid, obj.center, atol=0.01)
        assert inst.box.longest_extent_m == pytest.approx(max(obj.size), abs=0.01)
        assert inst.category == obj.category and inst.raw_category == obj.raw_label


def test_room_area_within_2_percent(scene_both, meta_raw):
    assert meta_raw.room_size_m2 == pytest.approx(scene_both.room_area_m2, rel=0.02)
    w, d, h = scene_both.room_size
    np.testing.assert_allclose(meta_raw.room_center, [w / 2, d / 2, h / 2], atol=0.02)


def test_pairwise_closest_distances_within_1cm(scene_both, meta_raw):
    """Axis-aligned pairs against the analytic gap between the true boxes."""
    pairs = [(i, o) for i, o in by_object(scene_both, meta_raw) if o.yaw == 0.0]
    checked = 0
    for (ia, oa), (ib, ob) in combinations(pairs, 2):
        gap = np.maximum(np.abs(np.subtract(oa.center, ob.center)) - (np.add(oa.size, ob.size)) / 2, 0)
        assert closest_distance_m(ia, ib) == pytest.approx(float(np.linalg.norm(gap)), abs=0.01)
        checked += 1
    assert checked >= 15
    # Category distance = min over the two chairs.
    sofa, chairs = meta_raw.instances_of("sofa")[0], meta_raw.instances_of("chair")
    expected = min(closest_distance_m(sofa, c) for c in chairs)
    exact = dataclasses.replace(meta_raw, distance_method="exact")
    assert category_distance_m(exact, "sofa", "chair") == pytest.approx(expected)


def test_invalid_pose_frame_skipped_and_counted(scene_both, meta_raw):
    assert meta_raw.skipped_frames == 1
    assert meta_raw.invalid_frames == scene_both.invalid_frames == (2,)
    assert meta_raw.total_frames == 40
    chosen = [f.frame_index for f in meta_raw.frames]
    assert len(chosen) == 39 and 2 not in chosen
    assert [f.time_s for f in meta_raw.frames[:3]] == [0.0, 1 / 24, 3 / 24]


def test_hidden_object_is_not_visible(scene_both, meta_raw, settings):
    hidden = next(i for i, o in by_object(scene_both, meta_raw) if o.raw_label == HIDDEN_LABEL)
    assert all(hidden.instance_id not in f.views for f in meta_raw.frames)
    assert HIDDEN_LABEL not in meta_raw.first_appearance_s
    # It does project into some frames: only the depth test hides it.
    pts = PointsByInstance.from_instances([hidden])
    in_view_frames = 0
    for f in meta_raw.frames:
        depth = scene_depth(scene_both, f.frame_index)
        pose = scene_both.camera_to_world_aligned[f.frame_index]
        k_depth, k_color = scene_both.intrinsic_depth, scene_both.intrinsic_color
        vis = frame_visibility(pts, pose, depth, k_depth, k_color, scene_both.color_size)
        in_view_frames += int(vis.in_view[0] > 0)
        assert vis.visible[0] == 0
    assert in_view_frames >= 3


def scene_depth(gt, index):
    from spatialladder.scannet.frames import ExportedFrames

    return next(ExportedFrames(gt.scene_id, gt.scene_dir).depth_m([index]))[1]


def test_visible_objects_and_first_appearance(scene_both, meta_raw):
    visible_ids = {k for f in meta_raw.frames for k in f.views}
    expected = {i.instance_id for i, o in by_object(scene_both, meta_raw) if o.raw_label != HIDDEN_LABEL}
    assert visible_ids == expected
    for category, t in meta_raw.first_appearance_s.items():
        ids = {i.instance_id for i in meta_raw.instances_of(category)}
        first = min(f.frame_index for f in meta_raw.frames if ids & set(f.views))
        assert t == pytest.approx(first / 24.0)
    for f in meta_raw.frames:
        for view in f.views.values():
            assert 0 < view.visible_fraction <= 1 and view.visible_points >= 1


def test_2d_boxes_never_exceed_analytic_projection(scene_both, meta_raw):
    objects = dict(zip(scene_both.object_ids, scene_both.objects, strict=True))
    for f in meta_raw.frames:
        world_to_cam = np.linalg.inv(scene_both.camera_to_world_aligned[f.frame_index])
        for inst_id, view in f.views.items():
            u, v, z = project_points(objects[inst_id].box.corners, world_to_cam, scene_both.intrinsic_color)
            if not (z > 0).all():
                continue
            x1, y1, x2, y2 = view.bbox_2d
            assert x1 >= u.min() - 2 and y1 >= v.min() - 2 and x2 <= u.max() + 2 and y2 <= v.max() + 2


def test_2d_boxes_within_2px_of_analytic_projection(tmp_path, settings):
    """Well separated objects (no occlusion): boxes of fully-in-view objects match the corner projection."""
    objects = (
        _obj("chair", "chair", (6.0, 3.0), (0.5, 0.6, 0.9), yaw=0.4),
        _obj("lamp", "lamp", (3.5, 5.5), (0.3, 0.3, 1.2)),
        _obj("trash can", "trash bin", (1.0, 3.0), (0.4, 0.3, 0.6), yaw=-0.3),
        _obj("bed", "bed", (3.5, 0.6), (1.6, 0.9, 0.5)),
    )
    gt = write_synthetic_scene(
        tmp_path, "scene0002_00", objects=objects, n_frames=24, seed=1, room_size=(7.0, 6.0, 2.5)
    )
    meta = build_scene_meta(gt.scene_dir, settings)
    w, h = gt.color_size
    checked = 0
    for f in meta.frames:
        world_to_cam = np.linalg.inv(gt.camera_to_world_aligned[f.frame_index])
        for inst_id, obj in zip(gt.object_ids, gt.objects, strict=True):
            u, v, z = project_points(obj.box.corners, world_to_cam, gt.intrinsic_color)
            if not ((z > 0).all() and u.min() >= 0 and v.min() >= 0 and u.max() <= w - 1 and v.max() <= h - 1):
                continue
            assert inst_id in f.views, f"frame {f.frame_index}: {obj.raw_label} fully in view but not visible"
            np.testing.assert_allclose(f.views[inst_id].bbox_2d, [u.min(), v.min(), u.max(), v.max()], atol=2.0)
            checked += 1
    assert checked >= 8


def strip_paths(meta):
    frames = tuple(dataclasses.replace(f, image_path=None) for f in meta.frames)
    return dataclasses.replace(meta, frames=frames)


def assert_same_meta(a, b):
    from spatialladder.scannet.meta import scene_to_entry

    assert scene_to_entry(strip_paths(a)) == scene_to_entry(strip_paths(b))
    for ia, ib in zip(a.instances, b.instances, strict=True):
        np.testing.assert_array_equal(ia.points, ib.points)


def test_sens_and_exported_layouts_identical(scene_both, meta_raw, settings):
    exported = build_scene_meta(scene_both.scene_dir, settings.model_copy(update={"layout": "exported"}))
    assert exported.frames[0].image_path.endswith("color/000000.jpg")
    assert_same_meta(meta_raw, exported)


def test_unpadded_exported_names(tmp_path, settings):
    gt = write_synthetic_scene(tmp_path, "scene0003_00", n_frames=12, layout="exported", pad_width=0)
    meta = build_scene_meta(gt.scene_dir, settings)
    assert [f.frame_index for f in meta.frames] == [0, 1, *range(3, 12)]
    assert meta.frames[-1].image_path.endswith("color/11.jpg")


def test_same_seed_identical_different_seed_differs(tmp_path, settings):
    a = write_synthetic_scene(tmp_path / "a", "scene0004_00", n_frames=10, seed=7)
    b = write_synthetic_scene(tmp_path / "b", "scene0004_00", n_frames=10, seed=7)
    for suffix in ("_vh_clean_2.ply", ".sens", ".aggregation.json", ".txt"):
        assert (a.scene_dir / f"scene0004_00{suffix}").read_bytes() == (
            b.scene_dir / f"scene0004_00{suffix}"
        ).read_bytes()
    assert_same_meta(build_scene_meta(a.scene_dir, settings), build_scene_meta(b.scene_dir, settings))
    other = build_scene_meta(a.scene_dir, settings.model_copy(update={"seed": 1}))
    assert other.room_size_m2 == pytest.approx(a.room_area_m2, rel=0.02)


def test_duplicate_seg_groups_are_dropped(tmp_path, settings):
    gt = write_synthetic_scene(tmp_path, "scene0217_00", n_frames=6, duplicate_groups=True)
    meta = build_scene_meta(gt.scene_dir, settings)
    assert meta.object_counts == gt.expected_counts
    assert meta.ingest_stats["duplicate_seg_groups"] == len(gt.objects) + 5


def test_frame_selection_uniform_and_every_k(scene_both, settings):
    uniform = build_scene_meta(scene_both.scene_dir, settings.model_copy(update={"num_frames": 4, "layout": "raw"}))
    # valid[linspace(0, 38, 4, dtype=int)] = valid[[0, 12, 25, 38]] (VSI's floor; rounding gave 13 → frame 14)
    assert [f.frame_index for f in uniform.frames] == [0, 13, 26, 39]
    every = build_scene_meta(
        scene_both.scene_dir, settings.model_copy(update={"frame_selection": "every_k", "every_k": 10, "layout": "raw"})
    )
    assert [f.frame_index for f in every.frames] == [0, 10, 20, 30]


def test_read_color_frames_from_both_layouts(scene_both):
    sens = dict(read_color_frames(scene_both.scene_dir, [5, 0], layout="raw"))
    exported = dict(read_color_frames(scene_both.scene_dir, [5, 0], layout="exported"))
    assert sorted(sens) == [0, 5]
    assert sens[5].shape == (scene_both.color_size[1], scene_both.color_size[0], 3) and sens[5].dtype == np.uint8
    np.testing.assert_array_equal(sens[5], exported[5])
    assert math.isfinite(float(sens[0].mean()))


def test_minimal_box_option_matches_upright_cuboids(scene_both, settings):
    meta = build_scene_meta(scene_both.scene_dir, settings.model_copy(update={"box_type": "minimal", "layout": "raw"}))
    for inst, obj in by_object(scene_both, meta):
        np.testing.assert_allclose(sorted(inst.box.axes_lengths), sorted(obj.size), atol=0.01)


def test_exported_poses_already_aligned(tmp_path, settings):
    """VLM-3R's exporter writes axisAlignment @ camera_to_world; ``exported_poses: aligned`` reads those frames."""
    gt = write_synthetic_scene(tmp_path, "scene0005_00", n_frames=8, layout="both", seed=2)
    raw = build_scene_meta(gt.scene_dir, settings.model_copy(update={"layout": "raw"}))
    for pose_file in (gt.scene_dir / "pose").iterdir():
        pose = np.loadtxt(pose_file)
        if np.isfinite(pose).all():
            np.savetxt(pose_file, gt.axis_alignment @ pose)
    aligned = build_scene_meta(
        gt.scene_dir, settings.model_copy(update={"layout": "exported", "exported_poses": "aligned"})
    )
    assert [f.frame_index for f in aligned.frames] == [f.frame_index for f in raw.frames]
    for fa, fr in zip(aligned.frames, raw.frames, strict=True):
        assert set(fa.views) == set(fr.views)
        for k, view in fa.views.items():
            np.testing.assert_allclose(view.bbox_2d, fr.views[k].bbox_2d, atol=0.5)
    assert aligned.first_appearance_s == pytest.approx(raw.first_appearance_s)
    # Read as raw poses, the alignment is applied twice and the cameras see other things.
    twice = build_scene_meta(gt.scene_dir, settings.model_copy(update={"layout": "exported"}))
    assert [set(f.views) for f in twice.frames] != [set(f.views) for f in raw.frames]
