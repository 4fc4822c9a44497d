"""Scene plans: object footprints from their 3D boxes, camera poses of the frames from the scan, the PNG."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from spatialladder.config.data import DataConfig
from spatialladder.data.plan import HIGHLIGHT, draw_plan, draw_plans, footprint, scene_plan
from spatialladder.scannet.pipeline import build_scene_meta
from spatialladder.scannet.types import Box3D, Instance
from spatialladder.testing.synthetic_scannet import write_synthetic_scene

from .conftest import LABEL_MAP


def _instance(centroid, lengths, yaw_deg=0.0) -> Instance:
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    box = Box3D(np.array(centroid, float), np.array(lengths, float), rotation)
    return Instance(7, "table", "desk", box)


def _same_corners(got, expected) -> bool:
    got, expected = np.asarray(got), np.asarray(expected, float)
    return all(np.abs(got - corner).max(axis=1).min() < 1e-3 for corner in expected) and len(got) == 4


def test_footprint_of_an_upright_box():
    """A 2 × 1 × 0.8 m box centred at (1, 2, 0.4): footprint x 0..2, y 1.5..2.5, z 0..0.8."""
    plan = footprint(_instance([1.0, 2.0, 0.4], [2.0, 1.0, 0.8]))
    assert plan["id"] == 7 and plan["category"] == "table" and plan["z"] == [0.0, 0.8]
    assert _same_corners(plan["xy"], [[0, 1.5], [2, 1.5], [2, 2.5], [0, 2.5]])


def test_footprint_of_a_rotated_box():
    """Turned 90° about z, the 2 × 1 box covers x 0.5..1.5, y 1..3; at 45° its corners are (1 ± 0.354 ∓ 0.707 …)."""
    assert _same_corners(footprint(_instance([1.0, 2.0, 0.4], [2.0, 1.0, 0.8], 90))["xy"],
                         [[0.5, 1], [1.5, 1], [1.5, 3], [0.5, 3]])  # fmt: skip
    h = math.sqrt(0.5)
    turned = [[1 + h * a - h * 0.5 * b, 2 + h * a + h * 0.5 * b] for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    assert _same_corners(footprint(_instance([1.0, 2.0, 0.4], [2.0, 1.0, 0.8], 45))["xy"], turned)


def test_frames_carry_the_camera_pose_of_the_scan(tmp_path):
    """The chosen frames' camera centres and viewing directions are the synthetic scene's own poses (the writer
    stores them in the raw frame; the reader applies axisAlignment), and the plan keeps them in millimetres."""
    truth = write_synthetic_scene(tmp_path / "scans", "scene0000_00", seed=3, n_frames=12)
    settings = DataConfig(
        scannet={"label_map": str(LABEL_MAP), "num_frames": 6}, modalities={"video_frames": 6}
    ).scannet
    scene = build_scene_meta(truth.scene_dir, settings)
    assert len(scene.frames) == 6
    for frame in scene.frames:
        pose = truth.camera_to_world_aligned[frame.frame_index]
        np.testing.assert_allclose(frame.camera_position, pose[:3, 3], atol=1e-4)
        np.testing.assert_allclose(frame.camera_forward, pose[:3, 2], atol=1e-4)
    named = {"grounding": [], "spatial": [[scene.instances[0].instance_id]]}
    plan = scene_plan(scene, list(scene.frames[:3]) + [scene.frames[0]], named)
    assert list(plan["cameras"]) == [str(f.frame_index) for f in scene.frames[:3]]  # once each, in frame order
    first = plan["cameras"][str(scene.frames[0].frame_index)]
    assert first["position"] == np.round(scene.frames[0].camera_position, 3).tolist()
    assert len(plan["objects"]) == len(scene.instances) and plan["named"] == named
    assert scene_plan(scene, [], named)["cameras"] is None  # no frames (--from-meta): no cameras, said so


def test_draw_plan_highlights_the_named_objects(tmp_path):
    plan = {
        "dataset": "scannet",
        "objects": [footprint(_instance([1.0, 1.0, 0.4], [1.0, 1.0, 0.8])),
                    {**footprint(_instance([3.0, 1.0, 0.4], [1.0, 1.0, 0.8])), "id": 8, "category": "chair"}],
        "cameras": {"0": {"position": [2.0, 3.0, 1.5], "forward": [0.0, -1.0, 0.0]}},
        "named": {},
    }  # fmt: skip
    path = draw_plan(plan, {8}, "scene", tmp_path / "plans" / "p.png")
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB")).astype(int)
    red = np.array([int(HIGHLIGHT[i : i + 2], 16) for i in (1, 3, 5)])
    fill = 0.45 * red + 0.55 * 255  # the highlight's fill, alpha 0.45 over white
    reddish = (np.abs(rgb - fill).sum(axis=2) < 12).nonzero()[1]  # columns showing it
    assert len(reddish) > 500 and reddish.min() > rgb.shape[1] / 2  # only the chair (x 2.5..3.5, right half)


def test_plans_drawn_over_workers_equal_the_serial_ones(tmp_path):
    """Many plans go to a process pool; each PNG is byte-for-byte what one process draws."""
    objects = [footprint(_instance([1.0 + i, 1.0, 0.4], [0.8, 0.8, 0.8])) for i in range(3)]
    plan = {"objects": objects, "cameras": {"0": {"position": [2.0, 3.0, 1.5], "forward": [0.0, -1.0, 0.0]}}}
    jobs = [(plan, {7}, f"scene{i}", tmp_path / "pool" / f"{i}.png") for i in range(16)]
    draw_plans(jobs, workers=2)
    draw_plans([(plan, {7}, "scene3", tmp_path / "serial.png")], workers=2)  # too few for a pool
    assert sorted(p.name for p in (tmp_path / "pool").iterdir()) == sorted(f"{i}.png" for i in range(16))
    assert (tmp_path / "pool" / "3.png").read_bytes() == (tmp_path / "serial.png").read_bytes()
