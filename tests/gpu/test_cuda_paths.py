"""The GPU paths (bf16, gradient checkpointing, flash-attention) on the tiny model: skipped without CUDA.

These run on a CUDA node with `pytest -m gpu`; they check what CPU tests cannot: that the paper's GPU settings
(bf16 + activation checkpointing) train every modality, and that flash-attention loads when installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from spatialladder.config.base import ModelSettings
from spatialladder.config.grpo import GRPOStageConfig
from spatialladder.config.sft import SFTStageConfig
from spatialladder.models.load import load_model_and_processor
from spatialladder.testing.tiny_records import write_tiny_records

pytestmark = pytest.mark.gpu

GPU_TRAINER = {
    "bf16": True,
    "activation_checkpointing": True,
    "report_to": "none",
    "save_strategy": "no",
    "logging_steps": 1,
    "max_steps": 2,
    "per_device_train_batch_size": 2,
    "learning_rate": 1e-4,
}


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_records(tmp_path_factory.mktemp("gpu-data"))


def test_bf16_forward_on_cuda(tiny_model_dir: Path) -> None:
    import torch

    loaded = load_model_and_processor(ModelSettings(name_or_path=str(tiny_model_dir), dtype="bfloat16"))
    model = loaded.model.cuda()
    assert next(model.parameters()).dtype == torch.bfloat16
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[1, 2, 3]], device="cuda")).logits
    assert torch.isfinite(logits.float()).all()


@pytest.mark.skipif(importlib.util.find_spec("flash_attn") is None, reason="flash-attn not installed")
def test_flash_attention_loads(tiny_model_dir: Path) -> None:
    settings = ModelSettings(
        name_or_path=str(tiny_model_dir), dtype="bfloat16", attn_implementation="flash_attention_2"
    )
    assert load_model_and_processor(settings).model.config._attn_implementation == "flash_attention_2"


def test_sft_spatial_bf16_with_checkpointing(tiny_model_dir: Path, records: dict[str, Path], tmp_path: Path) -> None:
    from spatialladder.train.sft import run_sft

    cfg = SFTStageConfig.model_validate(
        {
            "kind": "sft",
            "stage": "spatial",
            "output_dir": str(tmp_path / "sft"),
            "model": {"name_or_path": str(tiny_model_dir), "dtype": "bfloat16", "max_pixels": 28 * 28 * 16},
            "data": {"files": [str(records["spatial"])], "video_frames": 4},
            "trainer": GPU_TRAINER,
        }
    )
    result = run_sft(cfg, resume=False)
    assert result.global_step == 2
    assert (tmp_path / "sft" / "model.safetensors").is_file()


def test_grpo_bf16_on_cuda(tiny_model_dir: Path, records: dict[str, Path], tmp_path: Path) -> None:
    from spatialladder.train.grpo import run_grpo

    cfg = GRPOStageConfig.model_validate(
        {
            "kind": "grpo",
            "output_dir": str(tmp_path / "grpo"),
            "model": {"name_or_path": str(tiny_model_dir), "dtype": "bfloat16", "max_pixels": 28 * 28 * 16},
            "data": {"files": [str(records["spatial"])], "video_frames": 4},
            "sampling": {"num_generations": 4, "max_completion_length": 8},
            "prompts_per_step": 2,  # 8 completions per device on one GPU
            "trainer": {k: v for k, v in GPU_TRAINER.items() if k != "per_device_train_batch_size"},
        }
    )
    result = run_grpo(cfg)
    assert result.global_step == 2
