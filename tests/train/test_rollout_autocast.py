"""HF rollouts with fp32 master weights (``video_grpo.py`` ``VideoGRPOTrainer._rollout_autocast``).

The tiny model is loaded in bf16 and trained with ``trainer.bf16`` on CPU (accelerate's CPU autocast), its trainable
weights upcast to fp32 masters as ``run_grpo`` does. accelerate enters and leaves autocast at every forward, and
torch drops its weight casts when the outermost region exits, so trl's ``generate`` cast every weight again at every
generated token; inside one outer region each is cast once per ``generate`` call, to the same values.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from trl import GRPOTrainer

from spatialladder.models.load import load_model_and_processor
from spatialladder.train.grpo import build_trainer
from spatialladder.train.grpo_rows import load_grpo_rows, rows_to_dataset
from spatialladder.train.sharding import fp32_master_weights
from spatialladder.train.trl_args import to_grpo_args


class WeightCasts(TorchDispatchMode):
    """Counts, per trainable parameter, the ``aten._to_copy`` calls that cast it from fp32 to bf16 (autocast's
    weight casts go through the dispatcher like any other op)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.names = {p.data_ptr(): n for n, p in model.named_parameters() if p.requires_grad}
        self.casts: Counter[str] = Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default and kwargs.get("dtype") == torch.bfloat16:
            source = args[0]
            if source.dtype == torch.float32 and source.data_ptr() in self.names:
                self.casts[self.names[source.data_ptr()]] += 1
        return func(*args, **kwargs)


def text_forwards(model: Any) -> tuple[list[int], Any]:
    """A list that grows by one at every forward of the language model (one per generated token), and the hook."""
    calls: list[int] = []
    hook = model.model.language_model.register_forward_hook(lambda module, args, out: calls.append(1))
    return calls, hook


def bf16_trainer(grpo_cfg: Any, tiny_model_dir: Path, tiny_records: dict[str, Path], out: Path) -> Any:
    """The stage-3 trainer on the tiny model's video rows, bf16 weights, ``trainer.bf16``, fp32 masters."""
    cfg = grpo_cfg(
        tiny_model_dir,
        tiny_records,
        out,
        "model.dtype=bfloat16",
        "trainer.bf16=true",
        "trainer.max_steps=1",
        "prompts_per_step=1",
    )
    rows = [r for r in load_grpo_rows([tiny_records["spatial"]], video_frames=4).rows if r["data_type"] == "video"]
    loaded = load_model_and_processor(cfg.model, for_training=True)
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows), None)
    assert fp32_master_weights(trainer)  # as run_grpo does
    return trainer


def test_an_hf_rollout_casts_each_trainable_weight_once_per_generate_call(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    """One training step's rollout (a video batch through ``VideoGRPOTrainer._generate_single_turn``): several
    decode steps, yet every fp32 weight the rollout multiplies by is cast once; the vision tower, which transformers
    5's ``generate`` runs outside the wrapped forward, now runs under the same autocast."""
    trainer = bf16_trainer(grpo_cfg, tiny_model_dir, tiny_records, tmp_path)
    rollouts: list[dict[str, Any]] = []

    class Counted(type(trainer)):
        def _generate_single_turn(self, *args: Any, **kwargs: Any) -> tuple:
            forwards, hook = text_forwards(self.model)
            vision: list[bool] = []
            vision_hook = self.model.model.visual.register_forward_hook(
                lambda module, a, out: vision.append(torch.is_autocast_enabled("cpu"))
            )
            with WeightCasts(self.model) as counter:
                out = super()._generate_single_turn(*args, **kwargs)
            hook.remove()
            vision_hook.remove()
            rollouts.append({"casts": counter.casts, "forwards": len(forwards), "vision": vision, "ids": out[0]})
            return out

    trainer.__class__ = Counted
    trainer.train()
    assert len(rollouts) == 1 and trainer.state.global_step == 1
    rollout = rollouts[0]
    assert rollout["forwards"] == max(len(ids) for ids in rollout["ids"]) > 1  # one forward per generated token
    text_matrices = {
        n
        for n, p in trainer.model.named_parameters()
        if n.startswith("model.language_model.layers.") and p.ndim == 2 and p.requires_grad
    }
    assert text_matrices <= set(rollout["casts"])  # every layer's matrices took part
    assert set(rollout["casts"].values()) == {1}  # before: each = the number of forwards
    assert any(n.startswith("model.visual.") for n in rollout["casts"])  # before: not cast, fp32 compute
    assert rollout["vision"] == [True]


def test_the_outer_region_changes_no_generated_token(grpo_cfg, tiny_model_dir, tiny_records, tmp_path) -> None:
    """After a training step (the model as accelerate prepared it, per-forward autocast included), the same text
    prompt, seed and sampling through trl's own ``_generate_single_turn`` and through ours: the same completions;
    trl's casts every weight once per generated token, ours once."""
    trainer = bf16_trainer(grpo_cfg, tiny_model_dir, tiny_records, tmp_path)
    trainer.train()
    assert hasattr(trainer.model, "_original_forward")  # accelerate's autocast wrapper is on the forward
    messages = [{"role": "user", "content": [{"type": "text", "text": "How many chairs are in the room?"}]}]
    text = trainer.processing_class.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = trainer.processing_class.tokenizer(text)["input_ids"]
    results = {}
    for name, generate in (("trl", GRPOTrainer._generate_single_turn), ("ours", type(trainer)._generate_single_turn)):
        forwards, hook = text_forwards(trainer.model)
        torch.manual_seed(0)
        with WeightCasts(trainer.model) as counter:
            completions, _ = generate(trainer, [ids, ids], None, {}, 2)
        hook.remove()
        results[name] = (completions, len(forwards), counter.casts)
    (trl_ids, trl_forwards, trl_casts), (our_ids, our_forwards, our_casts) = results["trl"], results["ours"]
    assert our_ids == trl_ids and our_forwards == trl_forwards > 1
    assert set(trl_casts) == set(our_casts) and len(our_casts) > 0
    assert set(trl_casts.values()) == {trl_forwards}
    assert set(our_casts.values()) == {1}
