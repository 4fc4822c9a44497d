"""SPAR-Bench: the official rules pinned on hand-computed cases, the Hub layout, and `score` end to end."""

import json
from pathlib import Path

import pytest

from spatialladder.errors import DataFormatError
from spatialladder.eval import get_benchmark
from spatialladder.eval.messages import user_text
from spatialladder.eval.runner import run_score
from spatialladder.eval.sparbench import mc_match, parse_actions, parse_spar_number, view_change_score
from spatialladder.prompts import FREE_DIRECT_POST, SPAR_BOX_NOTE
from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_sparbench


def test_lenient_mc_match():
    assert mc_match("B", "B") == 1.0
    assert mc_match("b. table", "B") == 1.0  # pred[0] == target
    assert mc_match("The answer is B", "B") == 0.0
    assert mc_match("(B)", "B") == 0.0
    assert mc_match("", "B") == 0.0
    assert mc_match("", "B", empty_is_correct=True) == 1.0  # official: "" in "b"


def test_number_parser_first_or_last():
    assert parse_spar_number("about 2.5 m, maybe 3", "depth_prediction_oc") == 2.5
    assert parse_spar_number("about 2.5 m, maybe 3", "depth_prediction_oc_mv") == 3.0
    assert parse_spar_number("x^2 = 4", "distance_prediction_oo") == 4.0  # (?<!\^) skips the exponent
    assert parse_spar_number("-1.5", "distance_prediction_oo") == 1.5  # unsigned
    assert parse_spar_number("far away", "depth_prediction_oo_mv") is None


def test_view_change_metric_fixed_and_official():
    gt = "move_right:1,rotate_left:20"
    # net axes pred [1, 0, 0, -30, 0] vs gt [1, 0, 0, -20, 0]
    # fixed: |-30+20|/20 = 0.5 → 0.1 on that axis; official MRA(gt, pred): 10/30 → 0.4
    assert view_change_score("move_right:1,rotate_left:30", gt) == (pytest.approx(4.1 / 5), True)
    assert view_change_score("move_right:1,rotate_left:30", gt, official=True) == (pytest.approx(4.4 / 5), True)
    # a space after the comma: fixed strips the key; official loses rotate_left (pred axis 0 → |−20| error → 0)
    assert view_change_score("move_right:1, rotate_left:30", gt)[0] == pytest.approx(4.1 / 5)
    assert view_change_score("move_right:1, rotate_left:30", gt, official=True)[0] == pytest.approx(4.0 / 5)
    assert view_change_score("turn left a bit", gt) == (0.0, False)
    assert parse_actions("move_up:x") is None


@pytest.fixture(scope="module")
def spar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    items = [
        BenchItem("obj_spatial_relation_oo", "Which is left? A. x B. y", "B", "s", solid_frames(1)),
        BenchItem("depth_prediction_oc_mv", "How deep?", "2.0", "s", solid_frames(3, seed=1)),
        BenchItem(
            "view_change_infer", "How did the camera move?", "move_right:1,rotate_left:20", "s", solid_frames(2, seed=2)
        ),
        BenchItem("position_matching", "Where is it? A. [1,2] B. [3,4]", "A", "s", solid_frames(1, seed=3)),
        BenchItem("depth_prediction_oc", "How deep?", "1.5", "s", solid_frames(1, seed=4)),
    ]
    return write_sparbench(items, tmp_path_factory.mktemp("spar"))


def test_loader_reads_the_hub_layout(spar_dir: Path):
    spec = get_benchmark("sparbench")
    samples = spec.load(spar_dir)
    assert [s.kind for s in samples] == ["mca", "na", "free", "mca", "na"]
    assert [len(s.images) for s in samples] == [1, 3, 2, 1, 1]
    assert [s.group for s in samples] == ["single_view", "multi_view", "multi_view", "single_view", "single_view"]
    assert samples[0].extra == "" and samples[3].extra == SPAR_BOX_NOTE and samples[1].extra is None
    box = user_text(samples[3], spec, "direct")
    assert box.startswith("Question: Where is it? A. [1,2] B. [3,4]\n\n" + SPAR_BOX_NOTE + "\nPlease answer with")
    assert user_text(samples[2], spec, "direct").endswith("\n" + FREE_DIRECT_POST)


def test_missing_parquet_lists_the_layout(tmp_path: Path):
    with pytest.raises(DataFormatError, match=r"(?s)no parquet file.*data/test-00000-of-00001\.parquet"):
        get_benchmark("sparbench").load(tmp_path)


def test_score_by_hand(tmp_path: Path, spar_dir: Path):
    preds = {
        "spar-0": "B",  # 1
        "spar-1": "first 1.0 then 2.5",  # mv → last 2.5 vs 2.0: error 0.25 → 0.6
        "spar-2": "move_right:1,rotate_left:30",  # 0.82 fixed / 0.88 official
        "spar-3": "",  # 0 fixed / 1 official
        "spar-4": "1.5 meters",  # 1
    }
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"id": i, "prediction": p}) + "\n" for i, p in preds.items()))
    fixed = run_score("sparbench", path, spar_dir, tmp_path / "f", prompt="direct")
    assert fixed["overall"] == pytest.approx(100 * 3.42 / 5)
    agg = fixed["aggregate"]
    assert agg["Low"] == pytest.approx(80.0) and agg["Middle"] == pytest.approx(41.0) and agg["High"] == 100.0
    assert agg["by_img_type"] == {"multi_view": pytest.approx(71.0), "single_view": pytest.approx(200 / 3)}
    assert fixed["n_unparsed"] == 1 and fixed["official_quirks"] is False
    official = run_score("sparbench", path, spar_dir, tmp_path / "o", prompt="direct", official_quirks=True)
    assert official["overall"] == pytest.approx(100 * 4.48 / 5) and official["official_quirks"] is True
    saved = json.loads((tmp_path / "f" / "results.json").read_text())
    assert saved["settings"]["benchmark_files"].keys() == {"data/test-00000-of-00001.parquet"}
