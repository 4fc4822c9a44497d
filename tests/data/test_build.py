"""build_dataset end to end on synthetic scans: schemas, images, determinism, resume, failures, parquet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from spatialladder.data.build import build_dataset, shard_path
from spatialladder.data.cot import solution_answer
from spatialladder.records import FILES, ColdStartRecord, GroundingRecord, SpatialRecord, read_records

from .conftest import SCENES, make_config

JSONL = [name for name, _ in FILES.values()]


@pytest.fixture(scope="module")
def built(scans, tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    result = build_dataset(make_config(scans, out, format="hf"), progress=False)
    return result, out


def test_records_validate_and_obey_modalities(built):
    result, out = built
    assert result.ok and not result.failed
    grounding = read_records(out / "spld_grounding_data.jsonl", GroundingRecord)
    spatial = read_records(out / "spld_spatial_data.jsonl", SpatialRecord)
    coldstart = read_records(out / "spld_coldstart_data.jsonl", ColdStartRecord)
    assert len(grounding) == 6  # quotas are exact when scenes have enough candidates
    by_modality = {m: [r for r in spatial if r.modality == m] for m in ("single_image", "multi_view", "video")}
    assert [len(v) for v in by_modality.values()] == [8, 8, 12]
    assert [r.question_id for r in spatial] == list(range(len(spatial)))
    assert all(len(r.image) == 1 for r in by_modality["single_image"])
    assert all(len(r.image) == 8 for r in by_modality["multi_view"])
    assert all(len(r.image) == 16 for r in by_modality["video"])
    assert {r.vsi_question_type for r in by_modality["single_image"]} <= {
        "object_abs_distance", "object_size_estimation", "object_rel_distance", "object_rel_direction_easy",
        "object_rel_direction_medium", "object_rel_direction_hard",
    }  # fmt: skip
    for r in spatial:
        assert (r.options is None) == (r.question_type in {"object size", "room size", "object count",
                                                           "absolute distance"})  # fmt: skip
        if r.options:
            assert r.answer in "ABCD"[: len(r.options)]
    for r in grounding:
        w, h = r.image_size
        with Image.open(out / "images" / r.image[0]) as image:
            assert image.size == (w, h) and max(w, h) <= 200
        for box in r.answer:
            x1, y1, x2, y2 = box.bbox_2d
            assert 0 <= x1 < x2 <= w - 1 and 0 <= y1 < y2 <= h - 1
    assert coldstart and all(solution_answer(c.solution) == c.answer for c in coldstart)
    # each frame's capture time is in the record: its index in the scan and the scene's clock (scannet.fps)
    for r in [*grounding, *spatial, *coldstart]:
        assert r.fps == 24.0 and r.image == [f"{r.scene_id}/{i}.jpg" for i in r.frame_indices]
    assert all(r.frame_indices == sorted(set(r.frame_indices)) for r in by_modality["video"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"]["spatial"]["records"] == len(spatial)
    assert set(manifest["scenes"]) == set(SCENES)


def test_official_files_load_with_datasets(built):
    from datasets import load_dataset

    _, out = built
    spatial = load_dataset("json", data_files=str(out / "spld_spatial_data.jsonl"), split="train")
    assert {"question_id", "question", "options", "answer", "image", "question_type", "data_type"} <= set(
        spatial.column_names
    )
    parquet = load_dataset(str(out / "hf"), "grounding", split="train")
    assert (
        parquet[0]["answer"][0]["bbox_2d"]
        == json.loads((out / JSONL[0]).read_text().splitlines()[0])["answer"][0]["bbox_2d"]
    )


def test_parallel_run_and_resume_are_byte_identical(built, scans, tmp_path):
    _, reference = built
    out = tmp_path / "parallel"
    first = build_dataset(make_config(scans, out, workers=2), progress=False)
    assert first.ok
    for name in JSONL:
        assert (out / name).read_bytes() == (reference / name).read_bytes()
    # a "killed" run: one scene's shard and every final file are missing
    shard_path(out, SCENES[1]).unlink()
    for name in JSONL:
        (out / name).unlink()
    again = build_dataset(make_config(scans, out), progress=False)
    assert again.scenes[SCENES[0]].resumed and not again.scenes[SCENES[1]].resumed
    for name in JSONL:
        assert (out / name).read_bytes() == (reference / name).read_bytes()


def test_corrupt_scene_fails_alone(scans, tmp_path):
    root = tmp_path / "scans"
    shutil.copytree(scans, root)
    bad = root / "scene0002_00"
    shutil.copytree(root / SCENES[0], bad)
    for f in bad.iterdir():
        f.rename(bad / f.name.replace(SCENES[0], "scene0002_00"))
    (bad / "scene0002_00.aggregation.json").write_text("{not json")
    result = build_dataset(make_config(root, tmp_path / "out"), progress=False)
    assert set(result.failed) == {"scene0002_00"} and "aggregation" in result.failed["scene0002_00"]
    assert not result.ok  # 1/3 failed > 5 %
    spatial = read_records(tmp_path / "out" / "spld_spatial_data.jsonl", SpatialRecord)
    assert {r.scene_id for r in spatial} == set(SCENES)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["scenes"]["scene0002_00"]["status"] == "failed"
    lenient = build_dataset(make_config(root, tmp_path / "out", max_failure_fraction=0.5), progress=False)
    assert lenient.ok


def test_from_meta_builds_video_path_records(tmp_path, vsi_meta_scannet):
    meta = vsi_meta_scannet
    scenes = tmp_path / "scenes.txt"
    scenes.write_text("scene0025_01\nscene0030_02\n")
    cfg = make_config(Path("unused"), tmp_path / "out", from_meta=str(meta), scenes_file=str(scenes),
                      scannet_root=None)  # fmt: skip
    result = build_dataset(cfg, progress=False)
    spatial = read_records(result.files["spatial"], SpatialRecord)
    assert len(spatial) == 12 and all(r.data_type == "video" and r.image[0].endswith(".mp4") for r in spatial)
    assert not read_records(result.files["grounding"], GroundingRecord)


def test_cli_build_data_from_meta(tmp_path, vsi_meta_scannet):
    from typer.testing import CliRunner

    from spatialladder.cli import app

    meta = vsi_meta_scannet
    scenes = tmp_path / "scenes.txt"
    scenes.write_text("scene0025_01\n")
    args = ["build-data", "--from-meta", str(meta), "--scenes", str(scenes), "--out", str(tmp_path / "out"),
            "--seed", "3", "--set", "mixture.reference_scenes=1", "--set", "mixture.video=5"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "scenes: 1 ok, 0 failed" in result.output
    spatial = read_records(tmp_path / "out" / "spld_spatial_data.jsonl", SpatialRecord)
    assert len(spatial) == 5 and {r.scene_id for r in spatial} == {"scene0025_01"}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["config"]["from_meta"] == str(meta)


def test_label_map_found_beside_the_scans_when_unset(scans, tmp_path):
    """ScanNet keeps scannetv2-labels.combined.tsv with the scans; the synthetic writer does too."""
    assert (scans / "scannetv2-labels.combined.tsv").is_file()
    cfg = make_config(scans, tmp_path / "out", scannet={"label_map": None})
    result = build_dataset(cfg, progress=False)
    assert result.ok and not result.failed
