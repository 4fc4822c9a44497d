"""Synthetic ScanNet v2 scenes with known geometry, written in the real on-disk formats.

A box room (floor + walls as a triangle mesh, no ceiling) holds cuboid objects. The writer emits the raw layout
(``<id>.txt`` with a non-identity axisAlignment, binary PLY, segs, aggregation, ``.sens`` with JPEG colour and zlib
depth) and/or the exported layout (color/, depth/, pose/, intrinsic/). Depth is ray-cast, so occlusion is real.
The returned SyntheticScene is the ground truth (and is also written to ``synthetic_ground_truth.json``).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

from spatialladder.scannet.types import Box3D
from spatialladder.testing.writers import write_sens


@dataclass(frozen=True)
class SyntheticObject:
    """A cuboid in the axis-aligned frame: ``center`` is the box centre, ``yaw`` rotates about z (radians)."""

    raw_label: str
    category: str | None  # expected VSI category after label mapping; None = dropped
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0

    @property
    def rotation(self) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    @property
    def box(self) -> Box3D:
        return Box3D(np.array(self.center, float), np.array(self.size, float), self.rotation)


def _obj(label: str, cat: str | None, xy: tuple[float, float], size: tuple[float, float, float], yaw=0.0, z0=0.0):
    return SyntheticObject(label, cat, (xy[0], xy[1], z0 + size[2] / 2.0), size, yaw)


def synthetic_label_map() -> Path:
    """A label map for synthetic scenes: the real ``scannetv2-labels.combined.tsv`` header and the rows of every raw
    label these scenes use (shipped with the package, so tests and the demo need no ScanNet download)."""
    from importlib import resources

    return Path(str(resources.files("spatialladder.testing").joinpath("synthetic_labels.tsv")))


ROOM_SIZE = (5.0, 4.0, 2.5)
DEFAULT_OBJECTS: tuple[SyntheticObject, ...] = (
    _obj("couch", "sofa", (2.5, 0.55), (2.0, 0.9, 0.8)),
    _obj("pillow", "pillow", (2.0, 0.6), (0.45, 0.15, 0.4), z0=0.8),
    _obj("desk", "table", (4.3, 2.0), (0.7, 1.4, 0.75)),
    _obj("chair", "chair", (3.55, 1.6), (0.5, 0.5, 0.9), yaw=0.3),
    _obj("chair", "chair", (3.55, 2.5), (0.5, 0.5, 0.9), yaw=-0.2),
    _obj("bookshelf", "bookshelf", (0.6, 2.0), (0.35, 1.0, 1.8)),
    _obj("backpack", "backpack", (0.2, 2.0), (0.25, 0.3, 0.4)),  # hidden behind the bookshelf
    _obj("lamp", "lamp", (4.6, 3.6), (0.3, 0.3, 1.5)),
    _obj("trash can", "trash bin", (1.2, 3.7), (0.3, 0.3, 0.5), yaw=0.5),
    _obj("door", "door", (4.96, 0.8), (0.06, 0.9, 2.0)),
    _obj("cabinet", None, (2.6, 3.7), (1.0, 0.45, 0.9)),  # not in the vocabulary: dropped
)
HIDDEN_LABEL = "backpack"


@dataclass(frozen=True)
class SyntheticScene:
    """Ground truth of a written scene (all geometry in the axis-aligned frame)."""

    scene_dir: Path
    scene_id: str
    room_size: tuple[float, float, float]
    axis_alignment: np.ndarray
    objects: tuple[SyntheticObject, ...]
    object_ids: tuple[int, ...]  # objectId of each object in the aggregation
    camera_to_world_aligned: np.ndarray  # (n, 4, 4); invalid frames hold the pose they would have had
    invalid_frames: tuple[int, ...]
    intrinsic_depth: np.ndarray  # (3, 3)
    intrinsic_color: np.ndarray  # (3, 3)
    depth_size: tuple[int, int]
    color_size: tuple[int, int]
    num_vertices: int
    layout: str
    frame_names: dict[int, str] = field(default_factory=dict)

    @property
    def room_area_m2(self) -> float:
        return self.room_size[0] * self.room_size[1]

    @property
    def expected_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.objects:
            if o.category is not None:
                out[o.category] = out.get(o.category, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        return {
            "scene_id": self.scene_id,
            "room_size": list(self.room_size),
            "room_area_m2": self.room_area_m2,
            "axis_alignment": self.axis_alignment.tolist(),
            "objects": [
                {
                    "object_id": i,
                    "raw_label": o.raw_label,
                    "category": o.category,
                    "center": list(o.center),
                    "size": list(o.size),
                    "yaw": o.yaw,
                }
                for i, o in zip(self.object_ids, self.objects, strict=True)
            ],  # fmt: skip
            "expected_counts": self.expected_counts,
            "invalid_frames": list(self.invalid_frames),
            "num_frames": len(self.camera_to_world_aligned),
            "num_vertices": self.num_vertices,
        }


# --------------------------------------------------------------------------------------------------- mesh


def _lattice(origin: np.ndarray, d: np.ndarray, spacing: float) -> np.ndarray:
    """Parameters in [0, 1] along d: both ends plus every point whose coordinate along d's direction is a multiple
    of ``spacing``, so parallel faces of different objects share vertex positions (exact point distances)."""
    length = float(np.linalg.norm(d))
    start = float(origin @ d) / length
    inner = np.arange(math.ceil(start / spacing + 1e-9), math.floor((start + length) / spacing - 1e-9) + 1) * spacing
    t = np.concatenate([[0.0], (inner - start) / length, [1.0]])
    return t[np.concatenate([[True], np.diff(t) > 1e-9])]


def _grid_patch(origin, du, dv, spacing) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (including the edges) and triangles of the parallelogram origin + a·du + b·dv, a, b ∈ [0, 1]."""
    ta, tb = _lattice(origin, du, spacing), _lattice(origin, dv, spacing)
    nu, nv = len(ta), len(tb)
    a, b = np.meshgrid(ta, tb, indexing="ij")
    verts = origin + a.reshape(-1, 1) * du + b.reshape(-1, 1) * dv
    ii, jj = np.meshgrid(np.arange(nu - 1), np.arange(nv - 1), indexing="ij")
    v00 = (ii * nv + jj).ravel()
    tris = np.concatenate([np.stack([v00, v00 + nv, v00 + nv + 1], 1), np.stack([v00, v00 + nv + 1, v00 + 1], 1)])
    return verts, tris


def _cuboid_patches(obj: SyntheticObject, spacing: float) -> list[tuple[np.ndarray, np.ndarray]]:
    r, half = obj.rotation, np.array(obj.size) / 2.0
    c = np.array(obj.center)
    patches = []
    for axis in range(3):
        u_axis, v_axis = [a for a in range(3) if a != axis]
        for sign in (-1.0, 1.0):
            local_origin = np.zeros(3)
            local_origin[axis] = sign * half[axis]
            local_origin[u_axis], local_origin[v_axis] = -half[u_axis], -half[v_axis]
            du, dv = np.zeros(3), np.zeros(3)
            du[u_axis], dv[v_axis] = 2 * half[u_axis], 2 * half[v_axis]
            patches.append(_grid_patch(c + r @ local_origin, r @ du, r @ dv, spacing))
    return patches


def _room_patches(room: tuple[float, float, float], spacing: float) -> tuple[list, list]:
    w, d, h = room
    floor = []
    for x0, x1 in ((0.0, w / 2), (w / 2, w)):
        for y0, y1 in ((0.0, d / 2), (d / 2, d)):
            floor.append(_grid_patch(np.array([x0, y0, 0.0]), np.array([x1 - x0, 0, 0]), np.array([0, y1 - y0, 0]),
                                     spacing))  # fmt: skip
    corners = [np.array(p, float) for p in ((0, 0, 0), (w, 0, 0), (w, d, 0), (0, d, 0))]
    walls = [_grid_patch(corners[k], corners[(k + 1) % 4] - corners[k], np.array([0, 0, h]), spacing) for k in range(4)]
    return floor, walls


def _write_ply(path: Path, xyz: np.ndarray, rgb: np.ndarray, faces: np.ndarray) -> None:
    """ScanNet's ``_vh_clean_2.ply`` layout: binary little-endian, float x y z, uchar red green blue alpha, triangle
    faces (a uchar-counted int list)."""
    vertex = np.empty(len(xyz), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"),
                                       ("blue", "u1"), ("alpha", "u1")])  # fmt: skip
    vertex["x"], vertex["y"], vertex["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    vertex["red"], vertex["green"], vertex["blue"], vertex["alpha"] = rgb[:, 0], rgb[:, 1], rgb[:, 2], 255
    face = np.empty(len(faces), dtype=[("vertex_indices", "<i4", (3,))])
    face["vertex_indices"] = faces
    elements = [
        PlyElement.describe(vertex, "vertex"),
        PlyElement.describe(face, "face", len_types={"vertex_indices": "u1"}),
    ]
    PlyData(elements, byte_order="<", comments=["synthetic ScanNet scene (spatialladder)"]).write(str(path))


def encode_depth_png(depth_mm: np.ndarray) -> bytes:
    """(H, W) uint16 millimetres → 16-bit PNG bytes, as ScanNet's exported depth/ frames."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(depth_mm, dtype=np.uint16)).save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------- rendering


def look_around_poses(room: tuple[float, float, float], n: int, turns: float = 1.0, radius: float = 0.3,
                      height: float = 1.4, pitch_deg: float = -15.0) -> np.ndarray:  # fmt: skip
    """Camera-to-world poses (OpenCV axes) circling the room centre while panning ``turns`` full turns."""
    w, d, _ = room
    poses = np.zeros((n, 4, 4))
    pitch = math.radians(pitch_deg)
    for k in range(n):
        yaw = 2 * math.pi * turns * k / max(n, 1)
        fwd = np.array([math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), math.sin(pitch)])
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        poses[k, :3, :3] = np.stack([right, down, fwd], axis=1)
        poses[k, :3, 3] = [w / 2 + radius * math.cos(yaw + 0.7), d / 2 + radius * math.sin(yaw + 0.7), height]
        poses[k, 3, 3] = 1.0
    return poses


def render_depth(
    camera_to_world: np.ndarray,
    k_depth: np.ndarray,
    size: tuple[int, int],
    room: tuple[float, float, float],
    objects: Sequence[SyntheticObject],
) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast depth (metres along the camera z axis, 0 = no surface) and surface ids (object k, −1 none,
    −2 floor, −3 wall) at pixel centres."""
    w, h = size
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    d_cam = np.stack([(u - k_depth[0, 2]) / k_depth[0, 0], (v - k_depth[1, 2]) / k_depth[1, 1], np.ones_like(u)], -1)
    dirs = d_cam.reshape(-1, 3) @ camera_to_world[:3, :3].T  # t along dirs == camera depth
    origin = camera_to_world[:3, 3]
    # Room: the ray leaves the box [0,W]×[0,D]×[0,H] through a wall, the floor, or the open top.
    hi = np.array(room)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_axes = np.where(dirs > 0, (hi - origin) / dirs, np.where(dirs < 0, -origin / dirs, np.inf))
    axis = np.argmin(t_axes, axis=1)
    depth = t_axes[np.arange(len(dirs)), axis]
    ids = np.where(axis == 2, np.where(dirs[:, 2] < 0, -2, -1), -3)
    depth = np.where(ids == -1, np.inf, depth)
    world_to_cam = np.linalg.inv(camera_to_world)
    all_rays = np.arange(len(dirs))
    for k, obj in enumerate(objects):
        half = np.array(obj.size) / 2.0
        # Screen-space cull: only rays inside the projected box corners can hit it.
        corners = obj.box.corners @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        if np.all(corners[:, 2] <= 1e-3):
            continue
        if np.all(corners[:, 2] > 1e-3):
            pu = corners[:, 0] / corners[:, 2] * k_depth[0, 0] + k_depth[0, 2]
            pv = corners[:, 1] / corners[:, 2] * k_depth[1, 1] + k_depth[1, 2]
            u0, u1 = max(0, math.floor(pu.min()) - 1), min(w - 1, math.ceil(pu.max()) + 1)
            v0, v1 = max(0, math.floor(pv.min()) - 1), min(h - 1, math.ceil(pv.max()) + 1)
            if u0 > u1 or v0 > v1:
                continue
            sel = (np.arange(v0, v1 + 1)[:, None] * w + np.arange(u0, u1 + 1)[None, :]).ravel()
        else:
            sel = all_rays
        c, s_ = math.cos(obj.yaw), math.sin(obj.yaw)
        rel = origin - np.array(obj.center)
        o_local = (c * rel[0] + s_ * rel[1], -s_ * rel[0] + c * rel[1], rel[2])
        dx, dy, dz = dirs[sel, 0], dirs[sel, 1], dirs[sel, 2]
        t_near = np.full(len(sel), -np.inf)
        t_far = np.full(len(sel), np.inf)
        for axis, d_axis in enumerate((c * dx + s_ * dy, -s_ * dx + c * dy, dz)):
            d_axis = np.where(np.abs(d_axis) < 1e-12, 1e-12, d_axis)
            t1 = (-half[axis] - o_local[axis]) / d_axis
            t2 = (half[axis] - o_local[axis]) / d_axis
            t_near = np.maximum(t_near, np.minimum(t1, t2))
            t_far = np.minimum(t_far, np.maximum(t1, t2))
        hit = (t_near <= t_far) & (t_near > 0) & (t_near < depth[sel])
        depth[sel[hit]] = t_near[hit]
        ids[sel[hit]] = k
    depth = np.where(np.isfinite(depth), depth, 0.0)
    return depth.reshape(h, w), ids.reshape(h, w)


def _palette(n_objects: int) -> np.ndarray:
    rng = np.random.default_rng(12345)
    colors = rng.integers(40, 255, size=(n_objects + 3, 3)).astype(np.uint8)
    return colors  # rows: objects..., then none, floor, wall (indexed with id % len)


def _encode_jpeg(ids: np.ndarray, color_size: tuple[int, int], palette: np.ndarray) -> bytes:
    from PIL import Image

    rgb = palette[ids % len(palette)]
    img = Image.fromarray(rgb).resize(color_size, Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------- writer


def default_axis_alignment(seed: int) -> np.ndarray:
    """A non-identity alignment (rotation about z + translation), as ScanNet's axisAlignment."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0.3, 1.2)
    c, s = math.cos(angle), math.sin(angle)
    a = np.eye(4)
    a[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    a[:3, 3] = rng.uniform(-3, 3, size=3) * [1, 1, 0.1]
    return a


def _fmt_matrix(m: np.ndarray) -> str:
    return "\n".join(" ".join(repr(float(x)) for x in row) for row in np.asarray(m, dtype=np.float64)) + "\n"


def write_synthetic_scene(
    root: Path | str,
    scene_id: str = "scene0000_00",
    objects: Sequence[SyntheticObject] | None = None,
    n_frames: int = 40,
    layout: str = "raw",
    seed: int = 0,
    room_size: tuple[float, float, float] = ROOM_SIZE,
    depth_size: tuple[int, int] = (160, 120),
    color_size: tuple[int, int] = (320, 240),
    invalid_frames: Sequence[int] = (2,),
    object_spacing: float = 0.05,
    room_spacing: float = 0.1,
    pad_width: int = 0,
    duplicate_groups: bool = False,
    unique_views: int | None = None,
    turns: float = 1.0,
) -> SyntheticScene:
    """Write ``root/<scene_id>/`` and return its ground truth.

    ``layout``: "raw" (txt, ply, segs, aggregation, .sens), "exported" (the same meta files + color/ depth/ pose/
    intrinsic/, no .sens) or "both". ``pad_width`` zero-pads exported frame names. ``duplicate_groups`` lists every
    segGroup twice (as ScanNet's scene0217_00). ``unique_views`` renders only that many distinct views and cycles
    them (with their poses) to make long .sens files quickly. Frames in ``invalid_frames`` get an all −inf pose.
    Like a ScanNet download, ``root`` also gets ``scannetv2-labels.combined.tsv`` (the shipped subset) if it has none.
    """
    if layout not in ("raw", "exported", "both"):
        raise ValueError(f"layout must be raw, exported or both, got {layout!r}")
    objects = tuple(DEFAULT_OBJECTS if objects is None else objects)
    scene_dir = Path(root) / scene_id
    scene_dir.mkdir(parents=True, exist_ok=True)
    label_map = Path(root) / "scannetv2-labels.combined.tsv"
    if not label_map.is_file():
        label_map.write_bytes(synthetic_label_map().read_bytes())
    rng = np.random.default_rng(seed)
    align = default_axis_alignment(seed)
    to_raw = np.linalg.inv(align)

    # Mesh, segments and groups.
    floor, walls = _room_patches(room_size, room_spacing)
    verts, faces, seg_of_vertex, colors = [], [], [], []
    groups: list[dict] = []
    seg_ids = iter(rng.permutation(np.arange(1, 200 * (len(objects) + 10))) * 3 + 7)
    palette = _palette(len(objects))
    offset = 0

    def add(patches, label: str, object_id: int, color: np.ndarray) -> None:
        nonlocal offset
        segments = []
        for pv, pt in patches:
            sid = int(next(seg_ids))
            segments.append(sid)
            verts.append(pv)
            faces.append(pt + offset)
            seg_of_vertex.append(np.full(len(pv), sid, dtype=np.int64))
            colors.append(np.repeat(color[None], len(pv), axis=0))
            offset += len(pv)
        groups.append({"id": object_id, "objectId": object_id, "segments": segments, "label": label})

    object_ids = []
    for k, obj in enumerate(objects):
        object_ids.append(k)
        add(_cuboid_patches(obj, object_spacing), obj.raw_label, k, palette[k])
    add(floor, "floor", len(objects), palette[-2])
    for j, wall in enumerate(walls):
        add([wall], "wall", len(objects) + 1 + j, palette[-1])
    xyz_aligned = np.concatenate(verts)
    xyz_raw = (xyz_aligned @ to_raw[:3, :3].T + to_raw[:3, 3]).astype(np.float32)
    _write_ply(scene_dir / f"{scene_id}_vh_clean_2.ply", xyz_raw, np.concatenate(colors), np.concatenate(faces))
    segs = {"params": {"kThresh": "0.0001", "segMinVerts": "20"}, "sceneId": scene_id,
            "segIndices": np.concatenate(seg_of_vertex).tolist()}  # fmt: skip
    (scene_dir / f"{scene_id}_vh_clean_2.0.010000.segs.json").write_text(json.dumps(segs))
    agg_groups = [g for g in groups for _ in range(2 if duplicate_groups else 1)]
    agg = {"sceneId": f"scannet.{scene_id}", "appId": "synthetic", "segGroups": agg_groups,
           "segmentsFile": f"scannet.{scene_id}_vh_clean_2.0.010000.segs.json"}  # fmt: skip
    (scene_dir / f"{scene_id}.aggregation.json").write_text(json.dumps(agg))

    # Cameras (float32 like the .sens, so every layout carries identical numbers).
    fd = depth_size[0] * 0.75
    k_depth = np.array([[fd, 0, (depth_size[0] - 1) / 2], [0, fd, (depth_size[1] - 1) / 2], [0, 0, 1]])
    sx, sy = color_size[0] / depth_size[0], color_size[1] / depth_size[1]
    k_color = np.array([[fd * sx, 0, (color_size[0] - 1) / 2], [0, fd * sy, (color_size[1] - 1) / 2], [0, 0, 1]])
    k_depth = k_depth.astype(np.float32).astype(np.float64)
    k_color = k_color.astype(np.float32).astype(np.float64)
    views = unique_views or n_frames
    view_poses = look_around_poses(room_size, views, turns=turns)
    aligned_poses = view_poses[np.arange(n_frames) % views]
    raw_poses = (to_raw[None] @ aligned_poses).astype(np.float32).astype(np.float64)
    aligned_poses = align[None] @ raw_poses  # what a reader reconstructs
    invalid = tuple(sorted(int(i) for i in invalid_frames if 0 <= i < n_frames))
    stored_poses = raw_poses.copy()
    stored_poses[list(invalid)] = -np.inf

    info = {
        "axisAlignment": " ".join(repr(float(x)) for x in align.ravel()),
        "colorHeight": color_size[1], "colorWidth": color_size[0],
        "depthHeight": depth_size[1], "depthWidth": depth_size[0],
        "fx_color": k_color[0, 0], "fy_color": k_color[1, 1], "mx_color": k_color[0, 2], "my_color": k_color[1, 2],
        "fx_depth": k_depth[0, 0], "fy_depth": k_depth[1, 1], "mx_depth": k_depth[0, 2], "my_depth": k_depth[1, 2],
        "numColorFrames": n_frames, "numDepthFrames": n_frames, "numIMUmeasurements": 0, "sceneType": "Living room",
    }  # fmt: skip
    (scene_dir / f"{scene_id}.txt").write_text("".join(f"{k} = {v}\n" for k, v in info.items()))

    rendered: dict[int, tuple[bytes, np.ndarray]] = {}

    def frame(i: int) -> tuple[np.ndarray, bytes, np.ndarray]:
        view = i % views
        if view not in rendered:
            depth, ids = render_depth(aligned_poses[view], k_depth, depth_size, room_size, objects)
            depth_mm = np.round(depth * 1000.0).astype(np.uint16)
            rendered[view] = (_encode_jpeg(ids, color_size, palette), depth_mm)
        jpeg, depth_mm = rendered[view]
        return stored_poses[i], jpeg, depth_mm

    k4_color, k4_depth = np.eye(4), np.eye(4)
    k4_color[:3, :3], k4_depth[:3, :3] = k_color, k_depth
    names: dict[int, str] = {}
    if layout in ("raw", "both"):
        write_sens(scene_dir / f"{scene_id}.sens", k4_color, k4_depth, color_size, depth_size,
                   (frame(i) for i in range(n_frames)), n_frames)  # fmt: skip
    if layout in ("exported", "both"):
        for sub in ("color", "depth", "pose", "intrinsic"):
            (scene_dir / sub).mkdir(exist_ok=True)
        for name, mat in (("intrinsic_color", k4_color), ("intrinsic_depth", k4_depth),
                          ("extrinsic_color", np.eye(4)), ("extrinsic_depth", np.eye(4))):  # fmt: skip
            (scene_dir / "intrinsic" / f"{name}.txt").write_text(_fmt_matrix(mat))
        for i in range(n_frames):
            pose, jpeg, depth_mm = frame(i)
            name = str(i).zfill(pad_width)
            names[i] = name
            (scene_dir / "color" / f"{name}.jpg").write_bytes(jpeg)
            (scene_dir / "depth" / f"{name}.png").write_bytes(encode_depth_png(depth_mm))
            (scene_dir / "pose" / f"{name}.txt").write_text(_fmt_matrix(pose))

    scene = SyntheticScene(
        scene_dir=scene_dir,
        scene_id=scene_id,
        room_size=tuple(room_size),
        axis_alignment=align,
        objects=objects,
        object_ids=tuple(object_ids),
        camera_to_world_aligned=aligned_poses,
        invalid_frames=invalid,
        intrinsic_depth=k_depth,
        intrinsic_color=k_color,
        depth_size=tuple(depth_size),
        color_size=tuple(color_size),
        num_vertices=len(xyz_aligned),
        layout=layout,
        frame_names=names,
    )
    (scene_dir / "synthetic_ground_truth.json").write_text(json.dumps(scene.to_dict(), indent=1))
    return scene


def _floor_grid(n: int, room: tuple[float, float, float]) -> tuple[int, int, float, float]:
    """Columns, rows and cell size (width, depth in m) of a grid of at least ``n`` near-square cells over the floor."""
    cols = math.ceil(math.sqrt(n * room[0] / room[1]))
    rows = math.ceil(n / cols)
    return cols, rows, room[0] / cols, room[1] / rows


_ROOM_LABELS = (
    ("chair", 4), ("desk", 1), ("table", 2), ("couch", 1), ("bed", 1), ("pillow", 3), ("lamp", 2),
    ("trash can", 2), ("bookshelf", 1), ("monitor", 2), ("towel", 1), ("plant", 2), ("nightstand", 2),
    ("door", 1), ("cabinet", 1),
)  # fmt: skip
"""Raw ScanNet labels a sampled room draws from, with the most instances one room may hold."""


def sample_objects(rng: np.random.Generator, room: tuple[float, float, float]) -> tuple[SyntheticObject, ...]:
    """A random furnished room (the demo's scenes): 6–9 labels and their counts drawn per room (at most 14
    objects), one object per cell of a jittered floor grid, which keeps them apart; all lower than the cameras
    (1.4 m), so no camera ends up inside an object. Categories are left unset (nothing checks them)."""
    picks = rng.choice(len(_ROOM_LABELS), size=int(rng.integers(6, 10)), replace=False)
    labels = [
        label for i in sorted(picks) for label in [_ROOM_LABELS[i][0]] * int(rng.integers(1, _ROOM_LABELS[i][1] + 1))
    ]
    labels = labels[:14]
    cols, rows, cell_w, cell_d = _floor_grid(len(labels), room)
    cells = rng.permutation(cols * rows)[: len(labels)]
    out = []
    for label, cell in zip(labels, cells, strict=True):
        r, c = divmod(int(cell), cols)
        size = (rng.uniform(0.3, 0.6) * cell_w, rng.uniform(0.3, 0.6) * cell_d, rng.uniform(0.3, 1.2))
        x = (c + 0.5 + rng.uniform(-0.1, 0.1)) * cell_w
        y = (r + 0.5 + rng.uniform(-0.1, 0.1)) * cell_d
        out.append(SyntheticObject(label, None, (x, y, size[2] / 2), size, float(rng.uniform(-0.5, 0.5))))
    return tuple(out)


_BENCH_LABELS = (
    ("chair", "chair"), ("desk", "table"), ("table", "table"), ("couch", "sofa"), ("bed", "bed"),
    ("pillow", "pillow"), ("lamp", "lamp"), ("trash can", "trash bin"), ("bookshelf", "bookshelf"),
    ("monitor", "monitor"), ("towel", "towel"), ("plant", "plant"), ("nightstand", "nightstand"),
    ("cabinet", None), ("box", None),
)  # fmt: skip


def benchmark_objects(n: int, room: tuple[float, float, float], seed: int = 0) -> tuple[SyntheticObject, ...]:
    """``n`` non-overlapping cuboids on a jittered grid over the floor, labels cycling through common classes.

    The jitter is added as ``centre + u·cell`` (``sample_objects`` computes ``(centre + u)·cell``, a last-bit
    different float): kept so the ingestion benchmark scene in docs/benchmarks.md stays the same bytes."""
    rng = np.random.default_rng(seed)
    cols, _, cell_w, cell_d = _floor_grid(n, room)
    out = []
    for k in range(n):
        r, c = divmod(k, cols)
        label, cat = _BENCH_LABELS[k % len(_BENCH_LABELS)]
        size = (rng.uniform(0.3, 0.55) * cell_w, rng.uniform(0.3, 0.55) * cell_d, rng.uniform(0.3, 1.2))
        xy = (
            (c + 0.5) * cell_w + rng.uniform(-0.1, 0.1) * cell_w,
            (r + 0.5) * cell_d + rng.uniform(-0.1, 0.1) * cell_d,
        )
        out.append(_obj(label, cat, xy, size, yaw=float(rng.uniform(-0.4, 0.4))))
    return tuple(out)


def write_benchmark_scene(
    root: Path | str, scene_id: str = "scene9999_00", n_frames: int = 3000, n_objects: int = 40, seed: int = 0
) -> SyntheticScene:
    """A ScanNet-sized scene: ~150k vertices, ``n_objects`` objects, real ScanNet image sizes, long .sens."""
    room = (8.0, 6.0, 2.6)
    return write_synthetic_scene(
        root, scene_id, objects=benchmark_objects(n_objects, room, seed), n_frames=n_frames, layout="raw",
        seed=seed, room_size=room, depth_size=(640, 480), color_size=(1296, 968), invalid_frames=(5, 1700),
        object_spacing=0.035, room_spacing=0.04, unique_views=48, turns=1.0,
    )  # fmt: skip
