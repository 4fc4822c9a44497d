"""meta.json round trip, the released VSI-Bench meta-info, split hygiene and the many-scene driver."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spatialladder.errors import DataFormatError
from spatialladder.scannet.meta import load_meta_file, write_meta_json
from spatialladder.scannet.pipeline import build_scene_meta, ingest_scenes, split_filter
from spatialladder.scannet.types import SceneMeta
from spatialladder.testing.synthetic_scannet import write_synthetic_scene

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_meta_json_round_trip(tmp_path, settings):
    gt = write_synthetic_scene(tmp_path / "scans", "scene0005_00", n_frames=8)
    meta = build_scene_meta(gt.scene_dir, settings)
    path = write_meta_json(meta, tmp_path / "out" / "meta.json")
    entry = json.loads(path.read_text())["scene0005_00"]
    assert set(entry) >= {"dataset", "video_path", "room_size", "room_center", "object_counts", "object_bbox"}
    assert set(entry["object_bbox"]["chair"][0]) == {"centroid", "axesLengths", "normalizedAxes", "min", "max"}
    loaded = load_meta_file(path)["scene0005_00"]
    assert loaded.object_counts == meta.object_counts
    assert loaded.frames == meta.frames and loaded.first_appearance_s == meta.first_appearance_s
    assert (loaded.skipped_frames, loaded.invalid_frames, loaded.total_frames) == (1, (2,), 8)
    for a, b in zip(
        sorted(meta.instances, key=lambda i: i.instance_id),
        sorted(loaded.instances, key=lambda i: i.instance_id),
        strict=True,
    ):
        assert (a.instance_id, a.category, a.raw_category) == (b.instance_id, b.category, b.raw_category)
        np.testing.assert_allclose(b.box.corners, a.box.corners, atol=1e-9)
        assert b.points is None


@pytest.mark.parametrize(
    ("name", "count", "dataset"),
    [("vsibench_meta_scannet_val.json", 88, "scannet"), ("vsibench_meta_scannetpp_val.json", 50, "scannetpp"),
     ("vsibench_meta_arkitscenes_val.json", 150, "arkitscenes")],
)  # fmt: skip
def test_released_vsibench_meta_loads(name, count, dataset):
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    raw = json.loads(path.read_text())
    scenes = load_meta_file(path)
    assert len(scenes) == count
    for scene_id, scene in scenes.items():
        assert isinstance(scene, SceneMeta) and scene.dataset == dataset
        assert scene.object_counts == raw[scene_id]["object_counts"]  # trusted as released
        assert scene.room_size_m2 == raw[scene_id]["room_size"]
        for inst in scene.instances:  # box axes rebuilt as R = reshape(normalizedAxes).T are orthonormal
            np.testing.assert_allclose(inst.box.rotation.T @ inst.box.rotation, np.eye(3), atol=1e-5)
    if dataset == "scannet":
        # Every printer box list is duplicated in the release; the loader keeps one box per printer.
        printers = [(s, s.instances_of("printer")) for s in scenes.values() if "printer" in s.object_counts]
        assert printers
        for scene, insts in printers:
            assert len(insts) == scene.object_counts["printer"]
            assert scene.ingest_stats["duplicate_boxes_dropped"] >= len(insts)
        box = scenes["scene0251_00"].instances_of("chair")[0].box
        entry = raw["scene0251_00"]["object_bbox"]["chair"][0]
        np.testing.assert_allclose(box.aabb_min, entry["min"], atol=1e-6)
        np.testing.assert_allclose(box.aabb_max, entry["max"], atol=1e-6)


def test_bad_meta_files(tmp_path):
    with pytest.raises(DataFormatError, match="not found"):
        load_meta_file(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(DataFormatError, match="bad.json.*malformed JSON"):
        load_meta_file(bad)
    bad.write_text(json.dumps({"scene0000_00": {"room_size": 3.0}}))
    with pytest.raises(DataFormatError, match="bad.json: scene scene0000_00"):
        load_meta_file(bad)


def test_split_hygiene(tmp_path):
    (tmp_path / "scannetv2_train.txt").write_text("scene0000_00\nscene0001_00\n")
    (tmp_path / "scannetv2_val.txt").write_text("scene0011_00\n")
    ids = ["scene0000_00", "scene0011_00", "scene0001_00"]
    assert split_filter(ids, tmp_path, allow_val=False) == (["scene0000_00", "scene0001_00"], ["scene0011_00"])
    assert split_filter(ids, tmp_path, allow_val=True) == (ids, [])
    assert split_filter(ids, tmp_path / "nowhere", allow_val=False) == (ids, [])


def test_ingest_records_failures_and_continues(tmp_path, settings):
    scans = tmp_path / "scans"
    write_synthetic_scene(scans, "scene0000_00", n_frames=6)
    broken = write_synthetic_scene(scans, "scene0001_00", n_frames=6)
    (broken.scene_dir / "scene0001_00.aggregation.json").write_text("{not json")
    write_synthetic_scene(scans, "scene0011_00", n_frames=6)
    (tmp_path / "scannetv2_val.txt").write_text("scene0011_00\n")
    report = ingest_scenes(scans, tmp_path / "out", settings)
    assert sorted(report.written) == ["scene0000_00"]
    assert list(report.failed) == ["scene0001_00"] and "aggregation.json" in report.failed["scene0001_00"]
    assert report.refused_val == ["scene0011_00"]
    assert load_meta_file(report.written["scene0000_00"])["scene0000_00"].object_counts["chair"] == 2
