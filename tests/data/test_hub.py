"""``--format hf`` (spatialladder.data.hub): embedded images that round-trip pixel-exact through ``load_dataset``,
sharded parquet with bounded memory, a Hub card, and the ``--from-meta`` (video path) variant."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spatialladder.data.build import build_dataset, fingerprint
from spatialladder.data.hub import SCANNET_TOS, ShardStats, features_for, write_config
from spatialladder.errors import DataFormatError
from spatialladder.records import FILES, read_records

from .conftest import SCENES, make_config

SHARD = 5  # records per shard: several shards per config on the synthetic build


@pytest.fixture(scope="module")
def hf_build(scans, tmp_path_factory):
    out = tmp_path_factory.mktemp("hf_build")
    result = build_dataset(make_config(scans, out, format="hf", hf_shard_records=SHARD), progress=False)
    assert result.ok
    records = {kind: read_records(out / name, model) for kind, (name, model) in FILES.items()}
    return out, records


def load(out: Path, kind: str, cache: Path, **kwargs):
    from datasets import load_dataset

    return load_dataset(str(out / "hf"), kind, split="train", cache_dir=str(cache), **kwargs)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def test_load_dataset_yields_the_jpegs_pixel_exact(hf_build, tmp_path):
    out, records = hf_build
    compared = 0
    for kind, rows in records.items():
        ds = load(out, kind, tmp_path)
        assert len(ds) == len(rows) and ds["question_id"] == [r.question_id for r in rows]  # all, once, in order
        for row, record in zip(ds, rows, strict=True):
            frames = [row["image"]] if kind == "grounding" else row["image"]
            assert len(frames) == len(record.image)
            for frame, rel in zip(frames, record.image, strict=True):
                assert isinstance(frame, Image.Image)
                with Image.open(out / "images" / rel) as jpeg:
                    assert frame.size == jpeg.size
                    assert np.array_equal(pixels(frame), pixels(jpeg))
                compared += 1
            expected = record.model_dump(mode="json")
            assert {k: v for k, v in row.items() if k != "image"} == {k: v for k, v in expected.items() if k != "image"}
    # 6 grounding + 8 single-image + 8 × 8 multi-view + 12 × 16 video frames, plus coldstart's
    assert compared >= 6 + 8 + 64 + 192
    spatial = load(out, "spatial", tmp_path)
    numeric = [r for r in spatial if r["options"] is None]
    assert numeric and all(r["answer"].replace(".", "", 1).isdigit() for r in numeric)
    assert all(len(r["options"]) >= 2 and r["answer"] in "ABCD" for r in spatial if r["options"] is not None)
    grounding = load(out, "grounding", tmp_path)
    assert grounding[0]["answer"] == [b.model_dump() for b in records["grounding"][0].answer]


def test_parquet_embeds_the_jpeg_files_themselves(hf_build):
    import pyarrow.parquet as pq
    from datasets import Dataset, Features, List
    from datasets import Image as HfImage

    out, records = hf_build
    shards = sorted((out / "hf" / "spatial").glob("*.parquet"))
    table = pq.read_table(shards[0])
    features = Features.from_dict(json.loads(table.schema.metadata[b"huggingface"])["info"]["features"])
    assert features["image"] == List(HfImage()) and features == features_for("spatial", embed=True)
    for row, record in zip(table.column("image").to_pylist(), records["spatial"], strict=False):
        for frame, rel in zip(row, record.image, strict=True):
            assert frame["path"] == rel and frame["bytes"] == (out / "images" / rel).read_bytes()  # not re-encoded
    grounding = pq.read_table(out / "hf" / "grounding" / "train-00000-of-00002.parquet").column("image")
    assert all(cell["bytes"] for cell in grounding.to_pylist())
    # a plain parquet round trip (what push_to_hub uploads) keeps the Image features and the bytes
    ds = Dataset.from_parquet([str(p) for p in shards], features=features)
    assert len(ds) == len(records["spatial"]) and ds.features["image"] == List(HfImage())
    raw = ds.cast_column("image", List(HfImage(decode=False)))[0]["image"][0]
    assert raw["bytes"] == (out / "images" / records["spatial"][0].image[0]).read_bytes()
    # push_to_hub's embedding step (embed_external_files=True) has nothing left to fetch: the bytes stay the JPEGs
    # (it only shortens each image's path to its file name, datasets 5.2.0 features/image.py Image.embed_storage)
    from datasets.table import embed_table_storage

    before = ds.data.table.column("image").to_pylist()
    after = embed_table_storage(ds.data.table).column("image").to_pylist()
    assert [[f["bytes"] for f in row] for row in after] == [[f["bytes"] for f in row] for row in before]
    assert [[f["path"] for f in row] for row in after] == [[Path(f["path"]).name for f in row] for row in before]


def test_shards_are_named_bounded_and_complete(hf_build, tmp_path):
    out, records = hf_build
    for kind, rows in records.items():
        n = -(-len(rows) // SHARD)
        names = sorted(p.name for p in (out / "hf" / kind).glob("*.parquet"))
        assert names == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    import pyarrow.parquet as pq

    ids = []
    for shard in sorted((out / "hf" / "spatial").glob("*.parquet")):
        table = pq.read_table(shard, columns=["question_id"])
        assert table.num_rows <= SHARD
        ids += table.column("question_id").to_pylist()
    assert ids == list(range(len(records["spatial"])))
    # memory: at most one row group's records (and their JPEG bytes) are held at once
    video = [r for r in records["spatial"] if r.modality == "video"]
    stats = write_config(tmp_path / "video", "spatial", video, out / "images", shard_records=5, row_group=2)
    assert isinstance(stats, ShardStats) and len(stats.files) == 3 and stats.records == 12
    assert stats.peak_records_held == 2
    sizes = [sum((out / "images" / p).stat().st_size for p in r.image) for r in video]
    groups = [(0, 2), (2, 4), (4, 5), (5, 7), (7, 9), (9, 10), (10, 12)]  # row groups of 2 within shards of 5
    assert stats.peak_image_bytes_held == max(sum(sizes[a:b]) for a, b in groups)
    assert stats.peak_image_bytes_held < sum(sizes) / 4
    assert [pq.ParquetFile(f).metadata.num_row_groups for f in stats.files] == [3, 3, 1]


def test_card_is_a_hub_card(hf_build):
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    from spatialladder.data.command import load_data_config

    out, records = hf_build
    card = DatasetCard.load(out / "hf" / "README.md")
    data = card.data
    assert data.license == "other" and data.license_link == SCANNET_TOS
    assert "visual-question-answering" in data.task_categories
    configs = MetadataConfigs.from_dataset_card_data(data)
    assert configs == {k: {"data_files": [{"split": "train", "path": f"{k}/train-*"}]} for k in sorted(FILES)}
    infos = DatasetInfosDict.from_dataset_card_data(data)
    for kind, rows in records.items():
        assert infos[kind].features == features_for(kind, embed=True)
        assert infos[kind].splits["train"].num_examples == len(rows)
    manifest = json.loads((out / "manifest.json").read_text())
    for modality, types in manifest["counts"].items():
        for name, n in types.items():
            assert f"| {modality} | {name} | {n} |" in card.text
    blob = json.dumps(manifest["config"], sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(blob.encode()).hexdigest() in card.text
    assert "spatialladder build-data -c build_config.json" in card.text
    assert f"datasets {metadata.version('datasets')}, pyarrow {metadata.version('pyarrow')}" in card.text
    assert f"{len(SCENES)} ScanNet v2 scenes" in card.text and all(s in card.text for s in SCENES)
    assert (out / "hf" / "scenes.txt").read_text().split() == list(SCENES)
    assert f"[ScanNet Terms of Use]({SCANNET_TOS}) and may only be shared" in card.text.replace("\n", " ")
    # the resolved config beside the card rebuilds the same thing
    again = load_data_config(out / "hf" / "build_config.json")
    assert again.model_dump(mode="json") == manifest["config"]


def test_shard_size_is_not_part_of_a_scene_fingerprint(scans, tmp_path):
    quotas = {"video": 1}
    assert fingerprint(make_config(scans, tmp_path, hf_shard_records=1), SCENES[0], quotas) == fingerprint(
        make_config(scans, tmp_path), SCENES[0], quotas
    )


def test_missing_image_is_a_one_line_error(hf_build, tmp_path):
    out, records = hf_build
    images = tmp_path / "images"
    images.mkdir()
    with pytest.raises(DataFormatError, match=r"images/scene0000_00/\d+\.jpg: image of grounding record 0 not found"):
        write_config(tmp_path / "g", "grounding", records["grounding"], images, shard_records=SHARD)


def test_from_meta_exports_video_paths(tmp_path, vsi_meta_scannet):
    from datasets import List, Value
    from huggingface_hub import DatasetCard

    scenes = tmp_path / "scenes.txt"
    scenes.write_text("scene0025_01\nscene0030_02\n")
    cfg = make_config(Path("unused"), tmp_path / "out", from_meta=str(vsi_meta_scannet), scenes_file=str(scenes),
                      format="hf", scannet_root=None)  # fmt: skip
    assert build_dataset(cfg, progress=False).ok
    ds = load(tmp_path / "out", "spatial", tmp_path / "cache")
    assert ds.features["image"] == List(Value("string"))
    jsonl = read_records(tmp_path / "out" / FILES["spatial"][0], FILES["spatial"][1])
    assert len(ds) == 12 and ds["image"] == [r.image for r in jsonl]
    assert all(len(row["image"]) == 1 and row["image"][0].endswith(f"{row['scene_id']}.mp4") for row in ds)
    assert not (tmp_path / "out" / "hf" / "grounding").exists()  # no frames: no grounding records
    card = DatasetCard.load(tmp_path / "out" / "hf" / "README.md")
    digest = hashlib.sha256(vsi_meta_scannet.read_bytes()).hexdigest()
    assert f"`{vsi_meta_scannet.name}` (sha256 `{digest}`), 2 scenes" in card.text
    assert "--from-meta" in card.text and "there are no frames" in card.text
    assert set(card.data.to_dict()["configs"][0]) == {"config_name", "data_files"}
    assert "ScanNet Terms of Use" in card.text and "videos they point at are not included" in card.text


def test_card_shows_the_shortcut_audit_when_present(hf_build, tmp_path):
    from spatialladder.data.hub import write_hf

    out, records = hf_build
    manifest = json.loads((out / "manifest.json").read_text())
    row = {"file": "spatial", "modality": "video", "question_type": "object_counting", "kind": "na", "n": 40,
           "n_scenes": 2, "chance": 12.5, "majority": 61.25, "forest": 70.0, "flagged": True}  # fmt: skip
    manifest["audit"] = {"folds": 5, "seed": 0, "rows": [row, {**row, "question_type": "x", "flagged": False}]}
    counts = {"before": {"video": {"object_counting": 40}}, "after": {"video": {"object_counting": 30}}}
    manifest["debias"] = {"margin_pp": 5.0, "max_removed_fraction": 0.5, "rounds": 3, **counts}
    grounding_only = {"grounding": records["grounding"], "spatial": [], "coldstart": []}
    write_hf(tmp_path / "hf", grounding_only, manifest, out / "images", shard_records=SHARD)
    text = (tmp_path / "hf" / "README.md").read_text()
    assert "on 2 question type × modality groups; 1 flagged" in text
    assert "| spatial | video | object_counting | 40 | 12.5 | 61.2 | 70.0 |" in text
    assert "Debiased: 10 of 40 records removed in 3 round(s) (margin 5.0 pp over chance, at most 50% a type)." in text
    assert sorted(p.name for p in (tmp_path / "hf").iterdir()) == [
        "README.md", "build_config.json", "grounding", "scenes.txt"
    ]  # fmt: skip
