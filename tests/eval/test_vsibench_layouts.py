"""VSI-Bench as published today: both Hub layouts, the debiased subset, which file was read, per-source scores."""

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spatialladder.config.base import ModelSettings
from spatialladder.config.eval import EvalConfig
from spatialladder.errors import DataFormatError
from spatialladder.eval import get_benchmark
from spatialladder.eval.report import file_hashes
from spatialladder.eval.runner import run_eval, run_score
from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_vsibench

OPTS4 = ["A. bed", "B. tv", "C. sofa", "D. lamp"]


def items() -> list[BenchItem]:
    """Six questions on three sources; ids 2 and 4 pruned (so VSI-Bench-Debiased is ids 0, 1, 3, 5)."""
    s, a, p = solid_frames(4, seed=1), solid_frames(4, seed=2), solid_frames(4, seed=3)
    return [
        BenchItem("object_counting", "How many chair(s) are in this room?", "2", "scene0000_00", s),
        BenchItem("object_abs_distance", "How far is the bed from the tv?", "4", "scene0000_00", s),
        BenchItem(
            "object_rel_distance", "Which is closest?", "A", "41069025", a, OPTS4, dataset="arkitscenes", pruned=True
        ),
        BenchItem("object_counting", "How many bed(s) are in this room?", "3", "41069025", a, dataset="arkitscenes"),
        BenchItem("room_size_estimation", "What is the size?", "20", "38d58a7a31", p, dataset="scannetpp", pruned=True),
        BenchItem("object_rel_distance", "Which is farthest?", "B", "38d58a7a31", p, OPTS4, dataset="scannetpp"),
    ]


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vsibench(items(), tmp_path_factory.mktemp("vsi_current"))


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vsibench(items(), tmp_path_factory.mktemp("vsi_original"), layout="original")


def copy_files(src: Path, dst: Path, names: list[str]) -> Path:
    dst.mkdir()
    for name in names:
        shutil.copy(src / name, dst / name)
    return dst


def view(samples, root: Path) -> list[tuple]:
    return [
        (s.id, s.question_type, s.question, s.ground_truth, s.kind, s.options, s.source, s.video.relative_to(root))
        for s in samples
    ]


def test_writer_makes_the_current_hub_files(current: Path):
    names = {p.name for p in current.iterdir() if p.is_file()}
    assert names == {"test.jsonl", "pruned_ids.txt", "test_debiased.parquet", "test_pruned.parquet"}
    assert (current / "pruned_ids.txt").read_text() == "2\n4\n"
    debiased = pq.read_table(current / "test_debiased.parquet").to_pylist()
    pruned = pq.read_table(current / "test_pruned.parquet").to_pylist()
    assert [(r["id"], r["pruned"]) for r in debiased] == [(0, False), (1, False), (3, False), (5, False)]
    assert [(r["id"], r["pruned"]) for r in pruned] == [(2, True), (4, True)]
    assert "__index_level_0__" not in debiased[0]  # create_pq.py's index=False
    assert debiased[0]["options"] is None and debiased[3]["options"] == OPTS4


def test_both_layouts_load_the_same_questions(current: Path, original: Path):
    spec = get_benchmark("vsi")
    got = view(spec.load(current), current)
    assert got == view(spec.load(original), original)
    assert [g[0] for g in got] == ["0", "1", "2", "3", "4", "5"]
    assert got[2][5:8] == (tuple(OPTS4), "arkitscenes", Path("arkitscenes/41069025.mp4"))
    assert got[0][5:7] == (None, "scannet")


def test_debiased_subset_is_exactly_the_ids_not_pruned(current: Path, tmp_path: Path):
    spec = get_benchmark("vsi-debiased")
    from_parquet = spec.load(current)
    assert [s.id for s in from_parquet] == ["0", "1", "3", "5"]
    # without the parquet: test.jsonl minus pruned_ids.txt, the same samples
    jsonl_only = copy_files(current, tmp_path / "jsonl", ["test.jsonl", "pruned_ids.txt"])
    shutil.copytree(current / "scannet", jsonl_only / "scannet")
    shutil.copytree(current / "arkitscenes", jsonl_only / "arkitscenes")
    shutil.copytree(current / "scannetpp", jsonl_only / "scannetpp")
    assert view(spec.load(jsonl_only), jsonl_only) == view(from_parquet, current)
    assert spec.question_file(jsonl_only)["pruned_ids"]["path"] == str(jsonl_only / "pruned_ids.txt")
    # the parquet alone (a download of the debiased config only) is enough
    parquet_only = copy_files(current, tmp_path / "pq", ["test_debiased.parquet"])
    assert [s.id for s in spec.load(parquet_only, media=False)] == ["0", "1", "3", "5"]


def test_debiased_parquet_and_pruned_ids_must_agree(current: Path, tmp_path: Path):
    data = copy_files(current, tmp_path / "d", ["test.jsonl", "pruned_ids.txt", "test_debiased.parquet"])
    (data / "pruned_ids.txt").write_text("2\n")  # id 4 no longer pruned: the parquet lacks it
    with pytest.raises(DataFormatError, match=r"disagrees with test\.jsonl minus pruned_ids\.txt \(5\).*\['4'\]") as e:
        get_benchmark("vsi-debiased").load(data, media=False)
    assert "\n" not in str(e.value)


def test_current_layout_takes_precedence_over_the_original_parquet(current: Path, tmp_path: Path):
    """A folder refreshed in place holds both; the full set is read from test.jsonl, and results say so."""
    old = write_vsibench(
        [BenchItem("object_counting", "Old?", "9", "s", solid_frames(2))], tmp_path / "old", layout="original"
    )
    data = copy_files(current, tmp_path / "both", ["test.jsonl", "pruned_ids.txt"])
    shutil.copy(old / "test-00000-of-00001.parquet", data / "test-00000-of-00001.parquet")
    spec = get_benchmark("vsibench")
    assert [s.question for s in spec.load(data, media=False)][:1] == ["How many chair(s) are in this room?"]
    assert spec.question_file(data)["path"] == str(data / "test.jsonl")
    # the original parquet alone is still read
    (data / "test.jsonl").unlink()
    assert [s.question for s in spec.load(data, media=False)] == ["Old?"]
    assert spec.question_file(data) == {
        "path": str(data / "test-00000-of-00001.parquet"),
        "sha256": hashlib.sha256((data / "test-00000-of-00001.parquet").read_bytes()).hexdigest(),
        "subset": "full",
    }


def test_a_folder_with_neither_layout_is_a_one_line_error(tmp_path: Path, original: Path):
    (tmp_path / "README.md").write_text("x")
    with pytest.raises(DataFormatError) as e:
        get_benchmark("vsi").load(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "test.jsonl" in msg and "test-00000-of-00001.parquet" in msg
    assert "found ['README.md']" in msg
    with pytest.raises(DataFormatError, match="test_debiased.parquet, or test.jsonl \\+ pruned_ids.txt") as e:
        get_benchmark("vsi-debiased").load(original)  # the original release has no debiased subset
    assert "\n" not in str(e.value)


def test_id_and_options_columns_per_file(tmp_path: Path):
    """String ids in the jsonl and ``[]`` options are read as the parquet's int ids and null options."""
    data = tmp_path / "v"
    data.mkdir()
    row = {"dataset": "scannet", "scene_name": "s", "question_type": "object_counting", "question": "q"}
    lines = [{**row, "id": "7", "ground_truth": "2", "options": []}, {**row, "id": "8", "ground_truth": "3"}]
    (data / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (data / "pruned_ids.txt").write_text("8\n")
    samples = get_benchmark("vsi").load(data, media=False)
    assert [(s.id, s.options) for s in samples] == [("7", None), ("8", None)]
    assert [s.id for s in get_benchmark("vsi-debiased").load(data, media=False)] == ["7"]
    (data / "test.jsonl").write_text("{not json\n")
    with pytest.raises(DataFormatError, match=r"test\.jsonl:1: not valid JSON"):
        get_benchmark("vsi").load(data, media=False)


def write_predictions(path: Path, answers: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "prediction": a}) + "\n" for i, a in answers.items()))
    return path


# counting 0: 2 vs 2 → 1; abs distance 1: 3.5 vs 4 → 0.8 (|0.5|/4 = 0.125 < 1-C for 8 of the 10 C);
# rel distance 2: A = A → 1; counting 3: 2 vs 3 → 0.4 (1/3 < 1-C for C = 0.50 … 0.65); room 4: 20 → 1; rel 5: A ≠ B → 0
ANSWERS = {"0": "2", "1": "3.5", "2": "A", "3": "2", "4": "20", "5": "A"}


def test_score_breaks_the_full_set_down_by_source(current: Path, tmp_path: Path):
    preds = write_predictions(tmp_path / "p.jsonl", ANSWERS)
    results = run_score("vsi", preds, current, tmp_path / "out", prompt="direct")
    # overall = mean(counting (1+0.4)/2, abs 0.8, rel (1+0)/2, room 1) = 0.75
    assert results["overall"] == pytest.approx(75.0)
    per_source = results["aggregate"]["per_source"]
    assert list(per_source) == ["arkitscenes", "scannet", "scannetpp"]
    assert per_source["arkitscenes"]["per_type"] == pytest.approx(
        {"object_rel_distance": 100.0, "object_counting": 40.0}
    )
    assert per_source["arkitscenes"]["overall"] == pytest.approx(70.0) and per_source["arkitscenes"]["n"] == 2
    assert per_source["scannet"]["overall"] == pytest.approx(90.0) and per_source["scannet"]["n"] == 2
    assert per_source["scannetpp"]["overall"] == pytest.approx(50.0) and per_source["scannetpp"]["n"] == 2
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["settings"]["benchmark_file"] == {
        "path": str(current / "test.jsonl"),
        "sha256": hashlib.sha256((current / "test.jsonl").read_bytes()).hexdigest(),
        "subset": "full",
    }
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| task | arkitscenes | scannet | scannetpp | overall |" in md
    assert "| object_counting | 40.00 | 100.00 | — | 70.00 |" in md
    assert "| **overall** | **70.00** | **90.00** | **50.00** | **75.00** |" in md
    assert "| n | 2 | 2 | 2 | 6 |" in md


def test_score_debiased_subset_records_its_file(current: Path, tmp_path: Path):
    preds = write_predictions(tmp_path / "p.jsonl", {i: a for i, a in ANSWERS.items() if i not in ("2", "4")})
    results = run_score("vsi-debiased", preds, current, tmp_path / "out", prompt="direct")
    assert results["bench"] == "vsibench-debiased" and results["n"] == 4
    # counting (1 + 0.4)/2, abs 0.8, rel 0 → 0.5
    assert results["overall"] == pytest.approx(50.0)
    assert {s: v["overall"] for s, v in results["aggregate"]["per_source"].items()} == pytest.approx(
        {"arkitscenes": 40.0, "scannet": 90.0, "scannetpp": 0.0}
    )
    record = results["settings"]["benchmark_file"]
    assert (record["path"], record["subset"]) == (str(current / "test_debiased.parquet"), "debiased")
    assert record["sha256"] == hashlib.sha256((current / "test_debiased.parquet").read_bytes()).hexdigest()
    # pruned ids decide the subset: hashed with the question files
    assert file_hashes(current)["pruned_ids.txt"] == hashlib.sha256(b"2\n4\n").hexdigest()
    with pytest.raises(DataFormatError, match="ids not in vsibench-debiased"):
        run_score("vsi-debiased", write_predictions(tmp_path / "all.jsonl", ANSWERS), current, tmp_path / "o2")


def test_eval_vsi_debiased_end_to_end(tiny_model_dir: Path, current: Path, tmp_path: Path):
    cfg = EvalConfig(
        kind="eval",
        bench="vsi-debiased",
        data_dir=str(current),
        output_dir=str(tmp_path / "run"),
        model=ModelSettings(name_or_path=str(tiny_model_dir), dtype="float32", min_pixels=784, max_pixels=3136),
        prompt="direct",
        frames=4,
        batch_size=4,
        generation={"max_new_tokens": 4},
    )
    result = run_eval(cfg)
    assert result.n_generated == 4
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["bench"] == "vsibench-debiased" and saved["n"] == 4 and saved["n_missing"] == 0
    assert saved["settings"]["benchmark_file"]["subset"] == "debiased"
    assert saved["settings"]["benchmark_file"]["path"] == str(current / "test_debiased.parquet")
    assert {k: v["n"] for k, v in saved["aggregate"]["per_source"].items()} == {
        "arkitscenes": 1,
        "scannet": 2,
        "scannetpp": 1,
    }
    ids = [json.loads(line)["id"] for line in (tmp_path / "run" / "scores.jsonl").read_text().splitlines()]
    assert ids == ["0", "1", "3", "5"]
    assert "## Per source" in (tmp_path / "run" / "results.md").read_text()


def test_lmms_prompt_is_allowed_on_the_debiased_subset(tmp_path: Path):
    cfg = EvalConfig(kind="eval", bench="vsi-debiased", data_dir=str(tmp_path), output_dir=str(tmp_path), prompt="lmms")
    assert cfg.bench == "vsi-debiased"
