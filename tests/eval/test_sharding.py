"""Multi-process sharding and merge, exercised with explicit rank/world_size (no processes launched)."""

import json
import logging
import random
from pathlib import Path

import pytest

from spatialladder.errors import ConfigError
from spatialladder.eval import get_benchmark
from spatialladder.eval.generation import HFGenerator
from spatialladder.eval.predict import predict_shard
from spatialladder.eval.runner import run_eval
from spatialladder.eval.sharding import deal, dist_env, merge_predictions, rank_files, shard, shard_path

from .test_runner import make_cfg, predictions


def test_shards_are_disjoint_covering_and_deterministic():
    items = list(range(7))
    shards = [shard(items, r, 3) for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4], [2, 5]]
    assert sorted(sum(shards, [])) == items
    with pytest.raises(ConfigError, match="rank 3 / world size 3"):
        shard(items, 3, 3)
    assert shard_path(Path("o"), 0, 1) == Path("o/predictions.jsonl")
    assert shard_path(Path("o"), 2, 4) == Path("o/predictions.rank2.jsonl")


def test_whole_videos_dealt_largest_first_to_the_least_loaded_rank_by_hand():
    # a: 3 questions, b: 2, c: 1, then one question without a video. a → rank 0 (both empty: the lower rank),
    # b → rank 1, c → rank 1 (2 < 3), the last one → rank 0 (3 = 3: the lower rank)
    items = ["a0", "b0", "a1", "c0", "a2", "b1", "x"]
    video = {"a": "a", "b": "b", "c": "c", "x": None}
    shards = [shard(items, r, 2, key=lambda item: video[item[0]]) for r in range(2)]
    assert shards == [["a0", "a1", "a2", "x"], ["b0", "c0", "b1"]]  # each rank's questions in benchmark order


def test_video_shards_are_disjoint_covering_balanced_and_deterministic():
    """VSI-Bench-like: videos with 1-20 questions each, shuffled across the file, a few questions without video."""
    rng = random.Random(0)
    keys: list[str | None] = [f"v{v}" for v in range(40) for _ in range(rng.randint(1, 20))] + [None] * 7
    rng.shuffle(keys)
    largest = max(keys.count(k) for k in set(keys) - {None})
    for world in (1, 2, 3, 8):
        owner = deal(keys, world)
        assert owner == deal(list(keys), world)  # deterministic
        shards = [shard(range(len(keys)), r, world, key=keys.__getitem__) for r in range(world)]
        assert sorted(i for s in shards for i in s) == list(range(len(keys)))  # disjoint and covering
        assert all(s == sorted(s) for s in shards)  # benchmark order within a shard
        for video in set(keys) - {None}:
            assert len({owner[i] for i, k in enumerate(keys) if k == video}) == 1  # one rank per video
        sizes = [len(s) for s in shards]
        assert max(sizes) - min(sizes) <= largest, (world, sizes)
    # without videos (image benchmarks) the split is the balanced round-robin: i % world_size
    assert deal([None] * 7, 3) == [0, 1, 2, 0, 1, 2, 0]


def test_dist_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert dist_env() == (0, 1)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert dist_env() == (1, 2)
    monkeypatch.setenv("WORLD_SIZE", "x")
    with pytest.raises(ConfigError, match="must be integers"):
        dist_env()


def _write(path: Path, rows: list[dict], tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def test_merge_keeps_each_id_once_and_survives_a_torn_shard(tmp_path: Path):
    _write(tmp_path / "predictions.jsonl", [{"id": "1", "prediction": "old"}])
    _write(
        tmp_path / "predictions.rank0.jsonl",
        [{"id": "0", "prediction": "a"}, {"id": "2", "prediction": "c"}],
        tail='{"id": "4", "predi',
    )
    _write(tmp_path / "predictions.rank1.jsonl", [{"id": "1", "prediction": "new"}, {"id": "3", "prediction": "d"}])
    merged = merge_predictions(tmp_path)
    assert {i: r["prediction"] for i, r in merged.items()} == {"1": "old", "0": "a", "2": "c", "3": "d"}
    lines = [json.loads(x)["id"] for x in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert sorted(lines) == ["0", "1", "2", "3"]
    assert rank_files(tmp_path) == []
    assert merge_predictions(tmp_path) == merged  # idempotent


def test_merge_writes_benchmark_order_then_other_ids(tmp_path: Path):
    _write(tmp_path / "predictions.jsonl", [{"id": "1", "prediction": "b"}])
    _write(tmp_path / "predictions.rank0.jsonl", [{"id": "4", "prediction": "e"}, {"id": "3", "prediction": "d"}])
    _write(tmp_path / "predictions.rank1.jsonl", [{"id": "9", "prediction": "z"}, {"id": "0", "prediction": "a"}])
    merged = merge_predictions(tmp_path, order=["0", "1", "2", "3", "4"])
    assert list(merged) == ["0", "1", "3", "4", "9"]  # "2" not predicted yet; "9" is from another subset
    lines = [json.loads(x)["id"] for x in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert lines == ["0", "1", "3", "4", "9"]


def test_two_ranks_then_crash_then_merge_equals_one_process(
    tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    spec = get_benchmark("vsibench")
    samples = spec.load(vsi_dir)  # ids 0-2 on scene0000_00, 3-5 on scene0001_00
    cfg = make_cfg(tiny_model_dir, vsi_dir, tmp_path / "sharded", batch_size=2)
    generate = HFGenerator(cfg)
    with caplog.at_level(logging.INFO, logger="spatialladder.eval"):
        assert predict_shard(cfg, spec, samples, rank=0, world_size=2, generate=generate) == (3, 0)
        assert predict_shard(cfg, spec, samples, rank=1, world_size=2, generate=generate) == (3, 0)
    # each rank holds one whole video, so each decodes (and encodes) only that one
    assert caplog.text.count("1 videos decoded, 2 reused from the frame cache") == 2
    out = tmp_path / "sharded"
    rank1 = out / "predictions.rank1.jsonl"
    assert [json.loads(x)["id"] for x in (out / "predictions.rank0.jsonl").read_text().splitlines()] == ["0", "1", "2"]
    # rank 1 "crashed" while writing its last record; a rerun of that rank redoes only that sample
    lines = rank1.read_text().splitlines()
    rank1.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:10])
    assert predict_shard(cfg, spec, samples, rank=1, world_size=2, generate=generate) == (1, 2)
    # the main process merges and scores (here as a 1-process rerun: nothing left to generate)
    result = run_eval(cfg, rank=0, world_size=1)
    assert (result.n_generated, result.n_reused) == (0, 6) and result.results["n"] == 6
    assert rank_files(out) == []
    # the merged file reads in benchmark order, whatever the shards were
    assert [json.loads(x)["id"] for x in (out / "predictions.jsonl").read_text().splitlines()] == list("012345")
    run_eval(make_cfg(tiny_model_dir, vsi_dir, tmp_path / "single", batch_size=6), rank=0, world_size=1)
    assert predictions(out) == predictions(tmp_path / "single")
