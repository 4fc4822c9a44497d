"""Every malformed scene input raises SceneFormatError naming the scene, the file and the problem."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from spatialladder.errors import SceneFormatError
from spatialladder.scannet.pipeline import build_scene_meta
from spatialladder.scannet.sens import SensFile
from spatialladder.testing.synthetic_scannet import write_synthetic_scene

SCENE = "scene0042_00"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return write_synthetic_scene(tmp_path_factory.mktemp("pristine"), SCENE, n_frames=6, layout="both").scene_dir


@pytest.fixture
def scene_dir(pristine, tmp_path):
    return shutil.copytree(pristine, tmp_path / SCENE)


def expect_error(scene_dir, settings, file_name, match, **update):
    with pytest.raises(SceneFormatError, match=match) as info:
        build_scene_meta(scene_dir, settings.model_copy(update=update) if update else settings)
    assert info.value.scene == SCENE and file_name in str(info.value) and file_name in info.value.file


def test_pristine_scene_builds(scene_dir, settings):
    assert build_scene_meta(scene_dir, settings).object_counts["chair"] == 2


@pytest.mark.parametrize("suffix", [".txt", "_vh_clean_2.ply", "_vh_clean_2.0.010000.segs.json", ".aggregation.json"])
def test_missing_file(scene_dir, settings, suffix):
    (scene_dir / f"{SCENE}{suffix}").unlink()
    expect_error(scene_dir, settings, f"{SCENE}{suffix}", "missing file")


def test_missing_sens_in_raw_layout(scene_dir, settings):
    (scene_dir / f"{SCENE}.sens").unlink()
    expect_error(scene_dir, settings, f"{SCENE}.sens", "missing file", layout="raw")


@pytest.mark.parametrize("suffix", ["_vh_clean_2.0.010000.segs.json", ".aggregation.json"])
def test_malformed_json(scene_dir, settings, suffix):
    (scene_dir / f"{SCENE}{suffix}").write_text('{"segIndices": [1, 2,')
    expect_error(scene_dir, settings, f"{SCENE}{suffix}", "malformed JSON")


def test_json_with_wrong_structure(scene_dir, settings):
    (scene_dir / f"{SCENE}.aggregation.json").write_text(json.dumps({"segGroups": [{"label": "chair"}]}))
    expect_error(scene_dir, settings, f"{SCENE}.aggregation.json", r"segGroups\[0\]")


def test_ply_without_expected_properties(scene_dir, settings):
    ply = scene_dir / f"{SCENE}_vh_clean_2.ply"
    ply.write_bytes(ply.read_bytes().replace(b"property uchar red\n", b"property uchar reed\n", 1))
    expect_error(scene_dir, settings, ply.name, r"lacks properties \['red'\]")


def test_ply_truncated(scene_dir, settings):
    ply = scene_dir / f"{SCENE}_vh_clean_2.ply"
    data = ply.read_bytes()
    ply.write_bytes(data[: data.index(b"end_header\n") + 100])
    expect_error(scene_dir, settings, ply.name, "truncated")


def test_segs_length_mismatch(scene_dir, settings):
    segs = scene_dir / f"{SCENE}_vh_clean_2.0.010000.segs.json"
    data = json.loads(segs.read_text())
    data["segIndices"] = data["segIndices"][:-3]
    segs.write_text(json.dumps(data))
    expect_error(scene_dir, settings, segs.name, "but the mesh has")


def test_segment_ids_absent_from_mesh(scene_dir, settings):
    agg = scene_dir / f"{SCENE}.aggregation.json"
    data = json.loads(agg.read_text())
    data["segGroups"][0]["segments"].append(987654321)
    agg.write_text(json.dumps(data))
    expect_error(scene_dir, settings, f"{SCENE}_vh_clean_2.0.010000.segs.json", "987654321")


def test_truncated_sens(scene_dir, settings):
    sens = scene_dir / f"{SCENE}.sens"
    data = sens.read_bytes()
    sens.write_bytes(data[: len(data) - 500])
    expect_error(scene_dir, settings, sens.name, "truncated .sens", layout="raw")
    sens.write_bytes(data[:200])
    expect_error(scene_dir, settings, sens.name, "truncated .sens", layout="raw")


def test_no_valid_pose(scene_dir, settings):
    for pose in (scene_dir / "pose").iterdir():
        pose.write_text("\n".join(["-inf -inf -inf -inf"] * 4))
    expect_error(scene_dir, settings, "pose/", "no valid pose among 6 frames", layout="exported")


def test_no_valid_pose_in_sens(tmp_path, settings):
    gt = write_synthetic_scene(tmp_path, SCENE, n_frames=3, invalid_frames=(0, 1, 2))
    expect_error(gt.scene_dir, settings, f"{SCENE}.sens", "no valid pose among 3 frames")


def test_bad_axis_alignment(scene_dir, settings):
    txt = scene_dir / f"{SCENE}.txt"
    lines = [line if not line.startswith("axisAlignment") else "axisAlignment = 1 0 0" for line in
             txt.read_text().splitlines()]  # fmt: skip
    txt.write_text("\n".join(lines))
    expect_error(scene_dir, settings, txt.name, "axisAlignment needs 16 finite numbers, got 3")


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        ("1 0 0 0 0 -1 0 0 0 0 1 0 0 0 0 1", r"det -1\.000; a reflection would swap left and right"),  # y mirrored
        ("2 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1", r"rigid transform .*det \+2\.000"),  # scaled
        ("1 0 0 0 0 1 0 0 0 0 1 0 0 0 1 1", "last row must be 0 0 0 1"),
    ],
)
def test_axis_alignment_must_be_rigid(scene_dir, settings, matrix, match):
    txt = scene_dir / f"{SCENE}.txt"
    lines = [line if not line.startswith("axisAlignment") else f"axisAlignment = {matrix}" for line in
             txt.read_text().splitlines()]  # fmt: skip
    txt.write_text("\n".join(lines))
    expect_error(scene_dir, settings, txt.name, match)


def test_sens_streams_only_requested_frames(pristine):
    sens = SensFile(SCENE, pristine / f"{SCENE}.sens")
    assert sens.header.num_frames == 6 and sens.header.depth_shift == 1000.0
    assert sens.header.color_compression == "jpeg" and sens.header.depth_compression == "zlib_ushort"
    assert np.isinf(sens.poses[2]).all() and np.isfinite(sens.poses[[0, 1, 3, 4, 5]]).all()
    frames = list(sens.read_frames([4, 1], color=False))
    assert [i for i, _, _ in frames] == [4, 1]
    assert frames[0][1] is None and frames[0][2].dtype == np.uint16 and frames[0][2].shape == (120, 160)
    from spatialladder.scannet.frames import ExportedFrames

    exported = dict(ExportedFrames(SCENE, pristine).depth_m([4]))
    np.testing.assert_array_equal(frames[0][2].astype(np.float32) / 1000.0, exported[4])
    with pytest.raises(IndexError, match="out of range"):
        list(sens.read_frames([6]))
