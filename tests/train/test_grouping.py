"""Length-grouped SFT batches: lengths from headers equal the collated rows, the sampler groups, covers every row once
per epoch, is seeded, resumes and splits across ranks; the trainer follows it with unchanged per-row losses; the
default keeps the paper's random order."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from spatialladder.config.load import load_config, validate_mapping
from spatialladder.config.sft import SFTStageConfig
from spatialladder.errors import ConfigError
from spatialladder.testing.tiny_records import write_tiny_records
from spatialladder.train.grouping import SeededLengthGroupedSampler

REPO = Path(__file__).resolve().parents[2]
STAGE_FILE = {"localization": "grounding", "spatial": "spatial", "coldstart": "coldstart"}


def paper_like_lengths(n: int, seed: int = 0) -> list[int]:
    """Stage-2 proportions (5,929 single image ≈ 250 tokens : 14,752 multi-view/video ≈ 1,150), some text spread."""
    rng = random.Random(seed)
    return [rng.randint(230, 290) if rng.random() < 5929 / 20681 else rng.randint(1120, 1200) for _ in range(n)]


def batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def spread(lengths: list[int], order: list[int], size: int) -> float:
    """Mean over batches of (longest - shortest) row."""
    return sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches(order, size)) / (
        len(order) / size
    )


# ---- the sampler ----------------------------------------------------------------------------------------------------


def test_batches_hold_rows_of_similar_length_unlike_random_batches() -> None:
    lengths = paper_like_lengths(800)
    grouped = list(SeededLengthGroupedSampler(lengths, 8, seed=3))
    shuffled = torch.randperm(800, generator=torch.Generator().manual_seed(3)).tolist()
    assert spread(lengths, grouped, 8) < 0.15 * spread(lengths, shuffled, 8)

    def padded(order: list[int]) -> int:
        return sum(8 * max(lengths[i] for i in b) for b in batches(order, 8))

    # random batches of this mixture are ~24 % padding; grouped ones ~1 % (what group_by_length removes)
    assert 1 - sum(lengths) / padded(shuffled) > 0.2
    assert 1 - sum(lengths) / padded(grouped) < 0.03


def test_every_row_once_per_epoch_same_seed_same_order_new_epoch_new_order() -> None:
    lengths = paper_like_lengths(200)
    sampler = SeededLengthGroupedSampler(lengths, 4, seed=42)
    epoch0 = list(sampler)
    assert sorted(epoch0) == list(range(200)) and len(sampler) == 200
    assert list(SeededLengthGroupedSampler(lengths, 4, seed=42)) == epoch0 == list(sampler)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert sorted(epoch1) == list(range(200)) and epoch1 != epoch0
    assert list(SeededLengthGroupedSampler(lengths, 4, seed=43)) != epoch0


def test_ddp_ranks_get_disjoint_shares_of_similar_length() -> None:
    """accelerate deals the sampler's micro-batches round-robin (BatchSamplerShard): rank r gets batches r, r+2, …;
    every process draws the same order, so the shares are disjoint and cover the epoch."""
    from accelerate.data_loader import BatchSamplerShard
    from torch.utils.data import BatchSampler

    lengths = paper_like_lengths(160)
    per_rank = []
    for rank in (0, 1):
        sampler = SeededLengthGroupedSampler(lengths, 4 * 2, seed=7)  # 4 rows per device x 2 processes per step
        sampler.set_epoch(2)
        shard = BatchSamplerShard(BatchSampler(sampler, 4, drop_last=False), num_processes=2, process_index=rank)
        per_rank.append(list(shard))
    rows = [[i for b in share for i in b] for share in per_rank]
    assert len(rows[0]) == len(rows[1]) == 80 and sorted(rows[0] + rows[1]) == list(range(160))
    steps = [b0 + b1 for b0, b1 in zip(*per_rank, strict=True)]  # the two ranks' micro-batches of one step
    mixed = [s for s in steps if max(lengths[i] for i in s) - min(lengths[i] for i in s) > 500]
    assert len(steps) == 20 and len(mixed) <= 4  # at most one short/long boundary per mega-batch of 40 rows


# ---- lengths from the record, not from pixels -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny records with frames the processor must resize (rounded, shrunk past max_pixels, grown past
    min_pixels) and 5-frame videos (padded to the temporal patch of 2)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("odd-records")
    files = write_tiny_records(root, video_frames=5)
    for scene, size in (("scene0000_00", (150, 100)), ("scene0001_00", (400, 300)), ("scene0002_00", (30, 20))):
        for path in (root / "images" / scene).glob("*.jpg"):
            with Image.open(path) as im:
                im.convert("RGB").resize(size).save(path)
    return files


@pytest.mark.parametrize("stage", ["localization", "spatial", "coldstart"])
@pytest.mark.parametrize("image_resize, fidelity", [("once", "fixed"), ("official", "official")])
def test_lengths_from_headers_equal_the_collated_rows(
    tiny_model_dir, odd_records, monkeypatch, stage, image_resize, fidelity
) -> None:
    import spatialladder.train.sft_rows as sft_rows_module
    from spatialladder.models.load import load_processor
    from spatialladder.train.lengths import row_lengths
    from spatialladder.train.sft import sft_collator, sft_rows
    from spatialladder.train.sft_rows import load_samples

    raw = {
        "kind": "sft",
        "stage": stage,
        "output_dir": "unused",
        "prompt_fidelity": fidelity,
        "bbox_target": "official" if fidelity == "official" else "rescaled",
        "loss_on": "all" if fidelity == "official" else "assistant",
        "model": {"name_or_path": str(tiny_model_dir), "max_pixels": 28 * 28 * 16, "min_pixels": 28 * 28},
        "data": {"files": [str(odd_records[STAGE_FILE[stage]])], "image_resize": image_resize},
    }
    cfg = validate_mapping(raw, SFTStageConfig)
    proc = load_processor(str(tiny_model_dir), cfg.model)
    rows = sft_rows(cfg, load_samples(cfg)[0], proc)
    collate = sft_collator(cfg, proc, None)
    real = [int(collate([rows.row(i)])["attention_mask"].sum()) for i in range(len(rows))]

    def no_pixels(*args: object) -> None:
        raise AssertionError("row_lengths decoded an image")

    monkeypatch.setattr(sft_rows_module, "load_image", no_pixels)
    monkeypatch.setattr(sft_rows_module, "load_video_frames", no_pixels)
    assert row_lengths(rows) == real
    assert len(set(real)) > 1
    assert row_lengths(rows, max_length=min(real)) == [min(real)] * len(real)


# ---- the trainer ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unique_spatial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 12 tiny stage-2 records twice over (24 rows), each question made unique so a row can be recognised."""
    files = write_tiny_records(tmp_path_factory.mktemp("unique"))
    lines = [json.loads(x) for x in files["spatial"].read_text().splitlines()] * 2
    out = files["spatial"].with_name("unique.jsonl")
    out.write_text("".join(json.dumps({**r, "question": f"{r['question']} #{k}"}) + "\n" for k, r in enumerate(lines)))
    return out


def grouped_config(model_dir: Path, records: Path, out: Path, **trainer: object) -> SFTStageConfig:
    raw = {
        "kind": "sft",
        "stage": "spatial",
        "output_dir": str(out),
        "seed": 5,
        "model": {"name_or_path": str(model_dir), "max_pixels": 28 * 28 * 16, "min_pixels": 28 * 28},
        "data": {"files": [str(records)]},
        "trainer": {
            "bf16": False,
            "use_cpu": True,
            "activation_checkpointing": False,
            "report_to": "none",
            "save_strategy": "no",
            "logging_steps": 1,
            "disable_tqdm": True,
            "train_sampling_strategy": "group_by_length",
            **trainer,
        },
    }
    return validate_mapping(raw, SFTStageConfig)


def recorded_trainer(cfg: SFTStageConfig):
    """``build_sft_trainer`` as ``run_sft`` calls it, recording each batch's rows (question ids) and each loss."""
    from spatialladder.models.load import load_model_and_processor
    from spatialladder.train.sft import build_sft_trainer, sft_collator, sft_rows
    from spatialladder.train.sft_rows import load_samples
    from spatialladder.train.trl_args import to_sft_args

    loaded = load_model_and_processor(cfg.model, for_training=True)
    rows = sft_rows(cfg, load_samples(cfg)[0], loaded.processor)
    collate = sft_collator(cfg, loaded.processor, None, loaded.model.config)
    seen: list[list[int]] = []
    losses: list[float] = []

    def recording(examples):
        seen.append([int(ex["messages"][-2]["content"][-1]["text"].split("#")[1].split()[0]) for ex in examples])
        return collate(examples)

    trainer = build_sft_trainer(cfg, to_sft_args(cfg), loaded.model, loaded.processor, rows, recording)
    compute = trainer.compute_loss

    def compute_loss(*args, **kwargs):
        loss = compute(*args, **kwargs)
        losses.append(float(loss.detach()))
        return loss

    trainer.compute_loss = compute_loss
    return trainer, rows, collate, seen, losses


def test_trainer_follows_the_grouped_order_with_unchanged_per_row_losses(tiny_model_dir, unique_spatial, tmp_path):
    """Batch 1, learning rate 0, one epoch: the rows come in the sampler's order for (seed, epoch 0), each once, and
    every step's loss is that row's own loss computed directly."""
    from spatialladder.train.lengths import row_lengths

    cfg = grouped_config(
        tiny_model_dir, unique_spatial, tmp_path / "o", per_device_train_batch_size=1, learning_rate=0.0, max_steps=24
    )
    trainer, rows, collate, seen, losses = recorded_trainer(cfg)
    trainer.train()
    lengths = row_lengths(rows)
    expected = list(SeededLengthGroupedSampler(lengths, 1, seed=5))
    assert [b[0] for b in seen] == expected and sorted(expected) == list(range(24))
    for chunk in batches([lengths[i] for i in expected], 6):  # mega-batches of 6 rows, sorted longest first
        assert chunk[1:] == sorted(chunk[1:], reverse=True)  # (transformers swaps the longest row to the very front)
    model = trainer.model.eval()
    with torch.no_grad():
        direct = [float(model(**collate([rows.row(i)]), use_cache=False).loss) for i in expected]
    assert losses == pytest.approx(direct, rel=1e-5, abs=1e-6)


def test_a_resumed_run_sees_the_same_batches(tiny_model_dir, unique_spatial, tmp_path) -> None:
    """Two epochs of 12 steps; a checkpoint mid-epoch 2 (step 15); resuming from it replays steps 16-24 exactly."""
    out = tmp_path / "o"
    trainer_kw = {"per_device_train_batch_size": 2, "num_train_epochs": 2, "save_strategy": "steps", "save_steps": 15}
    cfg = grouped_config(tiny_model_dir, unique_spatial, out, **trainer_kw)
    trainer, _, _, seen, _ = recorded_trainer(cfg)
    trainer.train()
    assert len(seen) == 24 and sorted(sum(seen[:12], [])) == sorted(sum(seen[12:], [])) == list(range(24))
    resumed, _, _, seen_again, _ = recorded_trainer(cfg)
    resumed.train(resume_from_checkpoint=str(out / "checkpoint-15"))
    assert seen_again == seen[15:]


def test_default_keeps_the_random_order_and_computes_no_lengths(tiny_model_dir, unique_spatial, tmp_path, monkeypatch):
    from torch.utils.data import RandomSampler

    import spatialladder.train.lengths as lengths_module

    def no_lengths(*args: object, **kwargs: object) -> None:
        raise AssertionError("lengths computed without group_by_length")

    monkeypatch.setattr(lengths_module, "row_lengths", no_lengths)
    cfg = grouped_config(tiny_model_dir, unique_spatial, tmp_path / "o", max_steps=1)
    cfg = cfg.model_copy(update={"trainer": {k: v for k, v in cfg.trainer.items() if k != "train_sampling_strategy"}})
    trainer, *_ = recorded_trainer(cfg)
    assert trainer.args.train_sampling_strategy == "random"
    assert type(trainer._get_train_sampler()) is RandomSampler
    assert trainer.train_dataset.column_names == ["index"]


SHIPPED_SFT = sorted(
    str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*.yaml") if "kind: sft" in p.read_text("utf-8")
)


@pytest.mark.parametrize("path", SHIPPED_SFT)
def test_shipped_configs_keep_the_paper_order_and_padded_batches(path: str) -> None:
    from spatialladder.train.trl_args import to_sft_args
    from spatialladder.validate import cpu_checkable

    cfg = load_config(REPO / path)
    args = to_sft_args(cpu_checkable(cfg)[0], path)
    assert args.train_sampling_strategy == "random" and not cfg.padding_free


def test_batch_rebalance_is_refused(tiny_model_dir, unique_spatial, tmp_path) -> None:
    from spatialladder.train.trl_args import to_sft_args

    cfg = grouped_config(tiny_model_dir, unique_spatial, tmp_path / "o", train_sampling_strategy="batch_rebalance")
    with pytest.raises(ConfigError, match="batch_rebalance varies the micro-batch size"):
        to_sft_args(cfg, "c.yaml")


WORKER = """
import json, sys
from pathlib import Path
from spatialladder.config.load import load_config
from spatialladder.distributed import rank
from spatialladder.models.load import load_model_and_processor
from spatialladder.train.sft import build_sft_trainer, sft_collator, sft_rows
from spatialladder.train.sft_rows import load_samples
from spatialladder.train.trl_args import to_sft_args

cfg = load_config(sys.argv[1])
loaded = load_model_and_processor(cfg.model, for_training=True)
rows = sft_rows(cfg, load_samples(cfg)[0], loaded.processor)
collate = sft_collator(cfg, loaded.processor, None)
seen = []
def recording(examples):
    seen.append([int(e["messages"][-2]["content"][-1]["text"].split("#")[1].split()[0]) for e in examples])
    return collate(examples)
trainer = build_sft_trainer(cfg, to_sft_args(cfg), loaded.model, loaded.processor, rows, recording)
trainer.train()
Path(cfg.output_dir, f"seen{rank()}.json").write_text(json.dumps(seen))
"""


@pytest.mark.timeout(280)
def test_two_processes_each_get_their_share_of_the_grouped_order(tiny_model_dir, unique_spatial, tmp_path) -> None:
    """torchrun, 2 CPU processes, batch 2 per process, one epoch of 24 rows: both draw the same grouped order (4 rows
    per step) and accelerate deals its micro-batches round-robin, so rank 0 trains on batches 0, 2, 4, … and rank 1 on
    1, 3, 5, …: every row once, no row twice. About 25 s on 2 CPU cores."""
    import os
    import subprocess
    import sys

    import yaml

    from spatialladder.models.load import load_processor
    from spatialladder.train.lengths import row_lengths
    from spatialladder.train.sft import sft_rows
    from spatialladder.train.sft_rows import load_samples

    out = tmp_path / "ddp"
    cfg = grouped_config(tiny_model_dir, unique_spatial, out, per_device_train_batch_size=2, num_train_epochs=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    (tmp_path / "worker.py").write_text(WORKER)
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun), "--nproc_per_node", "2", str(tmp_path / "worker.py"), str(tmp_path / "c.yaml")]
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = [json.loads((out / f"seen{r}.json").read_text()) for r in (0, 1)]
    lengths = row_lengths(sft_rows(cfg, load_samples(cfg)[0], load_processor(str(tiny_model_dir), cfg.model)))
    order = list(SeededLengthGroupedSampler(lengths, 2 * 2, seed=5))
    dealt = batches(order, 2)
    assert seen[0] == dealt[0::2] and seen[1] == dealt[1::2]
    assert sorted(sum(seen[0] + seen[1], [])) == list(range(24))
