"""Benchmark the GRPO HF rollout with fp32 master weights: time per generated token, weights cast per token or once.

Usage:
    OMP_NUM_THREADS=1 python scripts/bench_rollout.py [--model DIR] [--tokens 32] [--batch 4] [--repeats 3]

The stage-3 trainer (``configs/debug/grpo_tiny.yaml``) on ``--model`` (default: the tiny random Qwen2.5-VL, built
in a temporary folder; e.g. ``spatialladder make-tiny-model DIR --like qwen2.5-vl-3b --layers 1 --vision-layers 1``
for the 3B's widths and vocabulary), loaded in bf16 with ``trainer.bf16`` and its trainable weights upcast to fp32
masters as ``run_grpo`` does, the model prepared by accelerate as the training loop prepares it (its ``forward``
wrapped in autocast). A text prompt (``--batch`` copies) goes through two rollouts, alternated ``--repeats`` times
with the same seed:

- ``per-forward``: trl's own ``GRPOTrainer._generate_single_turn``: accelerate's autocast is entered at every
  forward, so every fp32 weight is cast to bf16 again at every generated token;
- ``outer``: ``VideoGRPOTrainer._generate_single_turn``, the same call inside one autocast region
  (``_rollout_autocast``): each weight cast once per ``generate`` call.

Each is timed at ``--tokens`` new tokens and at 1 (``min_new_tokens`` = ``max_new_tokens``, so no row stops early):
time per generated token = (t(tokens) - t(1)) / (tokens - 1), the decode steps without the prefill. First, untimed
(it also warms up), the fp32→bf16 weight casts of one call of each are counted. Prints one JSON line per run, then
a Markdown summary (medians) and, last, one JSON line with ``speedup`` (per-forward / outer, per token). The
generated tokens of the two are checked to be identical.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GRPO_TINY = REPO / "configs" / "debug" / "grpo_tiny.yaml"
QUESTION = (
    "Measuring from the closest point of each object, what is the direct distance between the chair and the table "
    "(in meters)?"
)


def weight_casts(model: Any) -> Any:
    """A dispatch mode counting ``aten._to_copy`` of trainable fp32 parameters to bf16 (autocast's weight casts)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class WeightCasts(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.names = {p.data_ptr(): n for n, p in model.named_parameters() if p.requires_grad}
            self.casts: Counter[str] = Counter()

        def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
            kwargs = kwargs or {}
            if func is torch.ops.aten._to_copy.default and kwargs.get("dtype") == torch.bfloat16:
                if args[0].dtype == torch.float32 and args[0].data_ptr() in self.names:
                    self.casts[self.names[args[0].data_ptr()]] += 1
            return func(*args, **kwargs)

    return WeightCasts()


def build(model_dir: Path, workdir: Path, tokens: int) -> Any:
    """The trainer as ``run_grpo`` builds it (bf16 weights, ``trainer.bf16``, fp32 masters), its model prepared."""
    from spatialladder.config.load import load_config
    from spatialladder.models.load import load_model_and_processor
    from spatialladder.testing.tiny_records import write_tiny_records
    from spatialladder.train.grpo import build_trainer
    from spatialladder.train.grpo_rows import load_grpo_rows, rows_to_dataset
    from spatialladder.train.sharding import fp32_master_weights
    from spatialladder.train.trl_args import to_grpo_args

    records = write_tiny_records(workdir / "data")["spatial"]
    overrides = [
        f"model.name_or_path={model_dir}",
        f"data.files=[{records}]",
        f"output_dir={workdir / 'out'}",
        "model.dtype=bfloat16",
        "trainer.bf16=true",
        "trainer.disable_tqdm=true",
        "rewards=[{name: format}]",
        f"sampling.max_completion_length={tokens}",
    ]
    cfg = load_config(GRPO_TINY, overrides)
    loaded = load_model_and_processor(cfg.model, for_training=True)
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(load_grpo_rows([records]).rows), None)
    upcast = fp32_master_weights(trainer)
    trainer.model = trainer.model_wrapped = trainer.accelerator.prepare_model(trainer.model)
    return trainer, len(upcast)


def rollout(trainer: Any, generate: Any, ids: list[int], batch: int, tokens: int) -> tuple[float, list]:
    """Seconds and completions of one ``_generate_single_turn`` call of ``tokens`` new tokens."""
    import torch

    trainer.generation_config.max_new_tokens = trainer.generation_config.min_new_tokens = tokens
    torch.manual_seed(0)
    start = time.perf_counter()
    completions, _ = generate(trainer, [ids] * batch, None, {}, batch)
    return time.perf_counter() - start, completions


def casts_per_call(trainer: Any, generate: Any, ids: list[int], batch: int, tokens: int) -> int:
    """Weight casts of one such call, counted in a call of its own (the dispatch mode slows every op)."""
    with weight_casts(trainer.model) as counter:
        rollout(trainer, generate, ids, batch, tokens)
    return sum(counter.casts.values())


def bench(args: argparse.Namespace, workdir: Path) -> None:
    import torch
    from trl import GRPOTrainer

    from spatialladder.train.video_grpo import VideoGRPOTrainer

    model_dir = args.model
    if model_dir is None:
        from spatialladder.testing.tiny_qwen import build_tiny_qwen2_5_vl

        model_dir = build_tiny_qwen2_5_vl(workdir / "tiny")
    trainer, upcast = build(model_dir, workdir, args.tokens)
    text = trainer.processing_class.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}], tokenize=False, add_generation_prompt=True
    )
    ids = trainer.processing_class.tokenizer(text)["input_ids"]
    variants = {"per-forward": GRPOTrainer._generate_single_turn, "outer": VideoGRPOTrainer._generate_single_turn}
    casts = {
        name: casts_per_call(trainer, generate, ids, args.batch, args.tokens) for name, generate in variants.items()
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    outputs = {}
    for repeat in range(args.repeats):
        for name, generate in variants.items():
            full, outputs[name] = rollout(trainer, generate, ids, args.batch, args.tokens)
            one, _ = rollout(trainer, generate, ids, args.batch, 1)
            row = {
                "variant": name,
                "repeat": repeat,
                "seconds": full,
                "seconds_1_token": one,
                "ms_per_token": 1000 * (full - one) / (args.tokens - 1),
            }
            runs[name].append(row)
            print(json.dumps(row), flush=True)
    if outputs["per-forward"] != outputs["outer"]:
        raise SystemExit("bench_rollout: the two rollouts generated different tokens")
    median = {name: statistics.median(r["ms_per_token"] for r in rows) for name, rows in runs.items()}
    params = sum(p.numel() for p in trainer.model.parameters())
    print(
        f"\nmodel {model_dir} ({params:,} parameters, {upcast} upcast to fp32), prompt {len(ids)} tokens × "
        f"{args.batch}, {args.tokens} new tokens, torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n"
    )
    print("| rollout | ms per generated token (median) | weight casts per call | identical tokens |")
    print("|---|---:|---:|---|")
    for name in variants:
        print(f"| {name} | {median[name]:.1f} | {casts[name]:,} | yes |")
    print(json.dumps({"speedup": median["per-forward"] / median["outer"], "ms_per_token": median}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a Qwen2.5-VL folder (default: the tiny model)")
    parser.add_argument("--tokens", type=int, default=32, help="new tokens per rollout (at least 2)")
    parser.add_argument("--batch", type=int, default=4, help="completions per rollout")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.tokens < 2 or args.batch < 1 or args.repeats < 1:
        parser.error(f"--tokens {args.tokens} --batch {args.batch} --repeats {args.repeats}: expected ≥ 2, ≥ 1, ≥ 1")
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench_rollout_") as workdir:  # tiny records (and model), the output dir
        bench(args, Path(workdir))


if __name__ == "__main__":
    sys.exit(main())
