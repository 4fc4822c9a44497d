"""ViewSpatial-Bench: official loader, prompt, case-sensitive first-token match and sample-weighted groups."""

import json
from pathlib import Path

import pytest

from spatialladder.eval import get_benchmark
from spatialladder.eval.base import EvalSample
from spatialladder.eval.messages import user_text

CAM = "Camera perspective - Relative Direction"
PERSON = "Person perspective - Object View Orientation"


def write_viewspatial(root: Path, choices) -> Path:
    (root / "scannetv2_val" / "scene0000_00").mkdir(parents=True)
    (root / "scannetv2_val" / "scene0000_00" / "1.jpg").write_bytes(b"jpg")
    record = {
        "question": "Where is the sofa?",
        "choices": choices,
        "answer": "B. right",
        "question_type": CAM,
        "image_path": ["ViewSpatial-Bench/scannetv2_val/scene0000_00/1.jpg"],
    }
    (root / "ViewSpatial-Bench.json").write_text(json.dumps([record]))
    return root


def test_loader_and_official_prompt(tmp_path: Path):
    spec = get_benchmark("viewspatial")
    (sample,) = spec.load(write_viewspatial(tmp_path, "A. left\nB. right"))
    assert sample.ground_truth == "B"  # answer[0]
    assert sample.images == (tmp_path / "scannetv2_val" / "scene0000_00" / "1.jpg",)
    assert sample.options == ("A. left", "B. right")
    # viewspatial_bench.py default mode: options appended with "\nOptions:\n", MC post without "(e.g., A, B, etc.)"
    assert user_text(sample, spec, "direct") == (
        "Question: Where is the sofa?\nOptions:\nA. left\nB. right\n\n"
        "Please answer with the option's letter from the given choices directly."
    )


def test_choices_string_split_on_newline_only(tmp_path: Path):
    (sample,) = get_benchmark("viewspatial").load(write_viewspatial(tmp_path, "A. left\r\nB. right"))
    assert sample.options == ("A. left\r", "B. right")  # official ``split('\n')``, not ``splitlines()``


def sample(question_type: str = CAM, gt: str = "B") -> EvalSample:
    return EvalSample(id="0", question_type=question_type, question="q", ground_truth=gt, kind="mca")


@pytest.mark.parametrize(
    ("pred", "score"),
    [
        ("B", 1.0),
        ("B.", 1.0),
        ("B. right", 1.0),
        ("b", 0.0),  # official compares fuzzy_matching(pred) == fuzzy_matching(gt): case-sensitive
        ("Answer: B", 0.0),  # no "Answer:" removal here (only the VSI scorer does that)
        ("The answer is B", 0.0),
        ("(B)", 0.0),  # the bracketed rule is CV-Bench's, not ViewSpatial's
    ],
)
def test_official_match(pred: str, score: float):
    assert get_benchmark("viewspatial").score(pred, sample(), "spatialladder")[0] == score


def test_sample_weighted_overall_and_groups():
    samples = [sample(CAM), sample(CAM), sample(CAM), sample(PERSON)]
    result = get_benchmark("viewspatial").aggregate(samples, [1.0, 1.0, 0.0, 0.0], "present")
    assert result["overall"] == 50.0  # 2 of 4 samples (a macro mean over the 2 tasks would be 33.3)
    assert result["per_type"] == {CAM: pytest.approx(200 / 3), PERSON: 0.0}
    assert result["scannet"] == pytest.approx(200 / 3) and result["camera"] == pytest.approx(200 / 3)
    assert result["coco"] == 0.0 and result["person"] == 0.0
