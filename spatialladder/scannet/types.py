"""In-memory scene facts shared by the ScanNet reader, the meta-info loader and the question generators.

All geometry is in the axis-aligned world frame (ScanNet's axisAlignment applied), z up, metres.
These are plain frozen dataclasses: they sit in hot loops, so no validation happens here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spatialladder.vocab import DistanceMethod


@dataclass(frozen=True)
class Box3D:
    """An oriented 3D box. ``rotation`` columns are the box axes: world = rotation @ local + centroid."""

    centroid: np.ndarray  # (3,)
    axes_lengths: np.ndarray  # (3,) full extents along the rotation's columns, unordered
    rotation: np.ndarray  # (3, 3)

    @property
    def corners(self) -> np.ndarray:
        """The 8 corners, (8, 3)."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
        return self.centroid + (signs * (self.axes_lengths / 2.0)) @ self.rotation.T

    @property
    def aabb_min(self) -> np.ndarray:
        return self.corners.min(axis=0)

    @property
    def aabb_max(self) -> np.ndarray:
        return self.corners.max(axis=0)

    @property
    def longest_extent_m(self) -> float:
        return float(np.max(self.axes_lengths))


@dataclass(frozen=True)
class Instance:
    """One labelled object instance after label mapping."""

    instance_id: int
    category: str  # VSI-Bench vocabulary name after remaps (e.g. "table" for raw "desk")
    raw_category: str
    box: Box3D
    points: np.ndarray | None = None  # (N, 3) mesh vertices; None when loaded from released meta-info


@dataclass(frozen=True)
class InstanceView:
    """How one instance appears in one frame."""

    visible_points: int
    visible_fraction: float  # visible_points / points of the instance that project inside the image
    bbox_2d: tuple[float, float, float, float] | None  # [x1, y1, x2, y2] in colour-image pixels


@dataclass(frozen=True)
class FrameInfo:
    """One chosen frame of the scan."""

    frame_index: int  # index into the .sens stream / exported folder
    time_s: float  # frame_index / fps
    image_path: str | None  # colour image (exported) or None when only in the .sens
    image_size: tuple[int, int]  # (width, height) of the colour image
    views: dict[int, InstanceView] = field(default_factory=dict)  # instance_id -> view (visible ones only)
    camera_position: tuple[float, float, float] | None = None  # camera centre, aligned world frame (m)
    camera_forward: tuple[float, float, float] | None = None  # unit viewing direction (camera +z), same frame


@dataclass(frozen=True)
class SceneMeta:
    """Everything the question generators need about one scene."""

    scene_id: str
    dataset: str  # "scannet", "scannetpp", "arkitscenes"
    room_size_m2: float
    room_center: np.ndarray  # (3,)
    instances: tuple[Instance, ...]
    object_counts: dict[str, int]  # trusted counts (released meta may differ from len(boxes))
    fps: float = 24.0
    frames: tuple[FrameInfo, ...] = ()
    first_appearance_s: dict[str, float] = field(default_factory=dict)  # category -> first visible time
    video_path: str | None = None
    skipped_frames: int = 0  # frames dropped for a non-finite pose
    invalid_frames: tuple[int, ...] = ()  # indices of those frames
    total_frames: int = 0  # frames in the scan (valid + invalid); 0 when unknown (released meta-info)
    ingest_stats: dict[str, int] = field(default_factory=dict)  # counted drops: duplicate groups, unmapped labels…
    distance_method: DistanceMethod = "vsi_grid"  # how object distances are measured (vocab.DISTANCE_METHODS)
    distance_cache: dict = field(default_factory=dict, compare=False, repr=False)
    """Memo of per-instance point samples and pair distances (scannet/geometry.py). Copies made with
    ``dataclasses.replace`` share it: they hold the same instances, so the same distances."""

    def instances_of(self, category: str) -> tuple[Instance, ...]:
        return tuple(i for i in self.instances if i.category == category)

    @property
    def categories(self) -> list[str]:
        """Categories in ``object_counts`` order: VSI-Bench's generators enumerate candidates in this order."""
        return list(self.object_counts)

    @property
    def unique_categories(self) -> list[str]:
        """Categories with exactly one instance, in ``object_counts`` order."""
        return [c for c, n in self.object_counts.items() if n == 1 and self.instances_of(c)]
