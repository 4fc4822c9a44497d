"""Padding-free SFT on CUDA with flash-attention varlen (``padding_free: true``): skipped without CUDA and flash-attn.

The CPU tests (``tests/train/test_packing.py``) check everything up to the attention kernel; this checks the kernel:
the packed batch's loss through flash-attention's varlen path equals the padded batch's, and a run trains with it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from spatialladder.config.sft import SFTStageConfig
from spatialladder.testing.tiny_records import write_tiny_records

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(importlib.util.find_spec("flash_attn") is None, reason="flash-attn not installed"),
]


def stage2(model_dir: Path, records: Path, out: Path, **top: object) -> SFTStageConfig:
    return SFTStageConfig.model_validate(
        {
            "kind": "sft",
            "stage": "spatial",
            "output_dir": str(out),
            "model": {
                "name_or_path": str(model_dir),
                "dtype": "bfloat16",
                "attn_implementation": "flash_attention_2",
                "max_pixels": 28 * 28 * 16,
            },
            "data": {"files": [str(records)], "video_frames": 4},
            "trainer": {
                "bf16": True,
                "activation_checkpointing": True,
                "report_to": "none",
                "save_strategy": "no",
                "logging_steps": 1,
                "max_steps": 2,
                "per_device_train_batch_size": 4,
                "learning_rate": 1e-4,
                "train_sampling_strategy": "group_by_length",
            },
            **top,
        }
    )


def test_flash_attention_varlen_loss_equals_the_padded_loss(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    from spatialladder.models.load import load_model_and_processor
    from spatialladder.train.sft import sft_collator, sft_rows
    from spatialladder.train.sft_rows import load_samples

    records = write_tiny_records(tmp_path / "data")["spatial"]
    cfg = stage2(tiny_model_dir, records, tmp_path / "o", padding_free=True)
    loaded = load_model_and_processor(cfg.model)
    model = loaded.model.cuda().eval()
    rows = sft_rows(cfg, load_samples(cfg)[0], loaded.processor)
    examples = [rows.row(i) for i in (0, 2, 1, 3)]  # single image, video, 8 views, single image
    padded = sft_collator(cfg.model_copy(update={"padding_free": False}), loaded.processor, None)(examples)
    packed = sft_collator(cfg, loaded.processor, None, model.config)(examples)
    with torch.no_grad():
        a = model(**{k: v.cuda() for k, v in padded.items()}, use_cache=False).loss
        b = model(**{k: v.cuda() for k, v in packed.items()}, use_cache=False).loss
    assert float(b) == pytest.approx(float(a), rel=2e-2)  # bf16 kernels, different reduction orders


def test_padding_free_run_trains(tiny_model_dir: Path, tmp_path: Path) -> None:
    from spatialladder.train.sft import run_sft

    records = write_tiny_records(tmp_path / "data")["spatial"]
    result = run_sft(stage2(tiny_model_dir, records, tmp_path / "o", padding_free=True), resume=False)
    assert result.global_step == 2 and result.train_loss is not None
