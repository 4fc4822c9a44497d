"""``score`` reads only the question file: another harness's predictions score where no media are on disk."""

import json
import shutil
from pathlib import Path

import pytest

from spatialladder.errors import DataFormatError
from spatialladder.eval import get_benchmark
from spatialladder.eval.runner import run_score


def question_file_only(src: Path, dst: Path, name: str) -> Path:
    dst.mkdir()
    shutil.copy(src / name, dst / name)
    return dst


def write_predictions(path: Path, answers: dict[str, str], key: str = "prediction") -> Path:
    path.write_text("".join(json.dumps({"id": i, key: a}) + "\n" for i, a in answers.items()))
    return path


def test_vsibench_scored_from_the_parquet_alone(vsi_dir: Path, tmp_path: Path):
    data = question_file_only(vsi_dir, tmp_path / "VSI-Bench", "test-00000-of-00001.parquet")
    with pytest.raises(DataFormatError, match="video .* not found"):  # eval still needs the videos
        get_benchmark("vsibench").load(data)
    # ids 0..5 = counting (gt 2), abs distance (gt 4), rel distance (A), direction easy (B), medium (C), hard (D);
    # predictions in the official harness's key, as its VSI-Bench_results.jsonl writes them
    answers = {"0": "2", "1": "3.5", "2": "A", "3": "A", "4": "C", "5": "D"}
    preds = write_predictions(tmp_path / "VSI-Bench_results.jsonl", answers, key="predicted_answer")
    results = run_score("vsi", preds, data, tmp_path / "out", prompt="direct")
    # abs distance: |3.5 - 4| / 4 = 0.125 <= 1 - C for C = 0.50 … 0.85 (8 of 10) → 0.8
    # direction = mean(easy 0, medium 1, hard 1) = 2/3; overall = mean(1, 0.8, 1, 2/3) over 4 task types
    assert results["aggregate"]["per_type"] == pytest.approx(
        {
            "object_counting": 100.0,
            "object_abs_distance": 80.0,
            "object_rel_distance": 100.0,
            "object_rel_direction": 200 / 3,
        }
    )
    assert results["overall"] == pytest.approx((100 + 80 + 100 + 200 / 3) / 4)  # 86.67
    assert results["n"] == 6 and results["n_missing"] == 0
    assert results["vision_grids"]["n_without_grids"] == 6  # another harness's file carries no grids
    assert json.loads((tmp_path / "out" / "results.json").read_text())["overall"] == pytest.approx(86.6666667)


def test_spbench_scored_from_the_parquet_alone(spbench_dir: Path, tmp_path: Path):
    data = question_file_only(spbench_dir, tmp_path / "SPBench", "SPBench-SI.parquet")
    with pytest.raises(DataFormatError, match="image files not found"):
        get_benchmark("spbench-si").load(data)
    # id 0: abs distance gt 2.5, id 1: rel direction gt A
    preds = write_predictions(tmp_path / "preds.jsonl", {"0": "<answer>2.2</answer>", "1": "<answer>B</answer>"})
    results = run_score("spbench-si", preds, data, tmp_path / "out", prompt="thinking")
    # |2.2 - 2.5| / 2.5 = 0.12 <= 1 - C for C = 0.50 … 0.85 → 0.8; direction B != A → 0; mean over 2 types
    assert results["aggregate"]["per_type"] == pytest.approx({"object_abs_distance": 80.0, "object_rel_direction": 0})
    assert results["overall"] == pytest.approx(40.0)
    assert results["settings"]["benchmark_files"].keys() == {"SPBench-SI.parquet"}


def test_score_carries_the_grids_of_our_own_predictions(vsi_dir: Path, tmp_path: Path):
    data = question_file_only(vsi_dir, tmp_path / "VSI-Bench", "test-00000-of-00001.parquet")
    lines = [
        {"id": "0", "prediction": "2", "image_grid_thw": [], "video_grid_thw": [[16, 38, 50]]},
        {"id": "1", "prediction": "4", "image_grid_thw": [], "video_grid_thw": [[16, 38, 50]]},
        {"id": "2", "prediction": "A", "image_grid_thw": [], "video_grid_thw": [[16, 34, 46]]},
    ]
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in lines))
    results = run_score("vsi", preds, data, tmp_path / "out", prompt="direct")
    assert results["vision_grids"] == {
        "image_grid_thw": {},
        "video_grid_thw": {"16x38x50": 2, "16x34x46": 1},
        "n_without_grids": 0,
    }
    assert results["overall"] == pytest.approx(100.0) and results["n_missing"] == 3


def test_malformed_grids_in_a_predictions_file_are_named(vsi_dir: Path, tmp_path: Path):
    data = question_file_only(vsi_dir, tmp_path / "VSI-Bench", "test-00000-of-00001.parquet")
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "0", "prediction": "2", "video_grid_thw": "16x38x50"}) + "\n")
    with pytest.raises(DataFormatError, match="prediction '0': video_grid_thw must be a list of"):
        run_score("vsi", preds, data, tmp_path / "out", prompt="direct")
