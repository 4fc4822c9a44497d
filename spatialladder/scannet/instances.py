"""segGroups → segments → mesh vertices → labelled instances with boxes (axis-aligned frame)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from spatialladder.errors import SceneFormatError
from spatialladder.scannet.geometry import BOX_FUNCTIONS
from spatialladder.scannet.io import SegGroup
from spatialladder.scannet.labels import LabelMapper
from spatialladder.scannet.types import Instance

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstanceReport:
    """What happened to the segGroups: kept instances and the counted reasons others were dropped."""

    instances: tuple[Instance, ...]
    vertex_indices: dict[int, np.ndarray]  # instance_id -> indices into the mesh vertices
    duplicates: int = 0
    dropped_labels: Counter = field(default_factory=Counter)  # raw label -> groups not in the vocabulary
    empty_groups: int = 0
    box_seconds: float = 0.0  # time spent fitting boxes (reported as its own benchmark stage)


def build_instances(
    scene: str,
    segs_file: str,
    vertices_aligned: np.ndarray,
    seg_indices: np.ndarray,
    groups: list[SegGroup],
    mapper: LabelMapper,
    box_type: str = "gravity",
    duplicates: int = 0,
) -> InstanceReport:
    """One Instance per kept segGroup; instance_id = objectId (unique per scene)."""
    box_fn = BOX_FUNCTIONS[box_type]
    segment_ids, vertex_segment = np.unique(seg_indices, return_inverse=True)
    known = set(segment_ids.tolist())
    instances, vertex_indices, dropped, empty, used_ids, box_s = [], {}, Counter(), 0, set(), 0.0
    for group in groups:
        absent = [s for s in group.segments if s not in known]
        if absent:
            raise SceneFormatError(
                scene,
                segs_file,
                f"segGroup objectId={group.object_id} ({group.label!r}) uses segment ids {absent[:5]} "
                f"that no mesh vertex has",
            )
        category = mapper.category(group.label)
        if category is None:
            dropped[group.label] += 1
            continue
        if group.object_id in used_ids:
            raise SceneFormatError(scene, segs_file, f"objectId {group.object_id} is used by two different segGroups")
        used_ids.add(group.object_id)
        wanted = np.searchsorted(segment_ids, np.asarray(group.segments, dtype=np.int64))
        idx = np.flatnonzero(np.isin(vertex_segment, wanted))
        if idx.size == 0:
            empty += 1
            continue
        points = vertices_aligned[idx]
        t0 = time.perf_counter()
        box = box_fn(points)
        box_s += time.perf_counter() - t0
        instances.append(
            Instance(
                instance_id=group.object_id,
                category=category,
                raw_category=group.label,
                box=box,
                points=points,
            )
        )
        vertex_indices[group.object_id] = idx
    if dropped:
        logger.debug("scene %s: %d segGroups outside the vocabulary: %s", scene, sum(dropped.values()), dict(dropped))
    return InstanceReport(tuple(instances), vertex_indices, duplicates, dropped, empty, box_s)
