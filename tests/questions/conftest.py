"""Hand-built scenes with known geometry: axis-aligned boxes, no mesh points.

Scenes measure distances with ``distance_method="exact"`` by default, so answers are exact box gaps a reader can
check by hand; VSI-Bench's grid distance (the build default) has its own tests in test_vsi_distance.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from spatialladder.scannet.types import Box3D, FrameInfo, Instance, SceneMeta


def box(center, size) -> Box3D:
    return Box3D(centroid=np.array(center, float), axes_lengths=np.array(size, float), rotation=np.eye(3))


def scene_from(
    objects, room_size_m2=20.0, first_appearance_s=None, frames=(), counts=None, distance_method="exact"
) -> SceneMeta:
    """objects: [(category, (x, y, z), (dx, dy, dz)), …]; instance ids are list positions."""
    instances = tuple(
        Instance(instance_id=i, category=c, raw_category=c, box=box(center, size))
        for i, (c, center, size) in enumerate(objects)
    )
    object_counts: dict[str, int] = {}
    for inst in instances:
        object_counts[inst.category] = object_counts.get(inst.category, 0) + 1
    object_counts.update(counts or {})
    return SceneMeta(
        scene_id="scene0000_00",
        dataset="scannet",
        room_size_m2=room_size_m2,
        room_center=np.zeros(3),
        instances=instances,
        object_counts=object_counts,
        frames=tuple(frames),
        first_appearance_s=dict(first_appearance_s or {}),
        distance_method=distance_method,
    )


@pytest.fixture
def make_scene():
    return scene_from


@pytest.fixture
def make_frame():
    def _frame(index, views, size=(1296, 968)):
        return FrameInfo(frame_index=index, time_s=index / 24.0, image_path=None, image_size=size, views=views)

    return _frame


@pytest.fixture
def rng():
    return np.random.default_rng(0)
