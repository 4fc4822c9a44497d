"""The shipped SFT stage configs resolve to the official hyperparameters (reference §1 table, §3, §4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatialladder.config.load import load_config
from spatialladder.train.trl_args import to_sft_args

REPO = Path(__file__).resolve().parents[2]
CPU = ["trainer.bf16=false", "trainer.use_cpu=true"]


@pytest.mark.parametrize("name", ["stage1_localization", "stage2_spatial", "coldstart"])
def test_shipped_sft_config_has_the_official_settings(name: str) -> None:
    path = REPO / "configs/train" / f"{name}.yaml"
    cfg = load_config(path, CPU)
    args = to_sft_args(cfg, str(path))
    assert (args.learning_rate, args.lr_scheduler_type) == (1e-5, "cosine")
    # warmup_ratio 0.1 → ceil(0.1 · steps), the same rounding as transformers 4.49's warmup_ratio
    assert args.get_warmup_steps(371) == 38
    # 2 GPUs × 1 × accumulation 8 = 16 sequences per optimizer step
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (1, 8)
    assert (args.save_steps, args.seed, args.max_grad_norm, args.weight_decay) == (200, 42, 1.0, 0.0)
    assert args.activation_checkpointing is True
    assert args.activation_checkpointing_kwargs == {"use_reentrant": False}
    assert args.max_length is None and args.num_train_epochs == 1
    # 128·28·28 / 16·28·28: stage 1 explicit; stages 2 and cs inherit stage 1's saved 12,544 officially
    assert (cfg.model.max_pixels, cfg.model.min_pixels) == (100352, 12544)
    assert (cfg.loss_average, cfg.loss_on, cfg.prompt_fidelity) == ("micro_batch", "assistant", "fixed")
    assert args.assistant_only_loss is True


def test_one_process_seeing_several_gpus_is_refused_before_dataparallel() -> None:
    """transformers sets ``n_gpu`` to the device count in a single-process launch and wraps the model in
    DataParallel; a launch with one process per GPU, one GPU, or the CPU is fine."""
    from spatialladder.errors import ConfigError
    from spatialladder.train.trl_args import check_one_gpu_per_process

    path = REPO / "configs/train/stage2_spatial.yaml"
    gpu_args = to_sft_args(load_config(path, ["trainer.bf16=false"]), str(path))
    with pytest.raises(ConfigError, match=r"stage2_spatial.yaml: 8 CUDA devices are visible to one training process"):
        check_one_gpu_per_process(gpu_args, str(path), devices=8, processes=1)
    check_one_gpu_per_process(gpu_args, str(path), devices=8, processes=8)  # accelerate launch / torchrun
    check_one_gpu_per_process(gpu_args, str(path), devices=1, processes=1)
    cpu_args = to_sft_args(load_config(path, CPU), str(path))
    check_one_gpu_per_process(cpu_args, str(path), devices=8, processes=1)
    check_one_gpu_per_process(cpu_args, str(path))  # this machine: the real device count and world size
