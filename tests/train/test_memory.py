"""GPU memory before anything loads (``spatialladder/train/memory.py``): the docs' arithmetic on the published 3B/7B
shapes, phase by phase, and the refusals of the trainers and ``config validate`` for runs that cannot fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spatialladder.cli import app
from spatialladder.config.load import load_config
from spatialladder.errors import ConfigError
from spatialladder.models.shape import ModelShape, model_shape
from spatialladder.testing.qwen_published import published_config
from spatialladder.train.memory import (
    GIB,
    Launch,
    TrainingSettings,
    check_training_memory,
    estimate_training,
    lora_params,
    vision_params,
)

REPO = Path(__file__).resolve().parents[2]
STAGE3 = REPO / "configs/train/stage3_grpo.yaml"
STAGE2 = REPO / "configs/train/stage2_spatial.yaml"
N_3B = 3_754_622_976  # the Hub's parameter count of Qwen2.5-VL-3B-Instruct (tests/testing/test_real_shape.py)
N_7B = 8_292_166_656
H100 = 79.2 * GIB  # torch.cuda.get_device_properties(0).total_memory of an "NVIDIA H100 80GB HBM3", as in issue 18
H200 = 139.8 * GIB
SHAPE_3B = ModelShape.from_config(published_config("qwen2.5-vl-3b"))
SHAPE_7B = ModelShape.from_config(published_config("qwen2.5-vl-7b"))
HEAD_3B = 151_936 * 2048 * 4  # trl's fused head: fp32 gradient of the tied vocabulary matrix


@pytest.fixture(scope="module")
def model_3b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the published 3B config.json and nothing else: what the check reads (no weights)."""
    folder = tmp_path_factory.mktemp("qwen2.5-vl-3b")
    (folder / "config.json").write_text(json.dumps(published_config("qwen2.5-vl-3b")))
    return folder


def stage3(model: Path, *overrides: str) -> dict:
    return load_config(STAGE3, [f"model.name_or_path={model}", *overrides]).model_dump()


def test_shape_is_read_from_config_json_without_weights(model_3b: Path, tmp_path: Path) -> None:
    assert model_shape(str(model_3b)) == SHAPE_3B and SHAPE_3B.total_params == N_3B
    assert model_shape(str(tmp_path)) is None  # a folder without config.json
    assert model_shape("Qwen/Qwen2.5-VL-3B-Instruct") is None  # not in this machine's Hub cache: nothing downloaded


def test_stage3_vllm_without_sleep_is_issue_18s_sum_and_is_refused_on_an_80gb_card(model_3b: Path) -> None:
    """14.0 GiB fp32 weights + 42.0 gradients and AdamW + 1.2 head transient + 7.0 KL reference + 23.8 vLLM pool."""
    config = stage3(model_3b, "rollout=vllm", "trainer.vllm_enable_sleep_mode=false")
    settings = TrainingSettings.from_config(config, SHAPE_3B)
    estimate = estimate_training(SHAPE_3B, settings, Launch(), H100)
    assert estimate.peak_phase == "train"
    assert estimate.peak == 4 * N_3B + 4 * N_3B + 8 * N_3B + HEAD_3B + 2 * N_3B + 0.3 * H100
    assert round(estimate.peak / GIB, 1) == 87.9  # issue 18: ≈ 87.9 GiB on a 79.2 GiB H100
    with pytest.raises(ConfigError) as err:
        check_training_memory(config, "stage3.yaml", device_bytes=H100, launch=Launch())
    message = str(err.value)
    assert "\n" not in message and message.startswith("stage3.yaml: does not fit a 79.2 GiB GPU (single)")
    assert "train 87.9 GiB" in message and "vllm_enable_sleep_mode=true" in message


def test_the_shipped_stage3_fits_one_80gb_card_with_either_rollout(model_3b: Path) -> None:
    """As shipped (sleep mode on): vLLM's pool is there only while it generates, when the gradients are freed."""
    vllm = estimate_training(
        SHAPE_3B, TrainingSettings.from_config(stage3(model_3b, "rollout=vllm"), SHAPE_3B), Launch(), H100
    )
    assert vllm.total("train") == 16 * N_3B + HEAD_3B + 2 * N_3B  # 64.2 GiB before activations
    assert vllm.total("generate") == 4 * N_3B + 8 * N_3B + 2 * N_3B + 0.3 * H100  # 72.7 GiB
    assert vllm.total("vLLM start") == 2 * N_3B + 2 * N_3B + 0.3 * H100  # bf16 policy and reference as loaded
    assert vllm.peak_phase == "generate" and vllm.peak < H100
    hf = estimate_training(SHAPE_3B, TrainingSettings.from_config(stage3(model_3b), SHAPE_3B), Launch(), H100)
    # an hf rollout from fp32 master weights holds autocast's bf16 copies for the generate call instead
    assert hf.total("generate") == 4 * N_3B + 8 * N_3B + 2 * N_3B + 2 * N_3B
    assert hf.peak_phase == "train" and hf.peak == 16 * N_3B + HEAD_3B + 2 * N_3B
    for rollout in ("hf", "vllm"):
        line = check_training_memory(stage3(model_3b, f"rollout={rollout}"), device_bytes=H100, launch=Launch())
        assert line is not None and line.startswith("memory: ") and "of 79.2 before activations (single" in line


def test_sharded_launches_divide_the_states(model_3b: Path) -> None:
    config = load_config(STAGE2, [f"model.name_or_path={model_3b}"]).model_dump()
    settings = TrainingSettings.from_config(config, SHAPE_3B)
    gathered = 2 * (SHAPE_3B.embedding_params + 2 * SHAPE_3B.text_layer_params)
    zero3 = estimate_training(SHAPE_3B, settings, Launch("zero3", 2), H100)
    assert zero3.peak == 16 * N_3B / 2 + gathered + HEAD_3B  # the old script's ZeRO-3 items
    zero2 = estimate_training(SHAPE_3B, settings, Launch("zero2", 2), H100)
    assert zero2.peak == 2 * N_3B + 14 * N_3B / 2 + HEAD_3B
    fsdp = estimate_training(SHAPE_3B, settings, Launch("fsdp", 4), H100)
    assert fsdp.peak == 16 * N_3B / 4 + gathered + HEAD_3B
    ddp = estimate_training(SHAPE_3B, settings, Launch("ddp", 2), H100)
    assert ddp.peak == 16 * N_3B + HEAD_3B  # replicas: fp32 master weights on every GPU


def test_the_7b_needs_sharding_on_80gb_cards(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(published_config("qwen2.5-vl-7b")))
    config = load_config(STAGE2, [f"model.name_or_path={tmp_path}"]).model_dump()
    with pytest.raises(ConfigError, match=r"does not fit a 79\.2 GiB GPU \(single\): before any activation, train 1"):
        check_training_memory(config, device_bytes=H100, launch=Launch())
    states = 16 * N_7B / 4 + 2 * (SHAPE_7B.embedding_params + 2 * SHAPE_7B.text_layer_params)
    estimate = estimate_training(SHAPE_7B, TrainingSettings.from_config(config, SHAPE_7B), Launch("zero3", 4), H100)
    assert estimate.peak == states + 4 * SHAPE_7B.embedding_params
    assert check_training_memory(config, device_bytes=H100, launch=Launch("zero3", 4)) is not None


def test_frozen_tower_and_lora_keep_their_frozen_weights_as_loaded(model_3b: Path) -> None:
    vision = vision_params(SHAPE_3B)
    assert vision == 32 * 19_702_200 + 1_505_280 + 36_708_608  # docs/benchmarks.md's per-block figures
    frozen = load_config(STAGE2, [f"model.name_or_path={model_3b}", "model.freeze_vision_tower=true"]).model_dump()
    estimate = estimate_training(SHAPE_3B, TrainingSettings.from_config(frozen, SHAPE_3B), Launch(), H100)
    assert estimate.peak == 16 * (N_3B - vision) + 2 * vision + HEAD_3B
    # rank 8 on q, k, v, o, gate, up, down of 36 layers: r × (in + out) each
    per_layer = (2048 + 2048) + 2 * (2048 + 256) + (2048 + 2048) + 2 * (2048 + 11008) + (11008 + 2048)
    assert lora_params(SHAPE_3B, 8) == 8 * per_layer * 36
    lora = load_config(STAGE2, [f"model.name_or_path={model_3b}", "model.lora={r: 8}"]).model_dump()
    estimate = estimate_training(SHAPE_3B, TrainingSettings.from_config(lora, SHAPE_3B), Launch(), H100)
    assert estimate.peak == 2 * N_3B + 16 * lora_params(SHAPE_3B, 8)  # no head gradient: the head is frozen


def test_launch_from_the_shipped_accelerate_configs_and_the_launcher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    accel = REPO / "configs/accelerate"
    assert Launch.from_accelerate_config(accel / "zero3.yaml") == Launch("zero3", 2)  # stage from zero3.json
    assert Launch.from_accelerate_config(accel / "zero2.yaml", 8) == Launch("zero2", 8)
    assert Launch.from_accelerate_config(accel / "ddp.yaml") == Launch("ddp", 2)
    assert Launch.from_accelerate_config(accel / "fsdp2.yaml", 4) == Launch("fsdp", 4)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_CONFIG_FILE", str(accel / "zero3.json"))
    assert Launch.from_env() == Launch("zero3", 2)
    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED")
    assert Launch.from_env() == Launch("ddp", 2)
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert Launch.from_env() == Launch("fsdp", 2)


def test_no_gpu_size_or_no_config_json_means_not_checked(model_3b: Path, tmp_path: Path) -> None:
    assert check_training_memory(stage3(model_3b)) is None  # no CUDA here and no size given
    assert check_training_memory(stage3(tmp_path), device_bytes=H100) is None


def test_config_validate_refuses_before_loading_and_names_the_numbers(model_3b: Path) -> None:
    runner = CliRunner()
    base = ["config", "validate", "-c", str(STAGE3), "--set", f"model.name_or_path={model_3b}", "--set", "rollout=vllm"]
    ok = runner.invoke(app, [*base, "--gpu-memory-gib", "79.2"])
    assert ok.exit_code == 0, ok.output
    assert "memory: 72.7 GiB of 79.2 before activations (single, generate)" in ok.output
    bad = runner.invoke(app, [*base, "--set", "trainer.vllm_enable_sleep_mode=false", "--gpu-memory-gib", "79.2"])
    assert isinstance(bad.exception, ConfigError)  # the console script prints it as one line, exit 1 (tests/cli)
    assert "does not fit a 79.2 GiB GPU (single): before any activation, train 87.9 GiB" in str(bad.exception)
    zero3 = runner.invoke(
        app,
        [*base, "--set", "trainer.vllm_enable_sleep_mode=false", "--gpu-memory-gib", "79.2"]
        + ["--accelerate-config", str(REPO / "configs/accelerate/zero3.yaml")],
    )
    assert zero3.exit_code == 0, zero3.output
    assert "(zero3 × 2 GPUs, train)" in zero3.output


def test_ladder_validate_checks_every_rung_with_the_base_models_shape(model_3b: Path) -> None:
    runner = CliRunner()
    ladder = REPO / "configs/ladder.yaml"
    result = runner.invoke(
        app, ["config", "validate", "-c", str(ladder), "--set", f"base_model={model_3b}", "--gpu-memory-gib", "79.2"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("before activations (single") == 4  # stage 1, stage 2, cold start, stage 3


def test_the_trainers_refuse_before_loading(tiny_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """On a GPU the trainer checks the visible card before data or weights are touched: nothing is written."""
    from spatialladder.train import memory
    from spatialladder.train.grpo import run_grpo

    monkeypatch.setattr(memory, "visible_device_bytes", lambda: 2**20)  # a 1 MiB GPU: the tiny model's states exceed
    out = tmp_path / "run"
    cfg = load_config(
        REPO / "configs/debug/grpo_tiny.yaml",
        [f"model.name_or_path={tiny_model_dir}", f"output_dir={out}", "data.files=[missing.jsonl]"],
    )
    with pytest.raises(ConfigError, match=r"does not fit a 0\.0 GiB GPU \(single\)"):
        run_grpo(cfg, source="grpo_tiny.yaml")
    assert not out.exists()  # refused before the resolved config, the data (a missing file here) or the model
