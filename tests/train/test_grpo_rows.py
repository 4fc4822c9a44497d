"""Spatial records → GRPO rows: the stage-3 text, vision columns per modality, the answer columns for rewards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialladder.errors import DataFormatError
from spatialladder.prompts import MCA_THINK_POST, NA_THINK_POST, grpo_user_text
from spatialladder.train.grpo_rows import load_grpo_rows, record_to_row, rows_to_dataset
from spatialladder.train.video_grpo import with_video_part


def test_tiny_records_become_rows_per_modality(tiny_records: dict[str, Path]) -> None:
    data = load_grpo_rows([tiny_records["spatial"]], video_frames=4)
    assert [data.count(t) for t in ("single_image", "multi_view", "video")] == [4, 4, 4]
    single, multi, video = data.rows[:3]
    assert len(single["images"]) == 1 and single["video"] == []
    assert len(multi["images"]) == 8 and multi["video"] == []
    # 4 of 6 frames at the official floor(linspace(0, 5, 4)) = [0, 1, 3, 5] (rounding would pick frame 2, not 1)
    assert video["images"] == [] and [Path(p).name for p in video["video"]] == ["0.jpg", "20.jpg", "60.jpg", "100.jpg"]
    assert (single["solution"], single["answer_kind"], single["question_type"]) == ("A", "mca", "relative distance")
    assert (multi["solution"], multi["answer_kind"], multi["question_type"]) == ("1", "na", "object count")
    text = single["prompt"][0]["content"]
    assert single["prompt"] == [{"role": "user", "content": text}]
    assert text == grpo_user_text(
        "Which is closer to the door in the red room?", ["A. chair", "B. table"], "mca", fidelity="fixed"
    )
    assert text.endswith(MCA_THINK_POST) and multi["prompt"][0]["content"].endswith(NA_THINK_POST)


def test_official_fidelity_uses_the_training_text(tiny_records: dict[str, Path]) -> None:
    row = load_grpo_rows([tiny_records["spatial"]], fidelity="official").rows[0]
    assert row["prompt"][0]["content"].startswith(
        "Question: Which is closer to the door in the red room?\nOptions:\nA. chair\nB. table \nPlease Think about"
    )


def test_max_samples_is_a_seeded_counted_subset(tiny_records: dict[str, Path]) -> None:
    a = load_grpo_rows([tiny_records["spatial"]], max_samples=5, shuffle_seed=3)
    b = load_grpo_rows([tiny_records["spatial"]], max_samples=5, shuffle_seed=3)
    assert [r["question_id"] for r in a.rows] == [r["question_id"] for r in b.rows]
    assert len(a.rows) == 5 and a.skipped == {"beyond data.max_samples": 7}


def test_bad_records_name_file_and_line(tmp_path: Path, tiny_records: dict[str, Path]) -> None:
    good = json.loads(tiny_records["spatial"].read_text().splitlines()[0])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**good, "options": None}) + "\n")
    with pytest.raises(
        DataFormatError, match=r"bad.jsonl:1: question_type 'relative distance' is MCA but the record lacks"
    ):
        load_grpo_rows([bad], tiny_records["spatial"].parent / "images")
    with pytest.raises(DataFormatError, match=r"<record>: image 'nope.jpg' not found"):
        record_to_row({**good, "image": ["nope.jpg"]}, tmp_path)


def test_video_part_goes_before_the_text_unless_official() -> None:
    prompt = [{"role": "user", "content": "Q?"}]
    first = with_video_part(prompt, ["f0", "f1"])
    assert first[0]["content"] == [{"type": "video", "video": ["f0", "f1"]}, {"type": "text", "text": "Q?"}]
    last = with_video_part(prompt, ["f0", "f1"], text_before_video=True)
    assert [p["type"] for p in last[0]["content"]] == ["text", "video"]
    assert prompt == [{"role": "user", "content": "Q?"}]


def test_dataset_decodes_images_lazily(tiny_records: dict[str, Path]) -> None:
    ds = rows_to_dataset(load_grpo_rows([tiny_records["spatial"]], video_frames=4).rows)
    row = ds[2]
    assert row["images"] == [] and len(row["video"]) == 4 and row["video"][0].size == (112, 84)
    assert ds[1]["images"][7].mode == "RGB"
