"""fp32 master weights in a mixed-precision launch without DeepSpeed/FSDP (train/sharding.py fp32_master_weights).

The tiny model is saved in bf16 and trained with ``trainer.bf16`` (CPU autocast), as the shipped GPU configs load the
3B. Without master weights, AdamW's first step at lr 1e-5 moves a bf16 entry only when 1e-5 exceeds half its spacing
(|w| < 2^-8); with them every entry that has a gradient moves, and a resumed run continues from the fp32 values.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from spatialladder.config.sft import SFTStageConfig
from spatialladder.train.sft import run_sft


@pytest.fixture(scope="module")
def bf16_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out = tmp_path_factory.mktemp("tiny-bf16")
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir, dtype=torch.float32)
    # matrices drawn N(0, 0.02²) like the real initialiser, so about erf(2^-8/(0.02·√2)) = 15.5 % sit below 2^-8
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim == 2:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
    model.to(torch.bfloat16).save_pretrained(out)
    AutoProcessor.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


def config(sft_config, model_dir: Path, out: Path, **trainer) -> SFTStageConfig:
    raw = sft_config(
        "spatial",
        out,
        {"bf16": True, "learning_rate": 1e-5, "lr_scheduler_type": "constant", "per_device_train_batch_size": 1,
         "max_grad_norm": 1e9, **trainer},
        model={"name_or_path": str(model_dir), "dtype": "bfloat16"},
    )  # fmt: skip
    return SFTStageConfig.model_validate(raw)


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> float:
    keys = [k for k in before if before[k].ndim == 2]
    moved = sum(int((before[k].float() != after[k].float()).sum()) for k in keys)
    return moved / sum(before[k].numel() for k in keys)


def test_bf16_weights_train_with_fp32_masters(sft_config, bf16_model, tmp_path) -> None:
    run_sft(config(sft_config, bf16_model, tmp_path / "run", max_steps=1))
    before = load_file(bf16_model / "model.safetensors")
    after = load_file(tmp_path / "run" / "model.safetensors")
    assert {t.dtype for t in after.values()} == {torch.float32}  # the masters are what the folder holds
    assert changed(before, after) > 0.9  # every entry with a gradient moved by ~lr, not only |w| < 2^-8
    # control: the same step on bf16 weights (what a plain launch did before) keeps ~15 % of the updates
    rounded = {k: v.to(torch.bfloat16) for k, v in after.items()}
    assert changed(before, rounded) == pytest.approx(math.erf(2**-8 / (0.02 * math.sqrt(2))), abs=0.03)


def test_resume_continues_from_the_fp32_masters(sft_config, bf16_model, tmp_path) -> None:
    common = {"save_strategy": "steps", "save_steps": 2}
    run_sft(config(sft_config, bf16_model, tmp_path / "full", max_steps=4, **common))
    run_sft(config(sft_config, bf16_model, tmp_path / "split", max_steps=2, **common))
    assert {t.dtype for t in load_file(tmp_path / "split/checkpoint-2/model.safetensors").values()} == {torch.float32}
    run_sft(config(sft_config, bf16_model, tmp_path / "split", max_steps=4, **common), resume=True)
    full = load_file(tmp_path / "full" / "model.safetensors")
    split = load_file(tmp_path / "split" / "model.safetensors")
    assert all(torch.equal(full[k], split[k]) for k in full)


def test_without_mixed_precision_the_weights_stay_as_loaded(sft_config, bf16_model, tmp_path) -> None:
    """``trainer.bf16: false`` with a bf16 model asks for pure bf16 training: nothing is upcast (as accelerate's FSDP,
    which upcasts only under mixed precision)."""
    run_sft(config(sft_config, bf16_model, tmp_path / "pure", max_steps=1, bf16=False))
    assert {t.dtype for t in load_file(tmp_path / "pure" / "model.safetensors").values()} == {torch.bfloat16}
