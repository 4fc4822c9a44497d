"""Frames of a scan: one interface over the .sens stream and the exported folders, frame choice, and per-frame
visibility / 2D boxes by projecting instance points with the VSI depth test."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spatialladder.errors import SceneFormatError
from spatialladder.sampling import uniform_sample
from spatialladder.scannet.geometry import depth_visible_mask, project_points
from spatialladder.scannet.io import (
    ScanInfo,
    _indexed_files,
    decode_color,
    decode_depth_png,
    read_matrix_txt,
)
from spatialladder.scannet.sens import SensFile
from spatialladder.scannet.types import FrameInfo, Instance, InstanceView

logger = logging.getLogger(__name__)


def _as_4x4(k: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    k = np.asarray(k, dtype=np.float64)
    out[: k.shape[0], : k.shape[1]] = k
    return out


class FrameSource(ABC):
    """Frames of one scan, whichever layout they come from.

    ``frame_indices[j]`` has pose ``poses[j]`` (camera_to_world in the raw scan frame, OpenCV camera axes).
    Depth is returned in metres; colour as (H, W, 3) uint8.
    """

    scene: str
    frame_indices: np.ndarray
    poses: np.ndarray
    intrinsic_color: np.ndarray  # (4, 4)
    intrinsic_depth: np.ndarray  # (4, 4)
    color_size: tuple[int, int]  # (width, height)
    depth_size: tuple[int, int]
    file: str  # what error messages name

    @abstractmethod
    def depth_m(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame index, depth in metres (H, W) float32) in the order given."""

    @abstractmethod
    def colors(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame index, (H, W, 3) uint8) in the order given."""

    def image_path(self, index: int) -> str | None:
        return None


class SensFrames(FrameSource):
    """Frames streamed from ``<scene>.sens``."""

    def __init__(self, scene: str, path: Path):
        self.sens = SensFile(scene, path)
        h = self.sens.header
        self.scene, self.file = scene, path.name
        self.frame_indices = np.arange(h.num_frames)
        self.poses = self.sens.poses
        self.intrinsic_color, self.intrinsic_depth = h.intrinsic_color, h.intrinsic_depth
        self.color_size, self.depth_size = h.color_size, h.depth_size

    def depth_m(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        shift = self.sens.header.depth_shift
        for i, _, depth in self.sens.read_frames(indices, color=False, depth=True):
            yield i, depth.astype(np.float32) / shift

    def colors(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        for i, rgb, _ in self.sens.read_frames(indices, color=True, depth=False):
            yield i, rgb


class ExportedFrames(FrameSource):
    """Frames exported by ScanNet's reader: color/<i>.jpg, depth/<i>.png (16-bit mm), pose/<i>.txt, intrinsic/."""

    def __init__(self, scene: str, root: Path, info: ScanInfo | None = None):
        from PIL import Image

        self.scene, self.root, self.file = scene, root, "pose/"
        for sub in ("pose", "depth"):
            if not (root / sub).is_dir():
                raise SceneFormatError(scene, f"{sub}/", f"missing folder (looked in {root})")
        poses = _indexed_files(root / "pose", ".txt")
        self._depth = _indexed_files(root / "depth", ".png")
        self._color = _indexed_files(root / "color", ".jpg") if (root / "color").is_dir() else {}
        common = sorted(set(poses) & set(self._depth))
        if not common:
            raise SceneFormatError(scene, "pose/", "no frame has both pose/<i>.txt and depth/<i>.png")
        self.frame_indices = np.array(common, dtype=np.int64)
        self.poses = np.stack([read_matrix_txt(scene, poses[i]) for i in common])
        intr = root / "intrinsic"
        self.intrinsic_depth = _as_4x4(read_matrix_txt(scene, intr / "intrinsic_depth.txt"))
        color_file = intr / "intrinsic_color.txt"
        self.intrinsic_color = _as_4x4(read_matrix_txt(scene, color_file)) if color_file.is_file() else None
        with Image.open(self._depth[common[0]]) as img:
            self.depth_size = img.size
        if self._color:
            with Image.open(self._color[min(self._color)]) as img:
                self.color_size = img.size
        elif info is not None and info.color_size is not None:
            self.color_size = info.color_size
        else:
            self.color_size = self.depth_size
        if self.intrinsic_color is None:
            self.intrinsic_color = self.intrinsic_depth

    def depth_m(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        for i in indices:
            path = self._depth[int(i)]
            yield (
                int(i),
                decode_depth_png(self.scene, f"depth/{path.name}", path.read_bytes()).astype(np.float32) / 1000.0,
            )

    def colors(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        for i in indices:
            path = self._color.get(int(i))
            if path is None:
                raise SceneFormatError(self.scene, f"color/{int(i)}.jpg", "missing colour image")
            yield int(i), decode_color(self.scene, f"color/{path.name}", path.read_bytes())

    def image_path(self, index: int) -> str | None:
        path = self._color.get(int(index))
        return str(path) if path is not None else None


def open_frames(scene: str, scene_dir: Path, layout: str = "auto", info: ScanInfo | None = None) -> FrameSource:
    """The frame source for ``layout`` ("auto": the .sens when present, else the exported folders)."""
    sens = scene_dir / f"{scene}.sens"
    if layout == "raw" or (layout == "auto" and sens.is_file()):
        return SensFrames(scene, sens)
    if layout in ("exported", "auto"):
        if layout == "auto" and not (scene_dir / "pose").is_dir():
            raise SceneFormatError(scene, sens.name, f"missing file (and no exported pose/ folder in {scene_dir})")
        return ExportedFrames(scene, scene_dir, info)
    raise ValueError(f"unknown frame layout {layout!r}; valid: auto, exported, raw")


# --------------------------------------------------------------------------------------------------- selection


def valid_frames(source: FrameSource) -> tuple[np.ndarray, np.ndarray]:
    """(valid frame indices, invalid frame indices): a frame is invalid when its pose has a non-finite value."""
    finite = np.isfinite(source.poses).all(axis=(1, 2))
    valid, invalid = source.frame_indices[finite], source.frame_indices[~finite]
    if valid.size == 0:
        raise SceneFormatError(source.scene, source.file, f"no valid pose among {len(finite)} frames")
    return valid, invalid


def choose_frames(valid: np.ndarray, selection: str, num_frames: int = 32, every_k: int = 1) -> np.ndarray:
    """``uniform``: num_frames evenly spaced over the valid frames, all when fewer (``spatialladder.sampling``, as
    VSI's frame export over its valid candidates); ``every_k``: index % k == 0."""
    if selection == "uniform":
        return np.asarray(uniform_sample(valid, num_frames), dtype=valid.dtype)
    if selection == "every_k":
        return valid[valid % every_k == 0]
    raise ValueError(f"unknown frame selection {selection!r}; valid: every_k, uniform")


# --------------------------------------------------------------------------------------------------- projection


@dataclass(frozen=True)
class PointsByInstance:
    """All instance points stacked once so each frame needs one projection call."""

    points: np.ndarray  # (P, 3) axis-aligned world
    owner: np.ndarray  # (P,) row into ``ids``
    ids: np.ndarray  # (I,) instance ids
    categories: tuple[str, ...]  # (I,)

    @classmethod
    def from_instances(cls, instances: Sequence[Instance]) -> PointsByInstance:
        with_points = [i for i in instances if i.points is not None and len(i.points)]
        if not with_points:
            return cls(np.zeros((0, 3)), np.zeros(0, np.int64), np.zeros(0, np.int64), ())
        points = np.concatenate([i.points for i in with_points])
        owner = np.repeat(np.arange(len(with_points)), [len(i.points) for i in with_points])
        ids = np.array([i.instance_id for i in with_points], dtype=np.int64)
        return cls(points, owner, ids, tuple(i.category for i in with_points))


@dataclass(frozen=True)
class FrameVisibility:
    """Per-instance counts in one frame (rows follow PointsByInstance.ids)."""

    visible: np.ndarray  # (I,) points passing frustum + depth test
    in_view: np.ndarray  # (I,) points with z > 0 projecting inside the depth image
    bbox_2d: np.ndarray  # (I, 4) [x1, y1, x2, y2] in colour pixels of the visible points; NaN when none


def frame_visibility(
    pts: PointsByInstance,
    camera_to_world_aligned: np.ndarray,
    depth_m: np.ndarray,
    intrinsic_depth: np.ndarray,
    intrinsic_color: np.ndarray,
    color_size: tuple[int, int],
    depth_ratio: float = 0.2,
    with_boxes: bool = True,
    box_tolerance_px: int = 1,
) -> FrameVisibility:
    """Project every instance point into one frame and apply the VSI depth test.

    ``visible`` counts points that project (rounded) into the depth image in front of the camera and satisfy
    |D − z| ≤ depth_ratio·D with D > 0; ``in_view`` counts those that project inside the image at all. The 2D box
    is the extent of the visible points re-projected with the colour intrinsics (same pose: ScanNet's colour and
    depth streams are registered), clipped to the colour image. For the box only, a point also counts when the
    depth test passes at a pixel within ``box_tolerance_px`` of its own: silhouette vertices round onto background
    pixels about half the time, which would otherwise shrink boxes by several pixels.
    """
    n = len(pts.ids)
    world_to_camera = np.linalg.inv(camera_to_world_aligned)
    u, v, z = project_points(pts.points, world_to_camera, intrinsic_depth)
    in_view, visible = depth_visible_mask(u, v, z, depth_m, depth_ratio)
    vis_count = np.bincount(pts.owner[visible], minlength=n)
    view_count = np.bincount(pts.owner[in_view], minlength=n)
    boxes = np.full((n, 4), np.nan)
    if with_boxes and visible.any():
        box_points = visible.copy()
        if box_tolerance_px > 0:
            retry = np.flatnonzero(in_view & ~visible & (vis_count[pts.owner] > 0))
            box_points[retry] = _depth_test_nearby(u[retry], v[retry], z[retry], depth_m, depth_ratio, box_tolerance_px)
        idx = np.flatnonzero(box_points)
        uc, vc, _ = project_points(pts.points[idx], world_to_camera, intrinsic_color)
        w, h = color_size
        uc, vc = np.clip(uc, 0, w - 1), np.clip(vc, 0, h - 1)
        owner = pts.owner[idx]
        for stat, values, fn in ((0, uc, np.minimum), (1, vc, np.minimum), (2, uc, np.maximum), (3, vc, np.maximum)):
            init = np.inf if fn is np.minimum else -np.inf
            acc = np.full(n, init)
            fn.at(acc, owner, values)
            boxes[:, stat] = np.where(vis_count > 0, acc, np.nan)
    return FrameVisibility(vis_count, view_count, boxes)


def _depth_test_nearby(
    u: np.ndarray, v: np.ndarray, z: np.ndarray, depth_m: np.ndarray, ratio: float, radius: int
) -> np.ndarray:
    """True where the depth test passes at any pixel of the (2·radius+1)² window around the rounded projection."""
    h, w = depth_m.shape
    ui, vi = np.floor(u + 0.5).astype(np.int64), np.floor(v + 0.5).astype(np.int64)
    ok = np.zeros(len(u), dtype=bool)
    for dv in range(-radius, radius + 1):
        for du in range(-radius, radius + 1):
            d = depth_m[np.clip(vi + dv, 0, h - 1), np.clip(ui + du, 0, w - 1)]
            ok |= (d > 0) & (np.abs(d - z) <= ratio * d)
    return ok


def scan_frames(
    source: FrameSource,
    axis_alignment: np.ndarray,
    pts: PointsByInstance,
    chosen: np.ndarray,
    appearance: np.ndarray,
    fps: float,
    depth_ratio: float,
    min_visible_points: int,
    appearance_min_points: int,
    box_tolerance_px: int = 1,
) -> tuple[tuple[FrameInfo, ...], dict[str, float]]:
    """Visit the chosen frames (views + 2D boxes) and the appearance frames (counts only), reading each depth once.

    First appearance of a category = time of the first visited frame where its instances' visible points sum to
    at least ``appearance_min_points``. Appearance-only frames stop being read once every category has appeared.
    """
    pose_of = {int(i): p for i, p in zip(source.frame_indices, source.poses, strict=True)}
    chosen_set = set(int(i) for i in chosen)
    order = sorted(chosen_set | set(int(i) for i in appearance))
    categories = sorted(set(pts.categories))
    cat_index = {c: k for k, c in enumerate(categories)}
    owner_cat = np.array([cat_index[c] for c in pts.categories], dtype=np.int64)
    first: dict[str, float] = {}
    frames: list[FrameInfo] = []
    last_chosen = max(chosen_set) if chosen_set else -1

    def needed(i: int) -> bool:
        return i in chosen_set or len(first) < len(categories)

    todo = [i for i in order]
    for i, depth in source.depth_m(i for i in todo if needed(i)):
        camera_to_world = axis_alignment @ pose_of[i]
        vis = frame_visibility(
            pts,
            camera_to_world,
            depth,
            source.intrinsic_depth,
            source.intrinsic_color,
            source.color_size,
            depth_ratio,
            with_boxes=i in chosen_set,
            box_tolerance_px=box_tolerance_px,
        )
        if len(first) < len(categories):
            per_cat = np.bincount(owner_cat, weights=vis.visible, minlength=len(categories))
            for c in np.flatnonzero(per_cat >= appearance_min_points):
                first.setdefault(categories[c], i / fps)
        if i in chosen_set:
            views = {}
            for row in np.flatnonzero(vis.visible >= min_visible_points):
                box = vis.bbox_2d[row]
                views[int(pts.ids[row])] = InstanceView(
                    visible_points=int(vis.visible[row]),
                    visible_fraction=float(vis.visible[row] / vis.in_view[row]),
                    bbox_2d=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                )
            position = tuple(float(v) for v in camera_to_world[:3, 3])
            forward = tuple(float(v) for v in camera_to_world[:3, 2])  # OpenCV camera axes: +z looks ahead
            frames.append(
                FrameInfo(i, i / fps, source.image_path(i), tuple(source.color_size), views, position, forward)
            )
        if i >= last_chosen and len(first) == len(categories):
            break
    return tuple(frames), first
