"""MMSI-Bench and MindCube: released layouts, official prompts and answer extraction, hand-scored `score` runs."""

import json
from pathlib import Path

import pytest

from spatialladder.errors import DataFormatError
from spatialladder.eval import get_benchmark
from spatialladder.eval.messages import user_text
from spatialladder.eval.mindcube import extract_answer, setting_of
from spatialladder.eval.mmsi import extract_choice
from spatialladder.eval.runner import run_score
from spatialladder.prompts import MINDCUBE_RAW_QA_INSTRUCTION, MMSI_POST
from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_mindcube, write_mmsi


def write_preds(path: Path, preds: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "prediction": p}) + "\n" for i, p in preds.items()))
    return path


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("``B``", "B"),
        ("The answer is `C`.", "C"),
        ("\\boxed{D}", "D"),
        ("I think B.", "B"),
        ("B. chair", "B"),
        ("A chair", None),  # a letter followed by a word is not an answer
        ("``b``", None),  # the letter regex is case-sensitive
        ("no idea", None),
    ],
)
def test_mmsi_extraction(text: str, letter: str | None):
    assert extract_choice(text) == letter


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("<answer>A. Above</answer>", "A"),
        ("The answer is D", "D"),
        ("B", "B"),
        ("I pick C and then A.", "A"),  # the `X.` pattern has top priority, last match
        ("no idea", None),
        ("", None),
    ],
)
def test_mindcube_extraction(text: str, letter: str | None):
    assert extract_answer(text) == letter


def test_mindcube_setting_from_id():
    assert [setting_of(i) for i in ("around_001_q1", "Rotation_2", "among_x", "weird")] == [
        "around",
        "rotation",
        "among",
        "other",
    ]


def test_mmsi_layout_prompt_and_score(tmp_path: Path):
    q = "Which way did the camera turn?\nOptions: A: left, B: right, C: up, D: down"
    items = [
        BenchItem("Motion (Cam.)", q, "B", "s", solid_frames(2)),
        BenchItem("MSR", q, "A", "s", solid_frames(3, seed=1)),
        BenchItem("Motion (Cam.)", q, "D", "s", solid_frames(2, seed=2)),
    ]
    data = write_mmsi(items, tmp_path / "mmsi")
    spec = get_benchmark("mmsi")
    samples = spec.load(data)
    assert [len(s.images) for s in samples] == [2, 3, 2] and isinstance(samples[0].images[0], bytes)
    assert user_text(samples[0], spec, "direct") == q + MMSI_POST
    assert user_text(samples[0], spec, "thinking").startswith("Question: " + q + "\nPlease think")
    preds = write_preds(tmp_path / "p.jsonl", {"0": "``B``", "1": "A chair", "2": "C"})
    results = run_score("mmsi", preds, data, tmp_path / "o", prompt="direct")
    assert results["overall"] == pytest.approx(100 / 3)
    assert results["aggregate"]["per_type"] == {"Motion (Cam.)": 50.0, "MSR": 0.0}
    assert results["n_unparsed"] == 1
    thinking = write_preds(tmp_path / "t.jsonl", {"0": "<think>left? no</think><answer>B</answer>"})
    assert run_score("mmsi", thinking, data, tmp_path / "t")["overall"] == 100.0
    with pytest.raises(DataFormatError, match="MMSI_Bench.parquet"):
        spec.load(tmp_path)


def test_mindcube_layout_prompt_and_score(tmp_path: Path):
    q = "From view 2, where is the sofa? A. Above B. Left C. Right D. Behind"
    items = [
        BenchItem("around", q, "A", "scene_a", solid_frames(2), extra={"id": "around_0"}),
        BenchItem("rotation", q, "C", "scene_b", solid_frames(3, seed=1), extra={"id": "rotation_1"}),
        BenchItem("among", q, "D", "scene_c", solid_frames(4, seed=2), extra={"id": "among_2"}),
    ]
    data = write_mindcube(items, tmp_path / "mc")
    spec = get_benchmark("mindcube")
    samples = spec.load(data)
    assert [s.question_type for s in samples] == ["around", "rotation", "among"]
    assert samples[1].images[0] == data / "other_all_image" / "scene_b" / "1_0.png"
    assert user_text(samples[0], spec, "direct") == MINDCUBE_RAW_QA_INSTRUCTION + "\n[Question]\n" + q
    preds = write_preds(
        tmp_path / "p.jsonl", {"around_0": "<answer>A. Above</answer>", "rotation_1": "B", "among_2": "The answer is D"}
    )
    results = run_score("mindcube", preds, data, tmp_path / "o", prompt="direct")
    assert results["overall"] == pytest.approx(200 / 3)
    assert results["aggregate"]["per_type"] == {"around": 100.0, "rotation": 0.0, "among": 100.0}
    (data / "other_all_image" / "scene_c" / "2_3.png").unlink()
    with pytest.raises(DataFormatError, match=r"2_3\.png"):
        spec.load(data)
