"""PLY meshes are read and written with plyfile; ScanNet's layout round-trips exactly and bad files are one line."""

from __future__ import annotations

import numpy as np
import pytest

from spatialladder.errors import SceneFormatError
from spatialladder.scannet.io import read_ply
from spatialladder.testing.synthetic_scannet import _write_ply

XYZ = np.array([[0.0, 0.0, 0.0], [1.5, -2.25, 0.125], [3.0, 4.0, 2.5], [-1.0, 0.5, 1.0]])
RGB = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], dtype=np.uint8)
FACES = np.array([[0, 1, 2], [0, 2, 3]])
VERTEX_HEADER = (
    "property float x\nproperty float y\nproperty float z\nproperty uchar red\nproperty uchar green\n"
    "property uchar blue\n"
)


def test_scannet_layout_round_trips(tmp_path):
    path = tmp_path / "scene0000_00_vh_clean_2.ply"
    _write_ply(path, XYZ, RGB, FACES)
    data = path.read_bytes()
    header, body = data.split(b"end_header\n", 1)
    assert header.decode() == (
        "ply\nformat binary_little_endian 1.0\ncomment synthetic ScanNet scene (spatialladder)\nelement vertex 4\n"
        + VERTEX_HEADER
        + "property uchar alpha\nelement face 2\nproperty list uchar int vertex_indices\n"
    )
    assert len(body) == 4 * (3 * 4 + 4) + 2 * (1 + 3 * 4)  # 16-byte vertices, uchar count + 3 int32 per face
    mesh = read_ply("scene0000_00", path)
    np.testing.assert_array_equal(mesh.vertices, XYZ)  # all exactly representable in float32
    assert mesh.vertices.dtype == np.float64 and mesh.colors.dtype == np.uint8
    np.testing.assert_array_equal(mesh.colors, RGB)
    assert mesh.num_faces == 2


def test_ascii_and_mixed_polygon_meshes_read_the_same(tmp_path):
    """Not ScanNet's encoding, but plyfile reads it: same arrays; a quad face takes plyfile's general parser."""
    rows = "\n".join(" ".join(f"{v:g}" for v in (*p, *c)) for p, c in zip(XYZ, RGB, strict=True))
    path = tmp_path / "ascii.ply"
    path.write_text(
        "ply\nformat ascii 1.0\nelement vertex 4\n" + VERTEX_HEADER + "element face 2\n"
        "property list uchar int vertex_indices\nend_header\n" + rows + "\n3 0 1 2\n4 0 1 2 3\n"
    )
    mesh = read_ply("scene0000_00", path)
    np.testing.assert_array_equal(mesh.vertices, XYZ)
    np.testing.assert_array_equal(mesh.colors, RGB)
    assert mesh.num_faces == 2

    binary = tmp_path / "quad.ply"
    vertex = np.zeros(
        4, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    )
    for k, name in enumerate("xyz"):
        vertex[name] = XYZ[:, k]
    for k, name in enumerate(("red", "green", "blue")):
        vertex[name] = RGB[:, k]
    faces = bytes([3]) + np.array([0, 1, 2], "<i4").tobytes() + bytes([4]) + np.array([0, 1, 2, 3], "<i4").tobytes()
    binary.write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 4\n" + VERTEX_HEADER.encode() + b"element face 2\n"
        b"property list uchar int vertex_indices\nend_header\n" + vertex.tobytes() + faces
    )
    mesh = read_ply("scene0000_00", binary)
    np.testing.assert_array_equal(mesh.vertices, XYZ)
    assert mesh.num_faces == 2


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda b: b"", r"not a PLY file \(first line is not 'ply'\)"),
        (lambda b: b[: b.index(b"end_header")], r"bad PLY header \(line 14: early end-of-file\)"),
        (lambda b: b[:-5], r"truncated: element 'face' declares 2 rows, the data ends at row 1"),
        (lambda b: b[: b.index(b"end_header\n") + 11 + 20], r"truncated: element 'vertex' declares 4 rows"),
        (lambda b: b.replace(b"comment synthetic", b"comment synth\xe9tic"), r"PLY header is not ASCII text"),
        (lambda b: b.replace(b"property float x", b"property flot x"), r"bad PLY header \(line 5: field type 'flot'"),
        (lambda b: b.replace(b"element vertex 4\n", b"element edge 0\nelement vertex 4\n"), "must be 'vertex'"),
    ],
)
def test_bad_ply_is_one_line_naming_the_file(tmp_path, mangle, match):
    path = tmp_path / "scene0000_00_vh_clean_2.ply"
    _write_ply(path, XYZ, RGB, FACES)
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(SceneFormatError, match=match) as info:
        read_ply("scene0000_00", path)
    assert info.value.file == path.name and "\n" not in str(info.value)
