"""Multi-process sharding and merge, exercised with explicit rank/world_size (no processes launched)."""

import json
from pathlib import Path

import pytest

from spatialladder.errors import ConfigError
from spatialladder.eval import get_benchmark
from spatialladder.eval.generation import HFGenerator
from spatialladder.eval.predict import predict_shard
from spatialladder.eval.runner import run_eval
from spatialladder.eval.sharding import dist_env, merge_predictions, rank_files, shard, shard_path

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


def test_two_ranks_then_crash_then_merge_equals_one_process(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path):
    spec = get_benchmark("vsibench")
    samples = spec.load(vsi_dir)
    cfg = make_cfg(tiny_model_dir, vsi_dir, tmp_path / "sharded", batch_size=2)
    generate = HFGenerator(cfg)
    assert predict_shard(cfg, spec, samples, rank=0, world_size=2, generate=generate) == (3, 0)
    assert predict_shard(cfg, spec, samples, rank=1, world_size=2, generate=generate) == (3, 0)
    out = tmp_path / "sharded"
    rank1 = out / "predictions.rank1.jsonl"
    assert [json.loads(x)["id"] for x in (out / "predictions.rank0.jsonl").read_text().splitlines()] == ["0", "2", "4"]
    # rank 1 "crashed" while writing its last record; a rerun of that rank redoes only that sample
    lines = rank1.read_text().splitlines()
    rank1.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:10])
    assert predict_shard(cfg, spec, samples, rank=1, world_size=2, generate=generate) == (1, 2)
    # the main process merges and scores (here as a 1-process rerun: nothing left to generate)
    result = run_eval(cfg, rank=0, world_size=1)
    assert (result.n_generated, result.n_reused) == (0, 6) and result.results["n"] == 6
    assert rank_files(out) == []
    run_eval(make_cfg(tiny_model_dir, vsi_dir, tmp_path / "single", batch_size=6), rank=0, world_size=1)
    assert predictions(out) == predictions(tmp_path / "single")
