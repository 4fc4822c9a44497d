"""Resuming a stage (train/checkpoints.py): a resumed run holds the weights and dtypes of an uninterrupted one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch


@contextmanager
def first_forward_of_each_model() -> Iterator[dict[str, dict[str, torch.Tensor]]]:
    """Each whole model's parameters (clones) as its first forward saw them: ``policy`` (the first to run, in
    generation), then ``reference``; torch's global forward pre-hook sees trl's own models, no stand-ins."""
    from torch.nn.modules.module import register_module_forward_pre_hook
    from transformers import GenerationMixin

    seen: dict[str, dict[str, torch.Tensor]] = {}
    models: list[int] = []

    def record(module: Any, args: Any) -> None:
        if isinstance(module, GenerationMixin) and id(module) not in models and len(models) < 2:
            models.append(id(module))
            seen[("policy", "reference")[len(models) - 1]] = {
                n: p.detach().clone() for n, p in module.named_parameters()
            }

    handle = register_module_forward_pre_hook(record)
    try:
        yield seen
    finally:
        handle.remove()


def dtypes(params: dict[str, torch.Tensor]) -> dict[str, torch.dtype]:
    return {name: t.dtype for name, t in params.items()}


@pytest.mark.parametrize("freeze_vision_tower", [False, True])
def test_a_resumed_grpo_run_holds_the_dtypes_and_masters_of_a_fresh_one(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path, freeze_vision_tower
) -> None:
    """bf16 model with fp32 master weights (``trainer.bf16``): checkpoints hold the fp32 masters. trl builds the KL
    reference in the policy's dtype when the trainer is made (trl grpo_trainer.py ``model_init_kwargs.setdefault(
    "dtype", self.model.dtype)``), so a resume that loaded the checkpoint's fp32 weights made an fp32 reference
    (+7 GiB for the 3B). Policy and reference must hold a fresh run's dtypes, and the policy's trainable weights the
    checkpoint's fp32 values, unrounded (under a frozen vision tower the checkpoint's config.json names bf16, and
    loading it as ``auto`` rounded them); frozen ones stay in the configured bf16."""
    from transformers import AutoModelForImageTextToText

    from spatialladder.train.grpo import run_grpo

    out = tmp_path / "stage3"
    cfg = grpo_cfg(
        tiny_model_dir,
        tiny_records,
        out,
        "model.dtype=bfloat16",
        f"model.freeze_vision_tower={str(freeze_vision_tower).lower()}",
        "trainer.bf16=true",
        "trainer.save_strategy=steps",
        "trainer.save_steps=1",
    )
    with first_forward_of_each_model() as fresh:
        run_grpo(cfg)
    shutil.rmtree(out / "checkpoint-2")  # killed after step 1
    with first_forward_of_each_model() as resumed:
        assert run_grpo(cfg).resumed_from == str(out / "checkpoint-1")

    for role in ("policy", "reference"):
        assert dtypes(resumed[role]) == dtypes(fresh[role]), role
    assert set(dtypes(fresh["reference"]).values()) == {torch.bfloat16}
    frozen = {n for n in fresh["policy"] if n.startswith("model.visual.")} if freeze_vision_tower else set()
    assert {fresh["policy"][n].dtype for n in frozen} <= {torch.bfloat16}
    assert {t.dtype for n, t in fresh["policy"].items() if n not in frozen} == {torch.float32}

    saved = dict(
        AutoModelForImageTextToText.from_pretrained(out / "checkpoint-1", dtype=torch.float32).named_parameters()
    )
    trainable = [n for n in resumed["policy"] if n not in frozen]
    assert all(torch.equal(resumed["policy"][n], saved[n]) for n in trainable)
    assert any(not torch.equal(saved[n], saved[n].to(torch.bfloat16).float()) for n in trainable)  # not bf16 values


def test_a_checkpoint_loads_in_the_dtype_a_fresh_run_starts_in(tiny_model_dir, tmp_path) -> None:
    """``model.dtype: auto`` means the starting model's dtype, not the checkpoint's: a checkpoint of fp32 masters
    names float32 in its config.json, and read as ``auto`` it made the resumed policy (and trl's reference) fp32."""
    from transformers import AutoModelForImageTextToText

    from spatialladder.config.base import ModelSettings
    from spatialladder.train.checkpoints import start_dtype

    start = tmp_path / "bf16-start"
    AutoModelForImageTextToText.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).save_pretrained(start)
    adapter = tmp_path / "adapter"  # a LoRA rung's folder starts from its base model
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(f'{{"base_model_name_or_path": "{start}"}}')
    assert start_dtype(ModelSettings(name_or_path=str(start))) == "bfloat16"
    assert start_dtype(ModelSettings(name_or_path=str(adapter))) == "bfloat16"
    assert start_dtype(ModelSettings(name_or_path=str(tiny_model_dir))) == "float32"
    assert start_dtype(ModelSettings(name_or_path=str(tiny_model_dir), dtype="float16")) == "float16"
