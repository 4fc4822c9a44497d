"""Visibility rules of each modality, on hand-built frames, and exact per-scene quotas."""

from __future__ import annotations

import numpy as np

from spatialladder.config.data import ModalitySettings
from spatialladder.data.modalities import cover_frames, restrict_to_frames, uniform_frames, video_scene
from spatialladder.data.select import allocate
from spatialladder.scannet.types import Box3D, FrameInfo, Instance, InstanceView, SceneMeta

SETTINGS = ModalitySettings(min_visible_fraction=0.3, min_visible_points=20)


def scene(frames=()) -> SceneMeta:
    cats = ["chair", "chair", "table", "lamp"]
    instances = tuple(
        Instance(k, c, c, Box3D(np.array([k, 0.0, 0.0]), np.ones(3) * 0.2, np.eye(3))) for k, c in enumerate(cats)
    )
    return SceneMeta("scene0000_00", "scannet", 20.0, np.zeros(3), instances, {"chair": 2, "table": 1, "lamp": 1},
                     frames=tuple(frames), first_appearance_s={"chair": 0.0, "table": 0.0, "lamp": 0.0})  # fmt: skip


def frame(index, visible, fraction=0.9, points=100):
    views = {i: InstanceView(points, fraction, (0, 0, 10, 10)) for i in visible}
    return FrameInfo(index, index / 24.0, None, (640, 480), views)


def test_single_frame_keeps_only_fully_shown_categories():
    f = frame(0, [0, 2])  # one of the two chairs, the table
    kept = restrict_to_frames(scene((f,)), (f,), SETTINGS)
    assert kept.object_counts == {"table": 1}
    assert [i.instance_id for i in kept.instances] == [2]
    both = frame(1, [0, 1, 2, 3])
    assert restrict_to_frames(scene(), (f, both), SETTINGS).object_counts == {"chair": 2, "table": 1, "lamp": 1}


def test_weak_views_do_not_count():
    faint = frame(0, [2], fraction=0.1)
    few = frame(1, [3], points=5)
    assert restrict_to_frames(scene(), (faint, few), SETTINGS).object_counts == {}


def test_cover_frames_union_shows_every_object():
    frames = tuple(frame(k, ids) for k, ids in enumerate([[0], [1], [0, 1], [2], [3], [], [], [], [], []]))
    chosen = cover_frames(frames, (0, 1, 3), 4, SETTINGS)
    assert [f.frame_index for f in chosen] == [0, 1, 2, 4]  # {0,1} at frame 2, {3} at frame 4, then fillers
    assert cover_frames(frames, (0, 1, 3), 1, SETTINGS) is None  # needs two frames
    assert cover_frames(frames[:3], (0,), 4, SETTINGS) is None  # fewer frames than asked


def test_video_frames_uniform_and_appearance_from_shown_frames():
    frames = tuple(frame(k, [2] if k == 5 else ([3] if k >= 30 else [])) for k in range(48))
    shown = video_scene(scene(frames), ModalitySettings(video_frames=16))
    assert [f.frame_index for f in shown.frames] == list(np.linspace(0, 47, 16, dtype=int))
    assert shown.first_appearance_s == {"lamp": 31 / 24.0}  # frame 5 (the table) is not among the 16 shown
    assert [f.frame_index for f in uniform_frames(frames[:3], 16)] == [0, 1, 2]


def test_allocate_is_exact():
    assert sum(allocate(5929, 1201, 1201)) == 5929
    assert allocate(9000, 1201, 3) == [7, 7, 8]  # round(9000·3/1201) = 22
    assert allocate(10, 4, 4) == [2, 3, 2, 3]
