"""Readers for the files of one ScanNet v2 scene folder (raw release and exported frames).

Every malformed or missing input raises SceneFormatError(scene, file, problem).
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElementParseError, PlyHeaderParseError

from spatialladder.errors import SceneFormatError

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class ScenePaths:
    """Where each file of a scene lives (raw release names)."""

    scene_id: str
    root: Path

    @property
    def txt(self) -> Path:
        return self.root / f"{self.scene_id}.txt"

    @property
    def ply(self) -> Path:
        return self.root / f"{self.scene_id}_vh_clean_2.ply"

    @property
    def segs(self) -> Path:
        return self.root / f"{self.scene_id}_vh_clean_2.0.010000.segs.json"

    @property
    def aggregation(self) -> Path:
        return self.root / f"{self.scene_id}.aggregation.json"

    @property
    def sens(self) -> Path:
        return self.root / f"{self.scene_id}.sens"


def _require(scene: str, path: Path) -> Path:
    if not path.is_file():
        raise SceneFormatError(scene, path.name, f"missing file (looked for {path})")
    return path


def _read_json(scene: str, path: Path) -> object:
    _require(scene, path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SceneFormatError(scene, path.name, f"malformed JSON ({exc})") from exc


# --------------------------------------------------------------------------------------------------- <scene>.txt


@dataclass(frozen=True)
class ScanInfo:
    """The parts of ``<scene>.txt`` we use. Intrinsics are 3×3 pinhole matrices."""

    axis_alignment: np.ndarray  # (4, 4); identity when the key is absent (test scenes)
    color_size: tuple[int, int] | None  # (width, height)
    depth_size: tuple[int, int] | None
    intrinsic_color: np.ndarray | None
    intrinsic_depth: np.ndarray | None


def _pinhole(values: dict[str, str], kind: str) -> np.ndarray | None:
    keys = [f"fx_{kind}", f"fy_{kind}", f"mx_{kind}", f"my_{kind}"]
    if not all(k in values for k in keys):
        return None
    fx, fy, mx, my = (float(values[k]) for k in keys)
    return np.array([[fx, 0.0, mx], [0.0, fy, my], [0.0, 0.0, 1.0]])


def _check_rigid(matrix: np.ndarray, tol: float = 1e-3) -> None:
    """axisAlignment must be a rotation + translation: a reflection (det −1) would swap every left and right."""
    rotation = matrix[:3, :3]
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=tol) or np.linalg.det(rotation) < 0:
        raise ValueError(
            f"axisAlignment must be a rigid transform (orthonormal rotation, det +1), got det "
            f"{np.linalg.det(rotation):+.3f}; a reflection would swap left and right in every answer"
        )
    if not np.allclose(matrix[3], [0.0, 0.0, 0.0, 1.0], atol=tol):
        raise ValueError(f"axisAlignment's last row must be 0 0 0 1, got {matrix[3].tolist()}")


def read_scan_info(scene: str, path: Path) -> ScanInfo:
    """Parse the ``key = value`` lines of ``<scene>.txt``."""
    _require(scene, path)
    values: dict[str, str] = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        if "=" not in line:
            raise SceneFormatError(scene, path.name, f"line {line_no} is not 'key = value': {line[:80]!r}")
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    try:
        if "axisAlignment" in values:
            numbers = [float(x) for x in values["axisAlignment"].split()]
            if len(numbers) != 16 or not np.all(np.isfinite(numbers)):
                raise ValueError(f"axisAlignment needs 16 finite numbers, got {len(numbers)}")
            axis = np.array(numbers).reshape(4, 4)
            _check_rigid(axis)
        else:
            axis = np.eye(4)
        color = (int(values["colorWidth"]), int(values["colorHeight"])) if "colorWidth" in values else None
        depth = (int(values["depthWidth"]), int(values["depthHeight"])) if "depthWidth" in values else None
        k_color, k_depth = _pinhole(values, "color"), _pinhole(values, "depth")
    except ValueError as exc:
        raise SceneFormatError(scene, path.name, f"bad value ({exc})") from exc
    return ScanInfo(axis, color, depth, k_color, k_depth)


# --------------------------------------------------------------------------------------------------- PLY

REQUIRED_VERTEX_PROPERTIES = ("x", "y", "z", "red", "green", "blue")
_TRIANGLE_LISTS = {"face": {"vertex_indices": 3, "vertex_index": 3}}
"""ScanNet meshes are triangle meshes; declaring the face list length lets plyfile memory-map the face block instead
of parsing it face by face (plyfile checks every length and we fall back to the general parser if one differs)."""


@dataclass(frozen=True)
class Mesh:
    """Mesh vertices in the raw (unaligned) scan frame; faces are not needed downstream."""

    vertices: np.ndarray  # (N, 3) float64
    colors: np.ndarray  # (N, 3) uint8
    num_faces: int


def _parse_ply(scene: str, path: Path) -> PlyData:
    """plyfile's reader, its errors turned into one-line SceneFormatErrors naming the file."""

    def read(known_list_len: dict) -> PlyData:
        with path.open("rb") as handle:
            return PlyData.read(handle, mmap="c", known_list_len=known_list_len)

    try:
        try:
            return read(_TRIANGLE_LISTS)
        except PlyElementParseError as exc:
            if exc.message != "unexpected list length":
                raise
            return read({})  # not a pure triangle mesh: plyfile's general (row by row) parser
    except PlyHeaderParseError as exc:
        if exc.message == "expected 'ply'":
            raise SceneFormatError(scene, path.name, "not a PLY file (first line is not 'ply')") from exc
        raise SceneFormatError(scene, path.name, f"bad PLY header ({exc})") from exc
    except PlyElementParseError as exc:
        element = exc.element.name if exc.element is not None else "?"
        if exc.message == "early end-of-file":
            count = exc.element.count if exc.element is not None else "?"
            problem = f"truncated: element '{element}' declares {count} rows, the data ends at row {exc.row}"
        else:
            problem = f"malformed PLY data ({exc})"
        raise SceneFormatError(scene, path.name, problem) from exc
    except UnicodeDecodeError as exc:
        raise SceneFormatError(
            scene, path.name, f"PLY header is not ASCII text ({exc.reason} at byte {exc.start})"
        ) from exc
    except (ValueError, OSError) as exc:  # unmappable files and other read failures
        raise SceneFormatError(scene, path.name, f"cannot read PLY ({type(exc).__name__}: {exc})") from exc


def read_ply(scene: str, path: Path) -> Mesh:
    """The vertex block (x y z red green blue, other properties ignored) and face count of a PLY mesh.

    Read with plyfile, as ScanNet's own scripts do (ScanNet/BenchmarkScripts/util_3d.py ``read_mesh_vertices``);
    ScanNet's ``_vh_clean_2.ply`` is binary little-endian with float x y z, uchar red green blue alpha and
    triangle faces, but any PLY encoding plyfile reads gives the same arrays.
    """
    _require(scene, path)
    ply = _parse_ply(scene, path)
    if not ply.elements or ply.elements[0].name != "vertex":
        raise SceneFormatError(scene, path.name, "first PLY element must be 'vertex'")
    table = ply.elements[0].data
    names = list(table.dtype.names or ())
    missing = [p for p in REQUIRED_VERTEX_PROPERTIES if p not in names]
    if missing:
        raise SceneFormatError(scene, path.name, f"vertex lacks properties {missing}; has {names}")
    xyz = np.stack([table["x"], table["y"], table["z"]], axis=1).astype(np.float64)
    if not np.all(np.isfinite(xyz)):
        raise SceneFormatError(scene, path.name, "vertex coordinates contain NaN or inf")
    rgb = np.stack([table["red"], table["green"], table["blue"]], axis=1).astype(np.uint8)
    faces = next((e.count for e in ply.elements if e.name == "face"), 0)
    return Mesh(vertices=xyz, colors=rgb, num_faces=faces)


# --------------------------------------------------------------------------------------------------- segs / aggregation


def read_segs(scene: str, path: Path, num_vertices: int) -> np.ndarray:
    """Segment id per mesh vertex from ``*.segs.json``."""
    data = _read_json(scene, path)
    if not isinstance(data, dict) or not isinstance(data.get("segIndices"), list):
        raise SceneFormatError(scene, path.name, "expected an object with a 'segIndices' list")
    try:
        seg = np.asarray(data["segIndices"], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise SceneFormatError(scene, path.name, f"segIndices must be integers ({exc})") from exc
    if seg.ndim != 1 or len(seg) != num_vertices:
        raise SceneFormatError(scene, path.name, f"segIndices has {seg.size} entries but the mesh has {num_vertices}")
    return seg


@dataclass(frozen=True)
class SegGroup:
    object_id: int
    label: str
    segments: tuple[int, ...]


def read_aggregation(scene: str, path: Path) -> tuple[list[SegGroup], int]:
    """segGroups of ``<scene>.aggregation.json``; exact duplicates (scene0217_00) are dropped and counted."""
    data = _read_json(scene, path)
    if not isinstance(data, dict) or not isinstance(data.get("segGroups"), list):
        raise SceneFormatError(scene, path.name, "expected an object with a 'segGroups' list")
    groups, seen, duplicates = [], set(), 0
    for k, group in enumerate(data["segGroups"]):
        try:
            object_id = int(group.get("objectId", group.get("id")))
            label = str(group["label"])
            segments = tuple(int(s) for s in group["segments"])
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise SceneFormatError(
                scene, path.name, f"segGroups[{k}] needs integer objectId/id, a label and a segments list ({exc!r})"
            ) from exc
        key = (label, tuple(sorted(segments)))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        groups.append(SegGroup(object_id, label, segments))
    if duplicates:
        logger.info("scene %s: dropped %d duplicated segGroups in %s", scene, duplicates, path.name)
    return groups, duplicates


# --------------------------------------------------------------------------------------------------- exported layout

_FRAME_NAME = re.compile(r"^(\d+)$")


def _indexed_files(folder: Path, suffix: str) -> dict[int, Path]:
    out = {}
    for path in folder.iterdir():
        if path.suffix.lower() == suffix and _FRAME_NAME.match(path.stem):
            out[int(path.stem)] = path
    return out


def read_matrix_txt(scene: str, path: Path, shape: tuple[int, int] = (4, 4)) -> np.ndarray:
    """A whitespace-separated matrix file (pose or intrinsic); non-finite values are kept for the caller."""
    _require(scene, path)
    try:
        values = np.array(path.read_text(encoding="utf-8").split(), dtype=np.float64)
    except ValueError as exc:
        raise SceneFormatError(scene, path.name, f"not a numeric matrix ({exc})") from exc
    if values.size != shape[0] * shape[1]:
        raise SceneFormatError(scene, path.name, f"expected {shape[0]}×{shape[1]} numbers, got {values.size}")
    return values.reshape(shape)


def decode_color(scene: str, file: str, data: bytes) -> np.ndarray:
    """JPEG/PNG bytes → (H, W, 3) uint8."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise SceneFormatError(scene, file, f"cannot decode colour image ({exc})") from exc


def decode_depth_png(scene: str, file: str, data: bytes) -> np.ndarray:
    """16-bit PNG bytes → (H, W) uint16 millimetres."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            arr = np.asarray(img)
    except (UnidentifiedImageError, OSError) as exc:
        raise SceneFormatError(scene, file, f"cannot decode depth PNG ({exc})") from exc
    if arr.ndim != 2:
        raise SceneFormatError(scene, file, f"depth PNG must be single-channel 16-bit, got shape {arr.shape}")
    return arr.astype(np.uint16)
