"""Video time in every training path: a 32-frame record reaches Qwen3-VL and Qwen3.5 as 32 frames stamped with their
capture times, ``<mean(frame_index pair) / fps seconds>``, in the SFT batch and in the GRPO loss pass alike;
Qwen2.5-VL keeps its ``second_per_grid_ts`` declaration whatever the record says."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from spatialladder.config.load import validate_mapping
from spatialladder.config.sft import SFTStageConfig

FRAMES = 32
INDICES = [20 * i + 3 * (i % 3) for i in range(FRAMES)]
"""Where each frame sits in the scan: uneven gaps, so every stamp is its own pair's mean."""
FPS = 30.0
STAMPS = [f"<{(INDICES[2 * k] + INDICES[2 * k + 1]) / 2 / FPS:.1f} seconds>" for k in range(FRAMES // 2)]
QWEN3 = ("qwen3-vl", "qwen3.5")
PIXELS = {"qwen2.5-vl": 28 * 28, "qwen3-vl": 32 * 32, "qwen3.5": 32 * 32}
"""One merged token of each family: the budget is 1-16 tokens per frame."""


@pytest.fixture(scope="module")
def timed_records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 32-frame video record as build-data writes it (frame_indices + fps), and the same record as the released
    files hold it (neither)."""
    root = tmp_path_factory.mktemp("timed")
    folder = root / "images" / "scene0000_00"
    folder.mkdir(parents=True)
    for k, index in enumerate(INDICES):
        Image.new("RGB", (64, 48), (8 * k, 60, 255 - 8 * k)).save(folder / f"{index}.jpg")
    record = {
        "question_id": 1,
        "question": "What is the size of this room (in square meters)?",
        "options": None,
        "answer": "12",
        "image": [f"scene0000_00/{i}.jpg" for i in INDICES],
        "question_type": "room size",
        "data_type": "video",
    }
    files = {}
    for name, extra in (("timed", {"frame_indices": INDICES, "fps": FPS}), ("released", {})):
        files[name] = root / f"{name}.jsonl"
        files[name].write_text(json.dumps({**record, **extra}) + "\n", encoding="utf-8")
    return files


def model_settings(model_dir: Path, family: str) -> dict[str, Any]:
    return {"name_or_path": str(model_dir), "min_pixels": PIXELS[family], "max_pixels": 16 * PIXELS[family]}


def sft_batch(model_dir: Path, family: str, records: Path) -> tuple[Any, Any]:
    """The SFT collator's batch of the file's one row, as ``run_sft`` builds it; the video processor's
    ``do_sample_frames`` left at the class default (True), so only our kwargs keep the frames."""
    from transformers import AutoConfig

    from spatialladder.models.load import load_processor
    from spatialladder.train.sft import sft_collator, sft_rows
    from spatialladder.train.sft_rows import load_samples

    raw = {
        "kind": "sft",
        "stage": "spatial",
        "output_dir": "unused",
        "model": model_settings(model_dir, family),
        "data": {"files": [str(records)]},
    }
    cfg = validate_mapping(raw, SFTStageConfig)
    from spatialladder.models.families import family_named

    processor = load_processor(str(model_dir), cfg.model, family_named(family))
    processor.video_processor.do_sample_frames = True
    rows = sft_rows(cfg, load_samples(cfg)[0], processor, family_named(family))
    collate = sft_collator(cfg, processor, None, AutoConfig.from_pretrained(model_dir))
    return collate([rows.row(0)]), processor


def video_span(ids: list[int], processor: Any) -> list[int]:
    """From the first ``<|vision_start|>`` to the last ``<|vision_end|>``: the whole video, stamps included."""
    start, end = processor.tokenizer.convert_tokens_to_ids(["<|vision_start|>", "<|vision_end|>"])
    return ids[ids.index(start) : len(ids) - ids[::-1].index(end)]


@pytest.mark.parametrize("family", QWEN3)
def test_sft_batch_shows_every_frame_stamped_with_its_capture_time(family, tiny_family_dirs, timed_records) -> None:
    batch, processor = sft_batch(tiny_family_dirs[family], family, timed_records["timed"])
    assert batch["video_grid_thw"][:, 0].tolist() == [FRAMES // 2]  # 32 frames, not resampled to 4
    text = processor.tokenizer.decode(batch["input_ids"][0])
    assert re.findall(r"<[0-9.]+ seconds>", text) == STAMPS
    # (0 + 23) / 2 / 30 = 0.383, (46 + 60) / 2 / 30 = 1.767, (83 + 106) / 2 / 30 = 3.15 (3.1499… as a float)
    assert STAMPS[:3] == ["<0.4 seconds>", "<1.8 seconds>", "<3.1 seconds>"]
    # HF's layout: the template's outer pair around one stamped group per temporal patch
    assert f"<|vision_start|>{STAMPS[0]}<|vision_start|><|video_pad|>" in text
    assert text.count("<|vision_start|>") == text.count("<|vision_end|>") == FRAMES // 2 + 1
    assert "second_per_grid_ts" not in batch


@pytest.mark.parametrize("family", QWEN3)
def test_records_without_capture_times_are_stamped_as_a_frame_list_at_video_fps(
    family, tiny_family_dirs, timed_records, caplog
) -> None:
    """The released files: frames 0..n-1 at ``data.video_fps`` (2.0), as qwen-vl-utils declares a frame list, and
    counted in the log."""
    with caplog.at_level(logging.INFO, logger="spatialladder.train.media"):
        batch, processor = sft_batch(tiny_family_dirs[family], family, timed_records["released"])
    assert "1 video records carry no capture times (frame_indices + fps)" in caplog.text
    assert batch["video_grid_thw"][:, 0].tolist() == [FRAMES // 2]
    text = processor.tokenizer.decode(batch["input_ids"][0])
    assert re.findall(r"<[0-9.]+ seconds>", text) == [f"<{(2 * k + 0.5) / 2.0:.1f} seconds>" for k in range(16)]


def test_qwen2_5_vl_encoding_does_not_depend_on_the_records_times(tiny_model_dir, timed_records) -> None:
    """Qwen2.5-VL tells time through ``second_per_grid_ts`` = 2 / data.video_fps: the record's capture times change
    nothing it sees."""
    timed, _ = sft_batch(tiny_model_dir, "qwen2.5-vl", timed_records["timed"])
    released, _ = sft_batch(tiny_model_dir, "qwen2.5-vl", timed_records["released"])
    assert timed.keys() == released.keys()
    assert all(torch.equal(timed[k], released[k]) for k in timed)
    assert timed["second_per_grid_ts"].tolist() == [1.0] and timed["video_grid_thw"][:, 0].tolist() == [16]


def grpo_trainer(grpo_cfg, model_dir: Path, family: str, records: Path, out: Path) -> Any:
    from spatialladder.models.load import load_model_and_processor
    from spatialladder.train.grpo import build_trainer
    from spatialladder.train.grpo_rows import load_grpo_rows, rows_to_dataset
    from spatialladder.train.trl_args import to_grpo_args

    cfg = grpo_cfg(
        model_dir,
        {"spatial": records},
        out,
        "data.video_frames=null",
        f"model.min_pixels={PIXELS[family]}",
        f"model.max_pixels={16 * PIXELS[family]}",
        "beta=0",
    )
    loaded = load_model_and_processor(cfg.model, for_training=True)
    rows = load_grpo_rows([records], video_frames=None).rows
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows), [lambda completions, **_: [0.0]])
    trainer.processing_class.video_processor.do_sample_frames = True
    return trainer


@pytest.mark.parametrize("family", [*QWEN3, "qwen2.5-vl"])
def test_grpo_loss_pass_sees_the_video_the_sft_batch_sees(
    family, grpo_cfg, tiny_family_dirs, timed_records, tmp_path
) -> None:
    """The GRPO loss pass encodes a record's video (its stamped tokens, pixels and grid) exactly as the SFT
    collator does."""
    model_dir = tiny_family_dirs[family]
    batch, processor = sft_batch(model_dir, family, timed_records["timed"])
    trainer = grpo_trainer(grpo_cfg, model_dir, family, timed_records["timed"], tmp_path)
    row = trainer.train_dataset[0]
    assert row["frame_indices"] == INDICES and row["capture_fps"] == FPS
    encoded = trainer._encode_row(trainer._inline_vision(row)["prompt"])
    for key in ("pixel_values_videos", "video_grid_thw", *(["second_per_grid_ts"] if family == "qwen2.5-vl" else [])):
        assert torch.equal(encoded[key], batch[key]), key
    grpo_video = video_span(encoded["prompt_ids"][0].tolist(), processor)
    assert grpo_video == video_span(batch["input_ids"][0].tolist(), processor)
    if family != "qwen2.5-vl":
        assert re.findall(r"<[0-9.]+ seconds>", processor.tokenizer.decode(grpo_video)) == STAMPS
