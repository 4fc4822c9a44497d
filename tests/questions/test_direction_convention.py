"""Left and right, end to end: hand-computed angles, a scan on disk with a rotated axisAlignment, and the image.

World frame: z up, right-handed. Standing at the origin facing +x, +y is on the LEFT (counter-clockwise).
"""

from __future__ import annotations

import numpy as np
import pytest

from spatialladder.config.scannet import ScanNetSettings
from spatialladder.questions import get_generator, object_rel_direction
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.frames import PointsByInstance, frame_visibility
from spatialladder.scannet.geometry import ccw_angle_deg, signed_turn_deg
from spatialladder.scannet.pipeline import build_scene_meta
from spatialladder.testing.synthetic_scannet import _obj, render_depth, synthetic_label_map, write_synthetic_scene

SMALL = (0.2, 0.2, 0.2)


@pytest.mark.parametrize(
    ("xy", "angle"),
    [((1, 0), 0.0), ((1, 1), 45.0), ((0, 1), 90.0), ((-1, 1), 135.0), ((-1, 0), 180.0), ((0, -1), 270.0),
     ((1, -1), 315.0)],
)  # fmt: skip
def test_ccw_angle_facing_plus_x(xy, angle):
    assert ccw_angle_deg(np.array([1.0, 0.0]), np.array([xy], float))[0] == pytest.approx(angle)


def test_signed_turn_left_is_positive():
    assert signed_turn_deg(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(90.0)  # +x → +y: left
    assert signed_turn_deg(np.array([1.0, 0.0]), np.array([0.0, -1.0])) == pytest.approx(-90.0)


@pytest.mark.parametrize(
    ("query_xy", "hard", "medium"),
    [
        ((2.0, 1.0), "front-left", "left"),  # 26.6°
        ((2.0, -1.0), "front-right", "right"),  # 333.4°
        ((-1.0, 2.0), "back-left", "left"),  # 116.6°
        ((-1.0, -2.0), "back-right", "right"),  # 243.4°
        ((-2.0, 0.5), "back-left", "back"),  # 166.0°
    ],
)
def test_facing_plus_x_plus_y_is_left(make_scene, query_xy, hard, medium):
    """Standing by the bed at the origin, facing the chair at +x."""
    scene = make_scene([("bed", (0, 0, 0.5), SMALL), ("chair", (3, 0, 0.5), SMALL), ("lamp", (*query_xy, 0.5), SMALL)])
    params, roles = object_rel_direction.Params(), ("bed", "chair", "lamp")
    assert object_rel_direction.classify(scene, "hard", roles, params)["answer"] == hard
    assert object_rel_direction.classify(scene, "medium", roles, params)["answer"] == medium
    easy = object_rel_direction.classify(scene, "easy", roles, params)
    assert easy is None if medium == "back" else easy["answer"] == medium


# Room 5 × 4 m. Standing by the bookshelf (x≈0.6) facing the door (x≈4.96) is facing +x: the lamp (y=3.0) is on
# the left (from the bookshelf: (2.9, 1.0) → 19°), the trash can (y=1.0) on the right ((2.9, −1.0) → 341°).
OBJECTS = (
    _obj("bookshelf", "bookshelf", (0.6, 2.0), (0.35, 1.0, 1.8)),
    _obj("door", "door", (4.96, 2.0), (0.06, 0.9, 2.0)),
    _obj("lamp", "lamp", (3.5, 3.0), (0.3, 0.3, 1.5)),
    _obj("trash can", "trash bin", (3.5, 1.0), (0.3, 0.3, 0.5)),
)


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    gt = write_synthetic_scene(tmp_path_factory.mktemp("lr"), "scene0010_00", objects=OBJECTS, n_frames=6, seed=4)
    meta = build_scene_meta(gt.scene_dir, ScanNetSettings(label_map=synthetic_label_map(), num_frames=6))
    return gt, meta


def test_scan_with_rotated_alignment_keeps_left_and_right(scan):
    gt, meta = scan
    rotation = gt.axis_alignment[:3, :3]
    assert not np.allclose(rotation, np.eye(3)) and np.linalg.det(rotation) == pytest.approx(1.0)
    params = object_rel_direction.Params()
    for variant, left, right in (("hard", "front-left", "front-right"), ("medium", "left", "right")):
        assert object_rel_direction.classify(meta, variant, ("bookshelf", "door", "lamp"), params)["answer"] == left
        assert object_rel_direction.classify(meta, variant, ("bookshelf", "door", "trash bin"), params)["answer"] == (
            right
        )
    spec = get_generator("object_rel_direction_easy")
    items = spec.generate(meta, spec.params(max_per_scene=50), np.random.default_rng(0), LetterBalancer())
    got = {i.categories: i for i in items}
    for query, expected in (("lamp", "left"), ("trash bin", "right")):
        item = got[("bookshelf", "door", query)]
        assert item.question == (
            f"If I am standing by the bookshelf and facing the door, is the {query} to the left or the right of the "
            "door?"
        )
        (option,) = [o for o in item.options if o.startswith(item.answer + ". ")]
        assert option == f"{item.answer}. {expected}"


def test_left_answer_is_left_half_of_the_image(scan):
    """A camera standing by the bookshelf and facing the door sees the "left" lamp in the left half of its image
    and the "right" trash can in the right half: both in the independent ray-cast render and in our projection."""
    gt, meta = scan
    fwd, up = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    right = np.cross(fwd, up)  # (0, -1, 0): facing +x, the right hand points to -y
    down = np.cross(fwd, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, fwd], axis=1)  # OpenCV camera axes as columns (x right, y down, z fwd)
    pose[:3, 3] = [0.9, 2.0, 1.0]
    k = gt.intrinsic_depth
    depth, ids = render_depth(pose, k, gt.depth_size, gt.room_size, gt.objects)
    cx = k[0, 2]
    lamp_columns, trash_columns = np.nonzero(ids == 2)[1], np.nonzero(ids == 3)[1]  # ids: object index per pixel
    assert lamp_columns.size and trash_columns.size
    assert lamp_columns.max() < cx < trash_columns.min()
    vis = frame_visibility(PointsByInstance.from_instances(meta.instances), pose, depth, k, k, gt.depth_size)
    box = {meta.instances[row].category: vis.bbox_2d[row] for row in range(len(meta.instances))}
    assert box["lamp"][2] < cx < box["trash bin"][0]
