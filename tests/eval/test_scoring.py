"""`score` on hand-made predictions files reproduces hand-computed numbers."""

import json
from pathlib import Path

import pytest

from spatialladder.errors import DataFormatError
from spatialladder.eval.runner import run_score
from spatialladder.eval.sharding import read_predictions


def write_preds(path: Path, predictions: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "prediction": p}) + "\n" for i, p in predictions.items()))
    return path


def test_score_vsibench_by_hand(tmp_path: Path, vsi_dir: Path):
    preds = {
        "0": "<think>two chairs</think><answer>2</answer>",  # count 2 vs 2 → 1.0
        "1": "<answer>5 meters</answer>",  # 5 vs 4 → 0.6
        "2": "<answer>A. bed</answer>",  # first token A → 1
        "3": "<answer>B</answer>",  # easy → 1
        "4": "<answer>The answer is C</answer>",  # medium → 0 (not a first-token letter)
        "5": "D",  # hard, no tags → raw output → 1
    }
    results = run_score("vsi", write_preds(tmp_path / "p.jsonl", preds), vsi_dir, tmp_path / "out")
    per_type = results["aggregate"]["per_type"]
    assert per_type["object_counting"] == 100.0
    assert per_type["object_abs_distance"] == pytest.approx(60.0)
    assert per_type["object_rel_direction"] == pytest.approx(200 / 3)
    assert results["overall"] == pytest.approx((100 + 60 + 100 + 200 / 3) / 4)
    assert results["n"] == 6 and results["n_unparsed"] == 1 and results["scoring_profile"] == "spatialladder"
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["overall"] == pytest.approx(results["overall"])
    assert (tmp_path / "out" / "results.md").read_text().startswith("# vsibench: overall")
    assert (tmp_path / "out" / "results.png").stat().st_size > 0
    assert len((tmp_path / "out" / "scores.jsonl").read_text().splitlines()) == 6


def test_profiles_change_numeric_scores(tmp_path: Path, vsi_dir: Path):
    preds = write_preds(tmp_path / "p.jsonl", {"1": "about 5 m", "0": "a 2"})
    sl = run_score("vsibench", preds, vsi_dir, tmp_path / "a", prompt="direct")
    tis = run_score("vsibench", preds, vsi_dir, tmp_path / "b", prompt="lmms")
    lmms = run_score("vsibench", preds, vsi_dir, tmp_path / "c", prompt="direct", scoring="lmms-eval")
    # spatialladder: "a 2" → the word `a` → 1 (1 vs 2 → 0.1); "about 5 m" has no number word → 5 (vs 4 → 0.6)
    assert sl["aggregate"]["per_type"] == {"object_counting": pytest.approx(10.0), "object_abs_distance": 60.0}
    # vsibench-2024: first token "about"/"a" → unparsable
    assert tis["overall"] == 0.0 and tis["n_unparsed"] == 2
    # lmms-eval: first number: 5 vs 4 → 0.6; 2 vs 2 → 1.0
    assert lmms["aggregate"]["per_type"] == {"object_counting": 100.0, "object_abs_distance": pytest.approx(60.0)}
    assert sl["n_missing"] == 4


def test_spbench_keeps_its_direction_type(tmp_path: Path, spbench_dir: Path):
    preds = write_preds(tmp_path / "p.jsonl", {"0": "2.5", "1": "A"})
    assert run_score("spbench-si", preds, spbench_dir, tmp_path / "o", prompt="direct")["overall"] == 100.0
    official = run_score("spbench-si", preds, spbench_dir, tmp_path / "o", prompt="direct", direction_merge="official")
    assert official["overall"] == 100.0  # the official merge is guarded: SPBench's own direction type is kept


def test_prediction_file_errors(tmp_path: Path, vsi_dir: Path):
    with pytest.raises(DataFormatError, match="ids not in vsibench"):
        run_score("vsibench", write_preds(tmp_path / "p.jsonl", {"99": "A"}), vsi_dir, tmp_path / "o")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    with pytest.raises(DataFormatError, match="'id' and 'prediction'"):
        read_predictions(bad)


def test_torn_last_line_is_ignored_and_official_key_accepted(tmp_path: Path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 1, "predicted_answer": "A"}\n{"id": 1, "prediction": "B"}\n{"id": 2, "predi')
    records = read_predictions(path)
    assert list(records) == ["1"] and records["1"]["prediction"] == "A"
