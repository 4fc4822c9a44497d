"""SFT runs on the tiny model: each stage trains and writes its folder; loss falls; LoRA, frozen vision, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from spatialladder.config.load import validate_mapping
from spatialladder.config.sft import SFTStageConfig
from spatialladder.errors import ConfigError
from spatialladder.train.sft import run_sft


@pytest.fixture
def make(sft_config):
    def build(stage, out, trainer=None, **top) -> SFTStageConfig:
        return validate_mapping(sft_config(stage, out, trainer, **top), SFTStageConfig)

    return build


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def changed(before: dict, after: dict, part: str) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before if part in k)


@pytest.mark.parametrize("stage", ["localization", "spatial", "coldstart"])
def test_each_stage_trains_two_steps_and_writes_its_folder(make, tiny_model_dir, tmp_path, stage) -> None:
    out = tmp_path / stage
    result = run_sft(make(stage, out))
    assert result.global_step == 2 and result.resumed_from is None
    assert result.num_samples == {"localization": 4, "spatial": 12, "coldstart": 4}[stage]
    for name in (
        "model.safetensors",
        "processor_config.json",
        "tokenizer.json",
        "chat_template.jinja",
        "config.resolved.yaml",
        "train_log.jsonl",
        "loss_curve.png",
        "README.md",
    ):
        assert (out / name).is_file(), name
    before, after = weights(tiny_model_dir), weights(out)
    assert changed(before, after, "model.layers") and changed(before, after, "visual")
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logged if "loss" in e] == [1, 2]


def test_twenty_steps_on_a_repeated_batch_lower_the_loss(make, tiny_model_dir, tmp_path) -> None:
    trainer = {"max_steps": 20, "per_device_train_batch_size": 2, "lr_scheduler_type": "constant"}
    cfg = make("localization", tmp_path / "o", trainer, data={"max_samples": 2})
    run_sft(cfg)
    losses = [json.loads(x)["loss"] for x in (tmp_path / "o/train_log.jsonl").read_text().splitlines() if '"loss"' in x]
    assert len(losses) == 20 and losses[-1] < 0.7 * losses[0]


def test_lora_trains_only_language_model_adapters(make, tiny_model_dir, tmp_path) -> None:
    out = tmp_path / "lora"
    run_sft(make("spatial", out, model={"lora": {"r": 4, "alpha": 8}}))
    adapter = load_file(str(out / "adapter_model.safetensors"))
    assert not (out / "model.safetensors").exists()
    assert adapter and all("lora_" in k and "layers" in k and "visual" not in k for k in adapter)
    assert any(k.endswith("lora_B.weight") and v.abs().sum() > 0 for k, v in adapter.items())  # B starts at 0


def test_frozen_vision_tower_stays_put(make, tiny_model_dir, tmp_path) -> None:
    out = tmp_path / "frozen"
    run_sft(make("spatial", out, model={"freeze_vision_tower": True}))
    before, after = weights(tiny_model_dir), weights(out)
    assert not changed(before, after, "visual") and changed(before, after, "model.layers")


def test_resume_continues_with_optimizer_state_to_the_same_weights(make, tiny_model_dir, tmp_path) -> None:
    # constant LR so that a 2-step first leg has the same schedule as the first 2 steps of a 4-step run
    common = {
        "lr_scheduler_type": "constant",
        "save_strategy": "steps",
        "save_steps": 2,
        "per_device_train_batch_size": 1,
    }
    full = make("spatial", tmp_path / "full", {**common, "max_steps": 4})
    run_sft(full)
    leg1 = make("spatial", tmp_path / "split", {**common, "max_steps": 2})
    run_sft(leg1)
    ckpt = tmp_path / "split/checkpoint-2"
    assert {"optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json"} <= {p.name for p in ckpt.iterdir()}
    leg2 = make("spatial", tmp_path / "split", {**common, "max_steps": 4})
    with pytest.raises(ConfigError, match="from a different config"):
        run_sft(leg2)  # auto-resume refuses a folder written by another config
    result = run_sft(leg2, resume=True)
    assert result.resumed_from == str(ckpt) and result.global_step == 4
    a, b = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resume_without_checkpoint_is_an_error(make, tiny_model_dir, tmp_path) -> None:
    with pytest.raises(ConfigError, match="no checkpoint"):
        run_sft(make("spatial", tmp_path / "none"), resume=True)


@pytest.mark.timeout(280)
def test_two_process_cpu_ddp_run_of_stage_2(sft_config, tmp_path) -> None:
    """torchrun with 2 CPU processes (accelerate's CPU launcher would run one): 12 records, batch 2 per process →
    3 steps per epoch, so 4 steps end at epoch 4/3 (a single process would be at 4/6). Run through the ladder
    (``--stage all``), so its markers are written once, by rank 0, after a barrier. About 25 s on 2 CPU cores,
    so it runs with the rest of the suite."""
    import os
    import subprocess
    import sys

    import yaml

    (tmp_path / "s2.yaml").write_text(yaml.safe_dump(sft_config("spatial", tmp_path / "ddp", {"max_steps": 4})))
    (tmp_path / "ladder.yaml").write_text(yaml.safe_dump({"kind": "ladder", "spatial": "s2.yaml"}))
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun), "--nproc_per_node", "2", "-m", "spatialladder", "train", "--stage", "all",
           "-c", str(tmp_path / "ladder.yaml")]  # fmt: skip
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    log = [json.loads(x) for x in (tmp_path / "ddp/train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 4 and abs(log[-1]["epoch"] - 4 / 3) < 1e-6
    assert (tmp_path / "ddp/model.safetensors").is_file()
    marker = json.loads((tmp_path / "ddp/stage_marker.json").read_text())
    assert marker["status"] == "done" and marker["stage"] == "spatial"


def test_report_to_tensorboard_writes_event_files(make, tiny_model_dir, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    out = tmp_path / "tb"
    run_sft(make("spatial", out, {"report_to": "tensorboard", "max_steps": 1}))
    events = list((out / "runs").rglob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0


def test_report_to_names_and_installs_are_checked_before_any_work(make, tmp_path) -> None:
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    from spatialladder.train.trl_args import PIP_NAMES

    with pytest.raises(
        ConfigError, match=r"s\.yaml: trainer\.report_to: unknown logger 'tensorbord'; valid: none, all"
    ):
        run_sft(make("spatial", tmp_path / "typo", {"report_to": "tensorbord"}), source="s.yaml")
    missing = sorted(set(INTEGRATION_TO_CALLBACK) - set(get_available_reporting_integrations()))[0]
    package = PIP_NAMES.get(missing, missing)
    with pytest.raises(ConfigError, match=rf"trainer\.report_to: {missing} is not installed .*pip install {package}\)"):
        run_sft(make("spatial", tmp_path / "missing", {"report_to": [missing]}), source="s.yaml")
    assert not (tmp_path / "typo").exists() and not (tmp_path / "missing").exists()


@pytest.mark.parametrize("average", ["micro_batch", "tokens"])
def test_loss_average_micro_batch_is_the_official_mean_of_sequence_means(make, tiny_model_dir, tmp_path, average):
    """Two sequences of different supervised lengths in one step (batch 1 x accumulation 2, lr 0): the official
    run (transformers 4.49) logged the mean of the two per-sequence CE means; ``tokens`` pools their tokens."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    from spatialladder.models.load import load_processor
    from spatialladder.train.sft import sft_collator, sft_rows
    from spatialladder.train.sft_rows import load_samples

    trainer = {"max_steps": 1, "per_device_train_batch_size": 1, "gradient_accumulation_steps": 2}
    # a single-image and a multi-view row, whole-sequence loss as official: 2 very different token counts
    cfg = make("spatial", tmp_path / "o", {**trainer, "learning_rate": 0.0}, data={"max_samples": 2}, loss_on="all")
    cfg = cfg.model_copy(update={"loss_average": average})
    run_sft(cfg)
    logged = [json.loads(x) for x in (tmp_path / "o/train_log.jsonl").read_text().splitlines()]
    loss = next(e["loss"] for e in logged if "loss" in e)

    proc = load_processor(str(tiny_model_dir), cfg.model)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    samples, _ = load_samples(cfg)
    rows, collate = sft_rows(cfg, samples, proc), sft_collator(cfg, proc, None)
    means, counts = [], []
    with torch.no_grad():
        for i in range(2):
            batch = collate([rows.row(i)])
            means.append(float(model(**batch).loss))
            counts.append(int((batch["labels"][:, 1:] != -100).sum()))
    assert counts[0] != counts[1]
    per_sequence = sum(means) / 2
    pooled = sum(m * n for m, n in zip(means, counts, strict=True)) / sum(counts)
    assert abs(per_sequence - pooled) > 1e-4  # a random model's CE is close to ln(vocab) everywhere
    expected = per_sequence if average == "micro_batch" else pooled
    assert loss == pytest.approx(expected, abs=1e-5)
