"""The demo's furnished rooms: labels within their per-room limits, objects apart, inside the room and below the
synthetic cameras, the same room for the same generator state."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from spatialladder.scannet.geometry import box_box_distance_m
from spatialladder.testing.synthetic_scannet import _ROOM_LABELS, sample_objects

CAMERA_HEIGHT_M = 1.4  # look_around_poses' camera height


@pytest.mark.parametrize("seed", range(40))
def test_rooms_respect_label_limits_and_keep_objects_apart(seed: int) -> None:
    rng = np.random.default_rng(seed)
    room = (float(rng.uniform(4.0, 7.0)), float(rng.uniform(3.5, 6.0)), 2.6)  # the demo's room draw
    objects = sample_objects(rng, room)
    limits = dict(_ROOM_LABELS)
    counts = Counter(o.raw_label for o in objects)
    assert 6 <= len(counts) and len(objects) <= 14
    assert all(n <= limits[label] for label, n in counts.items())
    for a, b in itertools.combinations(objects, 2):
        assert box_box_distance_m(a.box, b.box) > 0.0
    for o in objects:
        assert 0.0 < o.center[0] < room[0] and 0.0 < o.center[1] < room[1]
        assert o.center[2] == pytest.approx(o.size[2] / 2) and o.size[2] <= 1.2 < CAMERA_HEIGHT_M


def test_same_generator_state_same_room() -> None:
    room = (5.0, 4.0, 2.6)
    first = sample_objects(np.random.default_rng(7), room)
    assert sample_objects(np.random.default_rng(7), room) == first
    assert sample_objects(np.random.default_rng(8), room) != first
