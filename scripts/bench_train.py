"""Benchmark SFT training throughput: our stage-2 ``run_sft`` against a plain ``trl.SFTTrainer`` on the same rows.

Usage:
    OMP_NUM_THREADS=1 python scripts/bench_train.py [--epochs 20] [--repeats 3] [--batch-size 2] [--frames 4]
    OMP_NUM_THREADS=1 python scripts/bench_train.py --mixture paper [--rows 192] [--batch-size 8] [--epochs 1]

``--mixture tiny`` (default): the tiny stage-2 records (4 single-image, 4 eight-view, 4 video rows), both trainers
in their default (random) order: the wrapper's overhead.

``--mixture paper``: stage-2 records in SpatialLadder-26k's modality proportions (5,929 single-image : 5,752
multi-view : 9,000 video, ``official-spatialladder.md`` §2; the 5,929 localization records are stage 1's own run,
all single-image, nothing to group), 8 views per multi-view record and ``--video-frames`` frames per video, question
texts of varying length (VSI-Bench templates with category names of 1-3 words). An image costs ``--image-tokens``
merged vision tokens. The default, 32 (a 224×112 frame, a quarter of the paper's pixel budget), keeps the tiny model
fast and makes rows of ≈ 150 (single image), ≈ 380 (multi-view) and ≈ 640 tokens (32-frame video).
``--image-tokens 128`` is the paper's ``max_pixels`` (128·28·28, a 448×224 frame) and gives ≈ 250, ≈ 1,150 and
≈ 2,150 tokens, where the tiny model's time goes mostly to its vision tower. Videos have ``--video-frames`` frames,
32 by default (what build-data writes and the trainers now show); 16 reproduces the issue's ≈ 1,150-token video
estimate. Ours runs with ``trainer.train_sampling_strategy: group_by_length``; plain trl keeps its random order;
same rows, same SFTConfig otherwise, same batch size.

Both: in this one process, alternated ``repeats`` times. Timed: the trainer's own ``train_runtime`` (the training
loop: data loading, collation, forward, backward, optimizer). ``run_sft``'s end-to-end wall time (model load, row
lengths, training, saving) is reported beside it. Each variant sees every record exactly ``epochs`` times.

Token counts (per variant, counted by the collator each trainer actually calls, over the whole run):

- ``total`` tokens = real tokens: every non-padding position of every batch (text + vision placeholders,
  ``attention_mask`` summed). Both variants process the same total; **total tok/s = real tokens / train loop
  seconds** is the figure compared (``ratio_total_tok_s`` = ours / plain).
- ``padded`` tokens = the positions the model computes, padding included (``input_ids.numel()``); the padding share
  is ``1 - total / padded``.
- ``supervised`` tokens = positions with a label.

The loop time splits into data work (building rows: image decoding; collation: the processor) and the model part
(the rest: forward, backward, optimizer). A GPU run does the data work in DataLoader workers, beside the model, so
``ratio_compute_tok_s`` (real tokens per second of model part) is printed too; grouping can only change the model
part (it removes padded positions from the language model; vision encoding and data work are the same rows).

Transformers' grouping sorts mega-batches of up to 50 optimizer steps' rows; the bench's few hundred rows give it
small mega-batches, so a mixed batch remains at each short/long boundary. The padding share the same sampler leaves
on a stage-2-sized set (20,681 rows, lengths resampled from the bench's rows) is printed for comparison.

Prints one JSON line per run, a Markdown summary (medians) and, last, one JSON line holding ``ratio_total_tok_s``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PAPER_STAGE2 = {"single_image": 5929, "multi_view": 5752, "video": 9000}
"""SpatialLadder-26k's stage-2 records per modality (official-spatialladder.md §2)."""
VIEWS = 8
"""Paper shape: 8 views per multi-view record."""
VIDEO_FRAMES = 32
"""Frames per video record: build-data writes 32 (VSI-Bench's clip) and the trainers show every listed frame
(``data.video_frames: null``), ≈ 2,150 tokens at 128 tokens per image; ``--video-frames 16`` gives the ≈ 1,150 of
the issue's estimate (the trainers' former 16-frame cap)."""
QUESTIONS = (
    "How many {0}(s) are in this room?",
    "What is the size of this room (in square meters)? If multiple rooms are shown, estimate the size of the "
    "combined space.",
    "Measuring from the closest point of each object, what is the direct distance between the {0} and the {1} "
    "(in meters)?",
    "What is the length of the longest dimension (length, width, or height) of the {0}, measured in centimeters?",
    "If I am standing by the {0} and facing the {1}, is the {2} to my front-left, front-right, back-left, or "
    "back-right?",
    "Which of these objects ({0}, {1}, {2}) is the closest to the {3}?",
)
"""Stage-2 question stems close to VSI-Bench's templates (not verbatim: the generators' ``TEMPLATE`` constants add
options and a unit sentence); categories vary their length as in the real records. Kept as measured in
docs/benchmarks.md."""
CATEGORIES = (
    "tv", "bed", "door", "lamp", "chair", "table", "sofa", "trash bin", "refrigerator", "washing machine",
    "computer mouse", "bookshelf", "nightstand", "telephone", "microwave", "backpack", "radiator", "keyboard",
)  # fmt: skip
OPTIONS = (None, ["A. chair", "B. table", "C. lamp", "D. sofa"])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def frame_size(image_tokens: int) -> tuple[int, int]:
    """(W, H) of a 2:1 frame of exactly ``image_tokens`` merged tokens (28×28 px each): 448×224 for 128, 224×112
    for 32."""
    rows = max(1, round(math.sqrt(image_tokens / 2)))
    return 28 * (image_tokens // rows), 28 * rows


def write_paper_mixture(
    root: Path, rows: int, image_tokens: int, seed: int = 0, video_frames: int = VIDEO_FRAMES
) -> Path:
    """``rows`` stage-2 records in the paper's modality proportions, with their frames; returns the JSONL path."""
    from PIL import Image, ImageDraw

    total = sum(PAPER_STAGE2.values())
    counts = {k: round(rows * v / total) for k, v in PAPER_STAGE2.items()}
    counts["video"] += rows - sum(counts.values())
    size = frame_size(image_tokens)
    rng = random.Random(seed)
    frames = []
    for i in range(max(video_frames, VIEWS)):
        rel = f"images/scene0000_00/{i}.jpg"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        im = Image.new("RGB", size, (40 + 10 * i, 120, 200 - 8 * i))
        ImageDraw.Draw(im).rectangle([8 * i, 10, 8 * i + size[0] // 4, size[1] - 10], fill=(255, 255, 255))
        im.save(root / rel, quality=90)
        frames.append(rel.removeprefix("images/"))
    records = []
    for kind, n in counts.items():
        shown = {"single_image": frames[:1], "multi_view": frames[:VIEWS], "video": frames[:video_frames]}[kind]
        for _ in range(n):
            options = rng.choice(OPTIONS)
            records.append(
                {
                    "question_id": len(records),
                    "question": rng.choice(QUESTIONS).format(*rng.sample(CATEGORIES, 4)),
                    "options": options,
                    "answer": "A" if options else str(rng.randint(1, 9)),
                    "image": shown,
                    "question_type": "object count",
                    "data_type": kind,
                }
            )
    rng.shuffle(records)
    path = root / "spld_spatial_data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def stage2_config(model: Path, records: Path, out: Path, steps: int, ns: argparse.Namespace, grouped: bool) -> Any:
    from spatialladder.config.load import validate_mapping
    from spatialladder.config.sft import SFTStageConfig

    paper = ns.mixture == "paper"
    pixels = frame_size(ns.image_tokens)[0] * frame_size(ns.image_tokens)[1] if paper else 28 * 28 * 16
    raw = {
        "kind": "sft",
        "stage": "spatial",
        "output_dir": str(out),
        "seed": 0,
        "model": {"name_or_path": str(model), "dtype": "float32", "min_pixels": 28 * 28, "max_pixels": pixels},
        "data": {"files": [str(records)], "video_frames": None if paper else ns.frames},
        "trainer": {
            "bf16": False,
            "use_cpu": True,
            "activation_checkpointing": False,
            "report_to": "none",
            "save_strategy": "no",
            "logging_steps": 10,
            "max_steps": steps,
            "per_device_train_batch_size": ns.batch_size,
            "learning_rate": 1e-4,
            "disable_tqdm": True,
            "dataloader_num_workers": 0,
            **({"train_sampling_strategy": "group_by_length"} if grouped else {}),
        },
    }
    return validate_mapping(raw, SFTStageConfig)


ROW_SECONDS = [0.0]
"""Seconds spent building rows (image decoding, the ``datasets`` transform) since the last reset."""


def time_row_building() -> None:
    """Both variants read the same ``SFTRows`` transform; time it (data work a GPU run hides in DataLoader workers)."""
    from spatialladder.train.sft_rows import SFTRows

    build = SFTRows.__call__

    def timed(self: Any, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        start = time.perf_counter()
        try:
            return build(self, batch)
        finally:
            ROW_SECONDS[0] += time.perf_counter() - start

    SFTRows.__call__ = timed


class Counting:
    """Wraps a collator: sums real, padded and supervised tokens of every batch it builds, and its time."""

    def __init__(self, collator: Any) -> None:
        self.collator = collator
        self.total = self.padded = self.supervised = 0
        self.seconds = 0.0
        ROW_SECONDS[0] = 0.0

    def __call__(self, examples: list[dict[str, Any]]) -> Any:
        start = time.perf_counter()
        batch = self.collator(examples)
        self.seconds += time.perf_counter() - start
        self.total += int(batch["attention_mask"].sum())
        self.padded += batch["input_ids"].numel()
        self.supervised += int((batch["labels"] != -100).sum())
        return batch

    def counts(self, runtime: float) -> dict[str, float]:
        data = self.seconds + ROW_SECONDS[0]
        return {
            "total_tokens": self.total,
            "padded_tokens": self.padded,
            "supervised_tokens": self.supervised,
            "data_s": data,
            "compute_s": runtime - data,
        }


def run_ours(cfg: Any) -> dict[str, Any]:
    """``run_sft`` as the CLI runs it, its collator wrapped in :class:`Counting`."""
    import spatialladder.train.sft as sft
    from spatialladder.train.artifacts import LOG_NAME

    counter: list[Counting] = []
    original = sft.sft_collator

    def counted(*args: Any, **kwargs: Any) -> Counting:
        counter.append(Counting(original(*args, **kwargs)))
        return counter[-1]

    sft.sft_collator = counted
    try:
        start = time.perf_counter()
        result = sft.run_sft(cfg, resume=False)
        wall = time.perf_counter() - start
    finally:
        sft.sft_collator = original
    log = [json.loads(x) for x in (Path(cfg.output_dir) / LOG_NAME).read_text().splitlines()]
    runtime = next(e["train_runtime"] for e in reversed(log) if "train_runtime" in e)
    stats = {"variant": "ours", "steps": result.global_step, "train_runtime_s": runtime, "wall_s": wall}
    return {**stats, **counter[0].counts(runtime)}


def run_plain(cfg: Any, out: Path) -> dict[str, Any]:
    """trl alone: its default VLM collator and sampler, the foundation loader, the same rows and SFTConfig."""
    from trl import SFTTrainer

    from spatialladder.models.load import load_model_and_processor
    from spatialladder.train.sft import sft_rows
    from spatialladder.train.sft_rows import load_samples
    from spatialladder.train.trl_args import to_sft_args

    trainer_cfg = {k: v for k, v in cfg.trainer.items() if k != "train_sampling_strategy"}
    cfg = cfg.model_copy(update={"output_dir": str(out), "trainer": trainer_cfg})
    loaded = load_model_and_processor(cfg.model, for_training=True)
    rows = sft_rows(cfg, load_samples(cfg)[0], loaded.processor, loaded.family)
    trainer = SFTTrainer(
        model=loaded.model, args=to_sft_args(cfg), train_dataset=rows.as_dataset(), processing_class=loaded.processor
    )
    counter = Counting(trainer.data_collator)
    trainer.data_collator = counter
    output = trainer.train()
    runtime = output.metrics["train_runtime"]
    return {
        "variant": "plain",
        "steps": trainer.state.global_step,
        "train_runtime_s": runtime,
        **counter.counts(runtime),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixture", choices=["tiny", "paper"], default="tiny")
    parser.add_argument("--epochs", type=int, default=None, help="default: 20 (tiny), 1 (paper)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: 2 (tiny), 8 (paper)")
    parser.add_argument("--frames", type=int, default=4, help="tiny: frames per video record")
    parser.add_argument("--rows", type=int, default=192, help="paper: records in the mixture")
    parser.add_argument("--image-tokens", type=int, default=32, help="paper: merged vision tokens per image")
    parser.add_argument("--video-frames", type=int, default=VIDEO_FRAMES, help="paper: frames per video record")
    ns = parser.parse_args()
    paper = ns.mixture == "paper"
    ns.epochs = ns.epochs or (1 if paper else 20)
    ns.batch_size = ns.batch_size or (8 if paper else 2)
    logging.basicConfig(level=logging.WARNING)

    import torch

    from spatialladder.testing.tiny_qwen import build_tiny_qwen2_5_vl
    from spatialladder.testing.tiny_records import write_tiny_records
    from spatialladder.train.sft_rows import load_samples

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    model = build_tiny_qwen2_5_vl(work / "model")
    if paper:
        records = write_paper_mixture(work / "data", ns.rows, ns.image_tokens, video_frames=ns.video_frames)
    else:
        records = write_tiny_records(work / "data")["spatial"]
    probe = stage2_config(model, records, work / "probe", 1, ns, grouped=False)
    samples = load_samples(probe)[0]
    if len(samples) % ns.batch_size:
        sys.exit(f"--batch-size {ns.batch_size} must divide the {len(samples)} records (whole epochs only)")
    steps = ns.epochs * len(samples) // ns.batch_size
    lengths, lengths_s = row_lengths_timed(probe, samples)
    time_row_building()

    runs: list[dict[str, Any]] = []
    for r in range(ns.repeats):
        cfg = stage2_config(model, records, work / f"ours-{r}", steps, ns, grouped=paper)
        for variant in ("ours", "plain") if r % 2 == 0 else ("plain", "ours"):  # alternate which goes first
            stats = run_ours(cfg) if variant == "ours" else run_plain(cfg, work / f"plain-{r}")
            runs.append({**stats, "repeat": r, "peak_rss_mib": peak_rss_mib()})
            print(json.dumps(runs[-1]), flush=True)

    summary = {}
    for variant in ("ours", "plain"):
        mine = [x for x in runs if x["variant"] == variant]
        assert all(x["steps"] == steps for x in mine), mine
        runtime = statistics.median(x["train_runtime_s"] for x in mine)
        compute = statistics.median(x["compute_s"] for x in mine)
        counts = {k: mine[0][k] for k in ("total_tokens", "padded_tokens", "supervised_tokens")}
        summary[variant] = {
            "train_runtime_s": runtime,
            "compute_s": compute,
            **counts,
            "padding_share": 1 - counts["total_tokens"] / counts["padded_tokens"],
            "total_tok_s": counts["total_tokens"] / runtime,
            "compute_tok_s": counts["total_tokens"] / compute,
            "supervised_tok_s": counts["supervised_tokens"] / runtime,
        }
    ours_wall = statistics.median(x["wall_s"] for x in runs if x["variant"] == "ours")
    ratio = summary["ours"]["total_tok_s"] / summary["plain"]["total_tok_s"]
    compute_ratio = summary["ours"]["compute_tok_s"] / summary["plain"]["compute_tok_s"]
    full = full_size_padding(lengths, ns.batch_size) if paper else None
    mix = ", ".join(f"{n} {k}" for k, n in sorted(_modalities(samples).items()))
    what = f"paper mixture ({mix}; {ns.image_tokens} tokens per image)" if paper else f"tiny records ({mix})"
    print(
        f"\n{len(samples)} stage-2 records, {what}, rows of {min(lengths)}-{max(lengths)} tokens, batch "
        f"{ns.batch_size}, {steps} steps ({ns.epochs} epochs), median of {ns.repeats}; ours "
        f"{'with' if paper else 'without'} group_by_length, plain trl in random order\n"
    )
    print(
        "| variant | train loop s | of which model s | total (real) tokens | padded tokens | padding "
        "| total tok/s | model tok/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for variant, label in (("ours", "ours (`run_sft`)"), ("plain", "plain `trl.SFTTrainer`")):
        s = summary[variant]
        print(
            f"| {label} | {s['train_runtime_s']:.2f} | {s['compute_s']:.2f} | {s['total_tokens']:,} | "
            f"{s['padded_tokens']:,} | {100 * s['padding_share']:.0f} % | {s['total_tok_s']:,.0f} | "
            f"{s['compute_tok_s']:,.0f} |"
        )
    print(
        f"\nratio ours/plain: {ratio:.2f} in total (real) tokens/s over the training loop, {compute_ratio:.2f} over "
        f"its model part (loop minus row building and collation); run_sft end to end (load + lengths + train + "
        f"save): {ours_wall:.2f} s; row lengths of {len(samples)} records: {lengths_s:.2f} s; peak RSS "
        f"{peak_rss_mib():.0f} MiB"
    )
    if full is not None:
        print(
            f"at full size ({FULL_SIZE:,} rows drawn from these lengths, batch {ns.batch_size}), padding would be "
            f"{100 * full['random']:.1f} % in random order and {100 * full['grouped']:.1f} % grouped"
        )
    print(
        json.dumps(
            {
                "summary": summary,
                "ratio_total_tok_s": ratio,
                "ratio_compute_tok_s": compute_ratio,
                "full_size_padding_share": full,
            }
        )
    )


FULL_SIZE = sum(PAPER_STAGE2.values())


def full_size_padding(lengths: list[int], batch_size: int, seed: int = 0) -> dict[str, float]:
    """Padding share of random and grouped batches over a stage-2-sized set (lengths resampled from the bench's
    rows): the bench's few rows give transformers' grouping small mega-batches (fewer than 50 steps' rows), the
    real 20,681 rows do not."""
    import torch

    from spatialladder.train.grouping import SeededLengthGroupedSampler

    rng = random.Random(seed)
    big = [rng.choice(lengths) for _ in range(FULL_SIZE)]
    orders = {
        "random": torch.randperm(FULL_SIZE, generator=torch.Generator().manual_seed(seed)).tolist(),
        "grouped": list(SeededLengthGroupedSampler(big, batch_size, seed)),
    }
    out = {}
    for name, order in orders.items():
        padded = sum(max(big[i] for i in order[k : k + batch_size]) * len(order[k : k + batch_size])
                     for k in range(0, FULL_SIZE, batch_size))  # fmt: skip
        out[name] = 1 - sum(big) / padded
    return out


def _modalities(samples: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in samples:
        out[s.data_type] = out.get(s.data_type, 0) + 1
    return out


def row_lengths_timed(cfg: Any, samples: list[Any]) -> tuple[list[int], float]:
    """The one-off length pass (``train/lengths.py``) over the records, as ``run_sft`` runs it, and its time."""
    from spatialladder.models.load import load_processor
    from spatialladder.train.lengths import row_lengths
    from spatialladder.train.sft import sft_rows

    processor = load_processor(cfg.model.name_or_path, cfg.model)
    start = time.perf_counter()
    lengths = row_lengths(sft_rows(cfg, samples, processor))
    return lengths, time.perf_counter() - start


if __name__ == "__main__":
    main()
