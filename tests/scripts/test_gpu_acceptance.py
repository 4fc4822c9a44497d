"""``scripts/gpu_acceptance.py`` up to the CUDA call: planning, FLOPs and memory arithmetic, what the child records
on real runs of the tiny model, result parsing and the report. The GPU run itself needs a GPU node.

FLOPs are checked against numbers worked out by hand below (the tiny model's widths: text 64 wide, 2 layers, 4/2
heads of 16, MLP 128, vocabulary 448, untied; vision 2 blocks of 64, MLP 128, the second full-attention), and the
3B figures against the published parameter counts and docs/benchmarks.md's memory table; the Qwen3-VL-2B path's
(issue 19) against the 2B's widths worked out by hand.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
GIB = 2**30
N_3B = 3_754_622_976
N_2B = 2_127_532_032
INPUT_KEYS = ("model", "model_qwen3_vl", "spatial", "video", "images_only", "images", "vsibench")


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ga() -> ModuleType:
    return load_script("gpu_acceptance")


@pytest.fixture(scope="module")
def child() -> ModuleType:
    return load_script("gpu_acceptance_child")


@pytest.fixture(scope="module")
def shape_3b(ga: ModuleType) -> Any:
    from spatialladder.testing.qwen_published import shaped_config

    return ga.ModelShape.from_config(shaped_config("qwen2.5-vl-3b"))


@pytest.fixture(scope="module")
def shape_2b(ga: ModuleType) -> Any:
    from spatialladder.testing.qwen_published import shaped_config

    return ga.ModelShape.from_config(shaped_config("qwen3-vl-2b"))


@pytest.fixture(scope="module")
def tiny_shape(ga: ModuleType, tiny_model_dir: Path) -> Any:
    return ga.ModelShape.from_config(json.loads((tiny_model_dir / "config.json").read_text()))


def fake_env(ga: ModuleType, count: int = 1, installed: tuple[str, ...] = ()) -> Any:
    return ga.GpuEnv(True, count, "NVIDIA H100 80GB HBM3", 80 * GIB, {p: p in installed for p in ga.OPTIONAL_PACKAGES})


def fake_inputs(root: Path) -> dict[str, str]:
    return {key: str(root / key) for key in INPUT_KEYS}


# ------------------------------------------------------------------------------------------------- the command


def test_without_cuda_it_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU even on a GPU node
    done = subprocess.run(
        [sys.executable, "scripts/gpu_acceptance.py", "--out", str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and "no CUDA GPU visible" in lines[0] and "Traceback" not in lines[0]
    assert not (tmp_path / "out").exists()  # nothing written, nothing built


def test_main_builds_the_qwen3_vl_model_also_with_model_and_measures_each_path_on_its_own(
    ga, tiny_model_dir, tiny_family_dirs, tmp_path: Path, monkeypatch
) -> None:
    """The run as far as no GPU is needed (the environment and the child processes stood in for): with ``--model``
    the setup skips the 3B but builds the Qwen3-VL-2B (``--extra-model``), and each path is measured on the shape of
    its own model; the report names both models."""
    calls, measured = [], {}
    given = tiny_model_dir  # --model: the 3B the user already has

    def fake_run_child(command: list[str], env: dict[str, str], log: Path, budget_s: float) -> Any:
        calls.append(command)
        log.parent.mkdir(parents=True, exist_ok=True)  # as the real one does
        if command[2] == "setup":
            out = Path(command[3])
            inputs = {**fake_inputs(out), "model_qwen3_vl": str(tiny_family_dirs["qwen3-vl"])}
            inputs.pop("model")  # --no-model: the child writes no 3B
            (out / "setup.json").write_text(json.dumps(inputs))
        return ga.Finished(0, 1.0, False)

    def fake_summarise(item, finished, ranks, shape, *args: Any) -> Any:
        measured[item.spec.name] = shape
        return ga.PathResult(item.spec.name, item.spec.issue, item.spec.what, "pass", item.budget_s)

    monkeypatch.setattr(ga, "probe_environment", lambda: fake_env(ga))
    monkeypatch.setattr(ga, "run_child", fake_run_child)
    monkeypatch.setattr(ga, "summarise", fake_summarise)
    out = tmp_path / "out"
    argv = ["--out", str(out), "--model", str(given), "--only", "grpo-hf-video", "grpo-qwen3-vl-video"]
    assert ga.main(argv) == 0
    setup = calls[0]
    assert setup[2:] == [
        "setup",
        str(out),
        "--like",
        "qwen2.5-vl-3b",
        "--extra-model",
        "model_qwen3_vl=qwen3-vl-2b",
    ] + ["--no-model"]
    assert [c[c.index("run") + 2] for c in calls[1:]] == [
        "configs/train/stage3_grpo.yaml",
        "configs/train/qwen3vl_2b/stage3_grpo.yaml",
    ]
    assert f'model.name_or_path="{tiny_family_dirs["qwen3-vl"]}"' in calls[2]
    assert f'model.name_or_path="{given.resolve()}"' in calls[1]
    assert (measured["grpo-hf-video"].family, measured["grpo-qwen3-vl-video"].family) == ("qwen2.5-vl", "qwen3-vl")
    report = json.loads((out / "report.json").read_text())
    assert {k: (m["family"], m["parameters"]) for k, m in report["models"].items()} == {
        "model": ("qwen2.5-vl", 372_544),
        "model_qwen3_vl": ("qwen3-vl", measured["grpo-qwen3-vl-video"].total_params),
    }
    assert report["model"] == report["models"]["model"]


def test_an_unknown_path_name_is_one_line_exit_2(ga: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        ga.parse_args(["--only", "sft-zero4"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'sft-zero4'" in err[0] and "sft-zero3" in err[0]


# ---------------------------------------------------------------------------------------------------- planning


def test_budgets_fit_nine_minutes(ga: ModuleType) -> None:
    budgets = [ga.SETUP_BUDGET_S, *(p.budget_s for p in ga.PATHS)]
    assert all(b > 0 for b in budgets)
    assert sum(budgets) <= ga.TOTAL_BUDGET_S == 9 * 60
    assert len({p.name for p in ga.PATHS}) == len(ga.PATHS)
    assert {p.model for p in ga.PATHS} == set(ga.MODELS)  # every model the setup builds is used, none is missing


def test_every_path_the_issues_ask_for_is_in_the_table(ga: ModuleType) -> None:
    by_name = {p.name: p for p in ga.PATHS}
    assert {p.name for p in ga.PATHS} == {
        "sft-sdpa",
        "sft-flash-attention-2",
        "sft-padding-free",
        "sft-zero2",
        "sft-zero3",
        "grpo-hf-video",
        "grpo-qwen3-vl-video",
        "grpo-dynamic-sampling",
        "grpo-vllm-images",
        "grpo-vllm-video",
        "eval-hf-shared",
        "eval-hf-unshared",
        "eval-vllm",
        "eval-vllm-2gpu",
    }
    assert (
        by_name["sft-padding-free"].needs == ("flash_attn",)
        and "padding_free=true" in by_name["sft-padding-free"].overrides
    )
    assert by_name["sft-zero3"].launcher == "configs/accelerate/zero3.yaml"
    assert "dynamic_sampling.enabled=true" in by_name["grpo-dynamic-sampling"].overrides
    assert "share_video_prefix=false" in by_name["eval-hf-unshared"].overrides
    two = by_name["eval-vllm-2gpu"]
    assert (two.needs, two.launcher, two.gpus) == (("vllm",), "configs/accelerate/ddp.yaml", 2)
    assert two.overrides == by_name["eval-vllm"].overrides  # the same run, under a 2-process launch
    qwen3 = by_name["grpo-qwen3-vl-video"]  # issue 19: grpo-hf-video's run on the Qwen3-VL-2B, its own ladder rung
    assert (qwen3.config, qwen3.model, qwen3.needs, qwen3.steps) == (
        "configs/train/qwen3vl_2b/stage3_grpo.yaml",
        "model_qwen3_vl",
        (),
        3,
    )
    assert qwen3.overrides == by_name["grpo-hf-video"].overrides and ga.MODELS["model_qwen3_vl"] == "qwen3-vl-2b"
    assert all(p.model == "model" for p in ga.PATHS if p is not qwen3)


def test_plan_with_nothing_optional_on_one_gpu(ga: ModuleType, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    plan = {p.spec.name: p for p in ga.plan_paths(fake_env(ga), fake_inputs(tmp_path), tmp_path / "out")}
    runs = sorted(name for name, p in plan.items() if p.run)
    assert runs == [
        "eval-hf-shared",
        "eval-hf-unshared",
        "grpo-dynamic-sampling",
        "grpo-hf-video",
        "grpo-qwen3-vl-video",
        "sft-sdpa",
    ]
    assert plan["sft-flash-attention-2"].reason == (
        "skipped: flash_attn not installed (pip install -e '.[flash-attn]')"
    )
    assert plan["sft-zero3"].reason.startswith("skipped: deepspeed not installed")
    assert plan["eval-vllm"].reason.startswith("skipped: vllm not installed")
    sdpa = plan["sft-sdpa"]
    assert sdpa.command[:2] == [sys.executable, str(ga.CHILD)]
    assert sdpa.env["CUDA_VISIBLE_DEVICES"] == "0" and sdpa.env["HF_HUB_OFFLINE"] == "1"
    assert sdpa.command[2:6] == [
        "run",
        "sft",
        "configs/train/stage2_spatial.yaml",
        str(tmp_path / "out/runs/sft-sdpa/probe"),
    ]
    assert f'model.name_or_path="{tmp_path / "model"}"' in sdpa.command
    assert f'data.files=["{tmp_path / "spatial"}"]' in sdpa.command
    qwen3 = plan["grpo-qwen3-vl-video"]  # the Qwen3-VL-2B's folder fills {model}; the 3B's video row
    assert qwen3.command[:6] == [
        sys.executable,
        str(ga.CHILD),
        "run",
        "grpo",
        "configs/train/qwen3vl_2b/stage3_grpo.yaml",
        str(tmp_path / "out/runs/grpo-qwen3-vl-video/probe"),
    ]
    assert qwen3.command[6:] == [
        f'model.name_or_path="{tmp_path / "model_qwen3_vl"}"',
        f'data.image_root="{tmp_path / "images"}"',
        f'output_dir="{tmp_path / "out/runs/grpo-qwen3-vl-video"}"',
        "trainer.warmup_steps=0",
        "trainer.save_strategy=no",
        "trainer.report_to=none",
        "trainer.logging_steps=1",
        "trainer.disable_tqdm=true",
        "sampling.max_completion_length=64",
        f'data.files=["{tmp_path / "video"}"]',
        "rollout=hf",
        "trainer.max_steps=3",
    ]
    assert (qwen3.env["CUDA_VISIBLE_DEVICES"], qwen3.processes, qwen3.budget_s) == ("0", 1, 35)


def test_a_path_whose_model_the_setup_did_not_write_is_skipped(ga: ModuleType, tmp_path: Path) -> None:
    inputs = {k: v for k, v in fake_inputs(tmp_path).items() if k != "model_qwen3_vl"}
    plan = {p.spec.name: p for p in ga.plan_paths(fake_env(ga), inputs, tmp_path / "out")}
    assert not plan["grpo-qwen3-vl-video"].run
    assert plan["grpo-qwen3-vl-video"].reason == "skipped: no model_qwen3_vl in setup.json"
    assert plan["grpo-hf-video"].run


def test_plan_with_everything_on_two_gpus(ga: ModuleType, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    env = fake_env(ga, count=2, installed=ga.OPTIONAL_PACKAGES)
    plan = {p.spec.name: p for p in ga.plan_paths(env, fake_inputs(tmp_path), tmp_path / "out", budget_scale=2)}
    assert all(p.run for p in plan.values())
    zero3 = plan["sft-zero3"]
    head = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", "configs/accelerate/zero3.yaml"]
    assert zero3.command[:7] == [*head, "--num_processes", "2"] and zero3.processes == 2
    assert "CUDA_VISIBLE_DEVICES" not in zero3.env  # every GPU
    assert plan["sft-sdpa"].env["CUDA_VISIBLE_DEVICES"] == "3"  # the first visible one only
    assert plan["sft-sdpa"].budget_s == 80 and zero3.reason == "2 processes"


def test_vllm_eval_on_two_gpus_only_where_two_are_visible(ga: ModuleType, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    one = {p.spec.name: p for p in ga.plan_paths(fake_env(ga, 1, ("vllm",)), fake_inputs(tmp_path), tmp_path / "o")}
    assert one["eval-vllm"].run and not one["eval-vllm-2gpu"].run
    assert one["eval-vllm-2gpu"].reason == "skipped: needs 2 GPUs, 1 visible"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,6")
    three = {p.spec.name: p for p in ga.plan_paths(fake_env(ga, 3, ("vllm",)), fake_inputs(tmp_path), tmp_path / "o")}
    two = three["eval-vllm-2gpu"]
    head = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", "configs/accelerate/ddp.yaml"]
    assert two.run and two.reason == "2 processes" and two.processes == 2
    assert two.command[:7] == [*head, "--num_processes", "2"]
    assert two.command[9:12] == [str(ga.CHILD), "run", "eval"] and "backend=vllm" in two.command
    assert two.env["CUDA_VISIBLE_DEVICES"] == "3,5"  # the first two visible GPUs, one process on each
    assert three["eval-vllm"].env["CUDA_VISIBLE_DEVICES"] == "3"


def test_zero_runs_with_one_process_on_one_gpu(ga: ModuleType, tmp_path: Path) -> None:
    env = fake_env(ga, count=1, installed=("deepspeed",))
    plan = {p.spec.name: p for p in ga.plan_paths(env, fake_inputs(tmp_path), tmp_path / "out")}
    assert plan["sft-zero2"].run and plan["sft-zero2"].processes == 1
    assert plan["sft-zero2"].command[5:7] == ["--num_processes", "1"]


def test_only_runs_the_named_paths(ga: ModuleType, tmp_path: Path) -> None:
    plan = ga.plan_paths(fake_env(ga), fake_inputs(tmp_path), tmp_path, only=["eval-hf-shared"])
    assert [p.spec.name for p in plan if p.run] == ["eval-hf-shared"]
    assert {p.reason for p in plan if not p.run} >= {"skipped: not in --only"}


def test_every_planned_command_validates_against_the_shipped_configs(ga: ModuleType, tmp_path: Path) -> None:
    """The overrides each path adds are real keys with valid values, and trl accepts the resulting arguments (on
    CPU only ``trainer.use_cpu`` is added; padding-free stops at its CUDA/flash-attn runtime check, after trl)."""
    from spatialladder.config.load import load_config
    from spatialladder.errors import ConfigError
    from spatialladder.train.trl_args import to_grpo_args, to_sft_args

    env = fake_env(ga, count=2, installed=ga.OPTIONAL_PACKAGES)
    for item in ga.plan_paths(env, fake_inputs(tmp_path), tmp_path / "out"):
        overrides = item.command[item.command.index(item.spec.config) + 2 :]
        cpu = ["trainer.use_cpu=true"] if item.spec.kind != "eval" else []
        cfg = load_config(item.spec.config, [*overrides, *cpu])
        assert cfg.model.name_or_path == str(tmp_path / item.spec.model)
        assert cfg.output_dir == str(item.run_dir)
        if cfg.kind == "sft":
            if cfg.padding_free:
                with pytest.raises(ConfigError, match="padding_free: true needs CUDA"):
                    to_sft_args(cfg)
                continue
            args = to_sft_args(cfg)
            assert (args.max_steps, args.gradient_accumulation_steps, args.warmup_steps) == (4, 1, 0)
            assert args.bf16 and args.per_device_train_batch_size == 1
            assert cfg.model.max_pixels == 100_352  # the paper's training budget, as shipped
        elif cfg.kind == "grpo":
            args = to_grpo_args(cfg)
            assert args.max_steps == item.spec.steps and args.use_vllm == (cfg.rollout == "vllm")
            assert (args.num_generations, args.max_completion_length, args.beta) == (4, 64, 0.01)
            if item.spec.model == "model_qwen3_vl":  # the Qwen3-VL-2B rung: the paper's 128 tokens in factor 32
                assert (cfg.model.max_pixels, cfg.data.files, cfg.rollout) == (131_072, [str(tmp_path / "video")], "hf")
        else:
            assert (cfg.frames, cfg.model.max_pixels, cfg.generation.max_new_tokens) == (32, 401_408, 32)


# ------------------------------------------------------------------------------------------------- arithmetic


def test_parameter_counts_match_the_published_models_and_the_tiny_one(ga, shape_3b, tiny_shape, tiny_model_dir):
    from transformers import Qwen2_5_VLForConditionalGeneration

    from spatialladder.testing.qwen_published import shaped_config

    assert shape_3b.total_params == N_3B  # the Hub's 3.75 B (tests/slow: from the widths, and on the meta device)
    assert ga.ModelShape.from_config(shaped_config("qwen2.5-vl-7b")).total_params == 8_292_166_656  # untied head
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model_dir)
    assert tiny_shape.total_params == sum(p.numel() for p in model.parameters()) == 372_544
    # 3B per-token text parameters: 36 layers of 77,076,992 + final norm 2048 + the 151,936 × 2048 head
    assert shape_3b.n_text == 36 * 77_076_992 + 2048 + 151_936 * 2048 == 3_085_938_688
    # per patch: 32 blocks of 19,702,200 + patch embedding 1280·3·2·14² + merger 36,708,608 / 4
    assert shape_3b.n_vision_patch == 32 * 19_702_200 + 1_505_280 + 36_708_608 // 4 == 641_152_832


def test_text_flops_by_hand(ga, tiny_shape) -> None:
    # tiny: layer = (64·64+64) + 2(64·32+32) + 64·64 + 3·64·128 + 2·64 = 37,120; body 2·37,120 + 64 = 74,304;
    # + head 448·64 = 28,672 → 102,976 parameters per token. 10 new tokens after 5 cached: 2·102,976·10 = 2,059,520
    # plus attention 4 · 2 layers · 64 · (10·5 + 10·11/2 = 105 pairs) = 53,760.
    assert tiny_shape.n_text == 102_976
    assert ga.text_row_flops(tiny_shape, 10, 5) == 2_059_520 + 53_760
    record = {"grad": True, "rows": [[10, 5], [3, 0]]}
    one = 2 * 102_976 * 3 + 4 * 2 * 64 * 6
    assert ga.lm_record_flops(tiny_shape, record) == 3 * (2_059_520 + 53_760 + one)


def test_vision_flops_by_hand(ga, tiny_shape, shape_3b) -> None:
    # tiny, grid 1×4×6: 24 patches in one window (2×3 merged units fit a 4×4 window), so the window block and the
    # full block both see 24² = 576 pairs: attention 4·64·1,152 = 294,912. Per patch: 2 blocks of 41,664 + patch
    # embedding 75,264 + merger 82,304/4 = 179,168 → 2·179,168·24 = 8,600,064.
    assert tiny_shape.n_vision_patch == 179_168
    assert ga.vision_item_flops(tiny_shape, 1, 4, 6) == 8_600_064 + 294_912
    # 3B, a 1296×968 frame at 100,352 px: grid 1×18×26 = 468 patches; merged 9×13 in windows of 4 → sides
    # (4, 4, 1) × (4, 4, 4, 1); Σ (4ab)² = 16 · (16+16+1) · (16+16+16+1) = 25,872 pairs per windowed block (28 of
    # them), 468² = 219,024 per full block (4): attention 4·1280·(4·219,024 + 28·25,872) = 8,194,621,440.
    linear = 2 * 641_152_832 * 468
    assert ga.vision_item_flops(shape_3b, 1, 18, 26) == linear + 8_194_621_440
    assert ga.vision_record_flops(shape_3b, {"grad": False, "grids": [[1, 18, 26]] * 2}) == 2 * (linear + 8_194_621_440)


def test_vllm_request_flops(ga, tiny_shape) -> None:
    # 100 prompt tokens, 60 from the prefix cache, 8 placeholders left to encode, completions of 4 and 2 tokens
    request = {"prompt": 100, "cached": 60, "vision_tokens": 8, "completions": [4, 2]}
    expected = (
        ga.text_row_flops(tiny_shape, 40, 60)
        + ga.text_row_flops(tiny_shape, 4, 100)
        + ga.text_row_flops(tiny_shape, 2, 100)
        + 2 * 179_168 * 4 * 8
    )
    assert ga.vllm_request_flops(tiny_shape, request) == expected


@pytest.mark.parametrize(
    ("name", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", 989.5),
        ("NVIDIA H100 PCIe", 756.5),
        ("NVIDIA H100 NVL", 835.5),
        ("NVIDIA H200", 989.5),
        ("NVIDIA H200 NVL", 835.5),
        ("NVIDIA GH200 480GB", 989.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA A100 80GB PCIe", 312.0),
        ("NVIDIA L40S", 362.05),
        ("NVIDIA L4", 121.0),
        ("NVIDIA B200", 2250.0),
        ("NVIDIA A10G", None),
        ("Tesla V100-SXM2-16GB", None),
    ],
)
def test_bf16_peak_lookup(ga, name: str, tflops: float | None) -> None:
    assert ga.bf16_peak_tflops(name)[0] == tflops


def test_mfu(ga) -> None:
    assert ga.mfu(989.5e12 * 3 * 2 * 0.4, 3.0, 2, 989.5) == pytest.approx(0.4)
    assert ga.mfu(1e12, 1.0, 1, None) is None and ga.mfu(1e12, 0.0, 1, 312.0) is None


def test_memory_estimate_single_gpu_bf16_sft_is_the_docs_arithmetic(ga, shape_3b) -> None:
    spec = next(p for p in ga.PATHS if p.name == "sft-sdpa")
    records = {"lm": [{"grad": True, "shape": [1, 2000]}], "vision": [{"grad": True, "grids": [[16, 18, 26]]}]}
    pure_bf16 = {"model": {"dtype": "bfloat16"}, "trainer": {"bf16": False}}  # no autocast: no master weights
    total, items = ga.estimate_peak(spec, shape_3b, pure_bf16, 1, records, 80 * GIB)
    values = dict(items)
    assert values[f"{N_3B:,} trainable parameters (2 B/param as loaded)"] == 2 * N_3B
    assert values["gradients of the trainable ones"] == 2 * N_3B
    assert values["AdamW m, v of the trainable ones"] == 4 * N_3B  # states 8 B/param: 30.0 GB
    assert values["fused LM head: fp32 gradient of the vocabulary matrix"] == 151_936 * 2048 * 4  # 1.16 GiB
    # 147 KB of layer checkpoints per token (36 × 2048 × 2 B) + one recomputed layer (45,824 values × 2 B)
    assert values["text activations: 2000 positions × (layer checkpoints + one layer)"] == 2000 * (147_456 + 91_648)
    patches = 16 * 18 * 26
    assert values[f"vision activations: {patches} patches × (block checkpoints + one block)"] == patches * 2 * (
        32 * 1280 + 19_220
    )
    assert values["fused LM head tiles"] == 2000 * 32768 * 6
    assert total == sum(values.values())
    fp32, _ = ga.estimate_peak(spec, shape_3b, {"model": {"dtype": "float32"}}, 1, records, 80 * GIB)
    activations = 2000 * (147_456 + 91_648) + patches * 2 * (32 * 1280 + 19_220)
    assert fp32 - total == 8 * N_3B + activations
    # bf16 as loaded under bf16 autocast: trainable parameters upcast to fp32 master weights when training starts,
    # derived from the config or as the child records them: 4 B weights + 12 B gradient and moments, fp32 activations
    derived, _ = ga.estimate_peak(spec, shape_3b, {"model": {"dtype": "bfloat16"}}, 1, records, 80 * GIB)
    assert derived == fp32
    master = {"bytes": 4 * N_3B, "trainable_bytes": 4 * N_3B, "dtypes": {"float32": N_3B}}
    upcast, items = ga.estimate_peak(spec, shape_3b, {"model": {"dtype": "bfloat16"}}, 1, records, 80 * GIB, master)
    assert dict(items)[f"weights as trained (float32 {N_3B:,} parameters)"] == 4 * N_3B
    assert dict(items)["gradients of the trainable ones"] == 4 * N_3B
    assert dict(items)["AdamW m, v of the trainable ones (2 × their bytes)"] == 8 * N_3B
    assert upcast == fp32


def test_memory_estimate_zero3_on_two_gpus_and_grpo_extras(ga, shape_3b) -> None:
    zero3 = next(p for p in ga.PATHS if p.name == "sft-zero3")
    empty = {"lm": [], "vision": []}
    total, items = ga.estimate_peak(zero3, shape_3b, {"model": {"dtype": "bfloat16"}}, 2, empty, 80 * GIB)
    states = sum(b for label, b in items if "/ GPUs" in label)
    assert states == 16 * N_3B / 2  # bf16 weights + grads, fp32 master + Adam m, v: 30.0 GB per GPU
    grpo = next(p for p in ga.PATHS if p.name == "grpo-vllm-video")
    config = {"model": {"dtype": "bfloat16"}, "beta": 0.01, "rollout": "vllm", "trainer": {}}
    _, items = ga.estimate_peak(grpo, shape_3b, config, 1, empty, 80 * GIB)
    values = dict(items)  # no sleep mode: the pool sits beside the training states
    assert values["[train] KL reference model (as loaded)"] == 2 * N_3B
    assert values["[train] colocated vLLM pool: 0.3 × device memory"] == 0.3 * 80 * GIB
    vllm_eval = next(p for p in ga.PATHS if p.name == "eval-vllm")
    total, _ = ga.estimate_peak(vllm_eval, shape_3b, {"model": {"dtype": "bfloat16"}, "backend": "vllm"}, 1, empty, 100)
    assert total == 90.0


# ----------------------------------------------------------------------------------------- child records


def test_lm_rows_from_masks_caches_and_packed_positions(child) -> None:
    import torch

    # left-padded batch of 2 continuing after a 3-token cache: row 0 has 1 pad in the cache part, row 1 2 in the new
    mask = torch.tensor([[0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 1, 1]])
    assert child.lm_rows(2, 4, 7, mask, None) == [[4, 2], [2, 3]]
    assert child.lm_rows(2, 4, None, mask[:, 3:], None) == [[4, 0], [2, 0]]  # no cache: the mask covers new tokens
    # padding-free: one packed row of 3 rows (lengths 4, 2, 3), text positions restarting at 0
    text = torch.tensor([0, 1, 2, 3, 0, 1, 0, 1, 2])
    positions = torch.stack([text, text, text, text])[:, None, :]
    assert child.lm_rows(1, 9, None, None, positions) == [[4, 0], [2, 0], [3, 0]]
    assert child.lm_rows(3, 1, 12, None, None) == [[1, 11]] * 3  # decoding without a 2-D mask


def test_vllm_requests_count_cached_prompt_and_placeholders(child) -> None:
    out = SimpleNamespace(
        prompt_token_ids=[1, 7, 7, 7, 2, 7, 3],
        num_cached_tokens=3,
        outputs=[SimpleNamespace(token_ids=[5, 6]), SimpleNamespace(token_ids=[5])],
    )
    assert child.vllm_requests([out], {7}) == [{"prompt": 7, "cached": 3, "vision_tokens": 2, "completions": [2, 1]}]


def test_row_steps_keep_each_row_up_to_its_end_token(child) -> None:
    tokens = [[5, 9, 2, 0], [7, 7, 7, 7]]  # row 0 ends with token 2 at step 2, then pads; row 1 runs to the limit
    values = [[[4.0, 3.5]] * 4, [[3.0, 2.0]] * 4]
    indices = [[[5, 1]] * 4, [[7, 8]] * 4]
    rows = child.row_steps(tokens, values, indices, eos={2})
    assert rows[0] == [[5, [[5, 4.0], [1, 3.5]]], [9, [[5, 4.0], [1, 3.5]]], [2, [[5, 4.0], [1, 3.5]]]]
    assert len(rows[1]) == 4 and rows[1][3] == [7, [[7, 3.0], [8, 2.0]]]


def run_child_cpu(args: list[str], log: Path) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/gpu_acceptance_child.py", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def planned_for(ga, name: str, run_dir: Path, **spec_changes: Any) -> Any:
    spec = next(p for p in ga.PATHS if p.name == name)
    spec = dataclasses.replace(spec, **spec_changes)
    return ga.Planned(spec, True, "1 process", [], {}, run_dir, spec.budget_s, 1)


def test_child_sft_on_the_tiny_model_counts_what_trl_counts(ga, child, tiny_model_dir, tiny_shape, tmp_path) -> None:
    """A real ``run_sft`` through the child (CPU, debug config): the step times, the text forwards with autograd
    and their real tokens (trl's own ``num_tokens`` log agrees), the vision forwards; parsed into a passing row."""
    from spatialladder.testing.tiny_records import write_tiny_records

    records = write_tiny_records(tmp_path / "data")["spatial"]
    run_dir = tmp_path / "run"
    overrides = [f"model.name_or_path={tiny_model_dir}", f"data.files=[{records}]", f"output_dir={run_dir}"]
    overrides += ["trainer.max_steps=3", "trainer.save_strategy=no"]
    run_child_cpu(
        ["run", "sft", "configs/debug/sft_stage2.yaml", str(run_dir / "probe"), *overrides], run_dir / "child.log"
    )
    ranks = ga.read_ranks(run_dir)
    main = ranks[0]
    assert (main["ok"], main["rank"], main["world_size"], main["cuda"]) == (True, 0, 1, None)
    assert [s for s, _ in main["step_ends"]] == [0, 1, 2, 3]
    assert all(r["grad"] and r["step"] in (1, 2, 3) for r in main["lm"]) and len(main["lm"]) == 3
    assert all(r["grad"] for r in main["vision"])
    logged = {row["step"]: row["num_tokens"] for row in main["facts"]["log_history"] if "num_tokens" in row}
    per_step = {r["step"]: sum(new for new, _ in r["rows"]) for r in main["lm"]}
    assert per_step == {1: logged[1], 2: logged[2] - logged[1], 3: logged[3] - logged[2]}
    assert all(cached == 0 for r in main["lm"] for _, cached in r["rows"])
    assert main["facts"]["params"] == {
        "bytes": 4 * 372_544,
        "trainable_bytes": 4 * 372_544,
        "dtypes": {"float32": 372_544},
    }

    result = ga.summarise(
        planned_for(ga, "sft-sdpa", run_dir, steps=3), ga.Finished(0, 9.0, False), ranks, tiny_shape, 312.0, 0
    )
    assert (result.status, result.error, result.timed) == ("pass", None, "steps 2-3 of 3")
    assert result.tokens == logged[3] - logged[1]
    ends = dict((int(s), t) for s, t in main["step_ends"])
    assert result.timed_s == pytest.approx(ends[3] - ends[1])
    expected = sum(ga.lm_record_flops(tiny_shape, r) for r in main["lm"] if r["step"] >= 2)
    expected += sum(ga.vision_record_flops(tiny_shape, r) for r in main["vision"] if r["step"] >= 2)
    assert result.flops == pytest.approx(expected) and result.mfu == pytest.approx(expected / result.timed_s / 312e12)
    assert result.peak_bytes is None  # no CUDA here


def test_child_eval_on_the_tiny_model_records_the_shared_prefix(
    ga, child, tiny_model_dir, tiny_shape, tmp_path
) -> None:
    """``run_eval`` through the child with one encoding per video: the prefix prefill, then batches continuing
    from a cache (cached tokens > 0), greedy decoding; window, tokens and questions/s parsed."""
    import numpy as np

    from spatialladder.testing.synthetic_benchmarks import BenchItem, write_vsibench

    items = []
    for v in range(2):
        frames = [np.full((84, 112, 3), 20 * i + 60 * v, np.uint8) for i in range(8)]
        items.append(
            BenchItem("object_counting", "How many chair(s) are in this room?", "3", f"scene000{v}_00", frames)
        )
        items.append(
            BenchItem("room_size_estimation", "What is the size of this room?", "20", f"scene000{v}_00", frames)
        )
    data = write_vsibench(items, tmp_path / "vsi")
    run_dir = tmp_path / "run"
    overrides = [f"model.name_or_path={tiny_model_dir}", f"data_dir={data}", f"output_dir={run_dir}"]
    run_child_cpu(
        ["run", "eval", "configs/debug/eval_vsibench.yaml", str(run_dir / "probe"), *overrides], run_dir / "log"
    )
    main = ga.read_ranks(run_dir)[0]
    assert main["ok"] and main["facts"]["results"]["n"] == 4 and main["step_ends"] == []
    assert all(not r["grad"] and r["step"] is None for r in main["lm"] + main["vision"])
    assert len(main["vision"]) == 2  # one encoding per video
    assert any(cached > 0 and new > 1 for r in main["lm"] for new, cached in r["rows"])  # continued from the prefix
    result = ga.summarise(
        planned_for(ga, "eval-hf-shared", run_dir), ga.Finished(0, 9.0, False), [main], tiny_shape, None, 0, 4
    )
    assert result.status == "pass" and result.timed == "first model forward to last"
    start, end = main["work_window"]
    assert result.timed_s == pytest.approx(end - start) and result.questions_per_s == pytest.approx(4 / (end - start))
    assert result.tokens == sum(new for r in main["lm"] for new, _ in r["rows"])
    assert result.mfu is None and result.flops > 0  # no peak for an unknown device

    # every greedy step of every question, under its id: the tokens decode to the question's prediction
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    unshared = tmp_path / "unshared"
    run_child_cpu(
        ["run", "eval", "configs/debug/eval_vsibench.yaml", str(unshared / "probe"), *overrides[:2]]
        + [f"output_dir={unshared}", "share_video_prefix=false"],
        tmp_path / "log-unshared",
    )
    for folder in (run_dir, unshared):
        generation = ga.read_generation(folder)
        predictions = ga.read_predictions(folder)
        assert (generation["dtype"], generation["layers"], generation["top_k"]) == ("float32", 2, child.TOP_K)
        assert sorted(generation["questions"]) == sorted(predictions)
        for question, steps in generation["questions"].items():
            assert 0 < len(steps) <= 6 and all(len(top) == child.TOP_K for _, top in steps)
            assert all(token == top[0][0] for token, top in steps)  # greedy took the highest score
            decoded = tokenizer.decode([token for token, _ in steps], skip_special_tokens=True)
            assert decoded == predictions[question]
    check = ga.predictions_check(
        ga.read_predictions(run_dir),
        ga.read_predictions(unshared),
        ga.read_generation(run_dir),
        ga.read_generation(unshared),
    )
    assert check["passed"] and check["detail"].startswith("4 of 4 identical;")
    assert check["first_step_worst"]["diff"] <= check["first_step_worst"]["tolerance"]
    assert (check["dtype"], check["layers"]) == ("float32", 2)


def test_child_grpo_on_the_tiny_qwen3_vl_records_the_video_in_the_loss_pass(ga, child, tiny_family_dirs, tmp_path):
    """``run_grpo`` on a tiny Qwen3-VL through the child (CPU): its text and vision classes are recorded too. A video
    of 4 frames of 112×84 at ≤ 16,384 px (factor 32) is 96×128 px, 6×8 patches of 16 px, 2 temporal patches: grid
    [2, 6, 8], 2 × 3·4 = 24 merged tokens per row. The loss pass (autograd) encodes the 4 completions' videos and
    its text model receives 4 × 24 = 96 vision positions; the pass conditions of the Qwen3-VL path hold."""
    from spatialladder.testing.tiny_records import write_tiny_records

    records = write_tiny_records(tmp_path / "data")["spatial"]
    video = tmp_path / "data" / "video.jsonl"
    rows = [line for line in records.read_text().splitlines() if json.loads(line)["data_type"] == "video"]
    video.write_text(rows[0] + "\n")
    run_dir = tmp_path / "run"
    overrides = [f"model.name_or_path={tiny_family_dirs['qwen3-vl']}", f"data.files=[{video}]", f"output_dir={run_dir}"]
    overrides += ["model.min_pixels=1024", "model.max_pixels=16384", "data.video_frames=4", "prompts_per_step=1"]
    overrides += ["trainer.max_steps=1", "sampling.max_completion_length=4"]
    run_child_cpu(["run", "grpo", "configs/debug/grpo_tiny.yaml", str(run_dir / "probe"), *overrides], tmp_path / "log")
    main = ga.read_ranks(run_dir)[0]
    assert main["ok"] and main["facts"]["rows"] == {"single_image": 0, "multi_view": 0, "video": 1}
    loss = [r for r in main["vision"] if r["grad"]]
    assert [r["grids"] for r in loss] == [[[2, 6, 8]] * 4]
    assert [r["visual"] for r in main["lm"] if r["grad"]] == [96]
    assert all("visual" in r for r in main["lm"])  # every Qwen3-VL text forward says how many vision positions
    assert any(r["visual"] == 0 for r in main["lm"] if not r["grad"])  # decoding steps: none
    planned = planned_for(ga, "grpo-qwen3-vl-video", run_dir, steps=1)
    shape = ga.ModelShape.from_config(json.loads((tiny_family_dirs["qwen3-vl"] / "config.json").read_text()))
    result = ga.summarise(planned, ga.Finished(0, 9.0, False), [main], shape, None, 0)
    assert (result.status, result.error) == ("pass", None) and result.flops > 0


def test_info_on_a_machine_without_cuda(child, monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    info = child.info()
    assert (info["count"], info["names"], info["total_memory"]) == (0, [], [])
    assert info["torch"] == torch.__version__


def test_setup_inputs_are_full_size(child, tiny_family_dirs, tmp_path: Path, monkeypatch) -> None:
    """The parent was given --model: no 3B, but the extra Qwen3-VL-2B is built, on the GPU where there is one, into
    ``model-qwen3-vl-2b`` under its setup.json key (here a tiny Qwen3-VL stands in for the 2.13 B build, minutes on
    CPU)."""
    import shutil

    import av
    import pandas as pd
    import torch
    from PIL import Image

    from spatialladder.testing import real_shape

    built = []

    def stand_in(folder: Path, like: str) -> Path:
        built.append((folder, like, torch.get_default_device().type))
        shutil.copytree(tiny_family_dirs["qwen3-vl"], folder)
        return folder

    monkeypatch.setattr(real_shape, "build_like", stand_in)
    inputs = child.setup(tmp_path, "qwen2.5-vl-3b", build_model=False, extra={"model_qwen3_vl": "qwen3-vl-2b"})
    assert json.loads((tmp_path / "setup.json").read_text()) == inputs and "model" not in inputs
    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert built == [(tmp_path / "model-qwen3-vl-2b", "qwen3-vl-2b", device)]
    assert inputs["model_qwen3_vl"] == str(tmp_path / "model-qwen3-vl-2b")
    config = json.loads((tmp_path / "model-qwen3-vl-2b" / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl"
    spatial = [json.loads(line) for line in Path(inputs["spatial"]).read_text().splitlines()]
    assert [r["data_type"] for r in spatial] == ["single_image", "multi_view", "video"]
    assert (len(spatial[1]["image"]), len(spatial[2]["image"])) == (8, 32)
    images_only = [json.loads(line)["data_type"] for line in Path(inputs["images_only"]).read_text().splitlines()]
    video = [json.loads(line)["data_type"] for line in Path(inputs["video"]).read_text().splitlines()]
    assert (images_only, video) == (["single_image", "multi_view"], ["video"])
    assert Image.open(Path(inputs["images"]) / spatial[0]["image"][0]).size == (1296, 968)
    table = pd.read_json(Path(inputs["vsibench"]) / "test.jsonl", lines=True)  # the Hub's layout today
    assert len(table) == int(inputs["vsi_questions"]) == 6 and table["scene_name"].nunique() == 2
    with av.open(str(Path(inputs["vsibench"]) / "scannet" / "scene0000_00.mp4")) as container:
        frames = [f for f in container.decode(video=0)]
    assert len(frames) == 64 and (frames[0].width, frames[0].height) == (1296, 968)


def test_setup_command_line_builds_the_extra_model_and_refuses_a_malformed_one(child, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        child.main(["setup", "out", "--no-model", "--extra-model", "qwen3-vl-2b"])
    assert exc.value.code == 2
    assert "--extra-model ['qwen3-vl-2b']: expected KEY=LIKE" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ parsing and the report


def fake_rank(rank: int, steps: int = 4, ok: bool = True, error: str | None = None) -> dict[str, Any]:
    """A ZeRO rank: step k ends at 10 + k s; one training forward of 1000 tokens and one image per step."""
    return {
        "rank": rank,
        "world_size": 2,
        "ok": ok,
        "error": error,
        "config": {"model": {"dtype": "bfloat16"}, "padding_free": False},
        "lm": [{"step": s, "grad": True, "shape": [1, 1000], "rows": [[1000, 0]]} for s in range(1, steps + 1)],
        "vision": [{"step": s, "grad": True, "grids": [[1, 18, 26]]} for s in range(1, steps + 1)],
        "vllm": [],
        "step_ends": [[s, 10.0 + s] for s in range(steps + 1)],
        "work_window": [10.5, 10.0 + steps],
        "cuda": {"max_memory_allocated": (30 + rank) * GIB, "device_used_peak": 40 * GIB, "device_total": 80 * GIB},
        "facts": {"global_step": steps, "log_history": []},
    }


def test_two_rank_results_sum_over_gpus(ga, shape_3b, tmp_path: Path) -> None:
    planned = planned_for(ga, "sft-zero3", tmp_path)
    planned.processes = 2
    result = ga.summarise(planned, ga.Finished(0, 45.0, False), [fake_rank(0), fake_rank(1)], shape_3b, 989.5, 80 * GIB)
    assert (result.status, result.timed, result.timed_s) == ("pass", "steps 2-4 of 4", 3.0)
    assert result.tokens == 2 * 3 * 1000 and result.tokens_per_s == 2000
    per_step = 3 * ga.text_row_flops(shape_3b, 1000, 0) + 3 * ga.vision_item_flops(shape_3b, 1, 18, 26)
    assert result.flops == pytest.approx(2 * 3 * per_step)
    assert result.mfu == pytest.approx(2 * 3 * per_step / (3.0 * 2 * 989.5e12))
    assert result.peak_bytes == 31 * GIB and result.peak_measured_as == "torch.cuda.max_memory_allocated"
    assert result.estimate_bytes > 16 * N_3B / 2 and result.peak_over_estimate == pytest.approx(
        31 * GIB / result.estimate_bytes
    )


def test_failures_timeouts_and_unmet_expectations(ga, shape_3b, tmp_path: Path) -> None:
    (tmp_path / "child.log").write_text("line\n" * 40 + "torch.OutOfMemoryError: CUDA out of memory\n")
    planned = planned_for(ga, "sft-zero3", tmp_path)
    crashed = [fake_rank(0, ok=False, error="OutOfMemoryError: CUDA out of memory"), fake_rank(1)]
    failed = ga.summarise(planned, ga.Finished(1, 20.0, False), crashed, shape_3b, 989.5, 80 * GIB)
    assert (failed.status, failed.error) == ("fail", "OutOfMemoryError: CUDA out of memory")
    assert failed.log_tail.endswith("CUDA out of memory") and len(failed.log_tail.splitlines()) == 25
    assert failed.tokens == 6000  # measured as far as it got
    timeout = ga.summarise(planned, ga.Finished(-15, 65.0, True), [], shape_3b, 989.5, 80 * GIB)
    assert (timeout.status, timeout.error) == ("timeout", "stopped after its budget of 40 s")
    lost = ga.summarise(planned, ga.Finished(1, 5.0, False), [], shape_3b, 989.5, 80 * GIB)
    assert lost.status == "fail" and "no child record" in lost.error
    short = ga.summarise(planned, ga.Finished(0, 30.0, False), [fake_rank(0, steps=2)], shape_3b, 989.5, 0)
    assert (short.status, short.error) == ("fail", "ran 2 optimizer steps, expected 4")
    packed = fake_rank(0)
    packed["config"]["padding_free"] = True
    unpacked = ga.summarise(
        planned_for(ga, "sft-padding-free", tmp_path), ga.Finished(0, 30.0, False), [packed], shape_3b, 989.5, 0
    )
    assert unpacked.error == "padding_free: no forward saw packed rows"
    skipped = ga.Planned(planned.spec, False, "skipped: deepspeed not installed", [], {}, tmp_path, 50, 1)
    assert ga.summarise(skipped, None, [], shape_3b, 989.5, 0).status == "skipped"


def fake_vllm_eval_rank(rank: int, generated: bool = True, used_gib: float = 72) -> dict[str, Any]:
    """A rank of the 2-GPU vLLM eval: one generate call of 3 questions (one video), its GPU's vLLM pool."""
    request = {"prompt": 8000, "cached": 0, "vision_tokens": 7680, "completions": [32]}
    return {
        "rank": rank,
        "world_size": 2,
        "ok": True,
        "error": None,
        "config": {"model": {"dtype": "bfloat16"}, "backend": "vllm"},
        "lm": [],
        "vision": [],
        "vllm": [{"step": 0, "seconds": 2.0, "requests": [request] * 3 if generated else []}],
        "step_ends": [],
        "work_window": [20.0, 22.0 + rank],
        "cuda": {"max_memory_allocated": 0, "device_used_peak": used_gib * GIB, "device_total": 80 * GIB},
        "facts": {"results": {"n": 6}} if rank == 0 else {},
    }


def test_two_gpu_vllm_eval_passes_only_with_an_engine_generating_on_each_gpu(ga, shape_3b, tmp_path: Path) -> None:
    planned = planned_for(ga, "eval-vllm-2gpu", tmp_path)
    planned.processes = 2
    (tmp_path / "child.log").write_text("log\n")

    def summary(ranks: list[dict[str, Any]]) -> Any:
        return ga.summarise(planned, ga.Finished(0, 30.0, False), ranks, shape_3b, 989.5, 80 * GIB, 6)

    both = summary([fake_vllm_eval_rank(0), fake_vllm_eval_rank(1)])
    assert (both.status, both.error) == ("pass", None)
    assert both.tokens == 2 * 3 * (8000 + 32) and both.timed_s == 3.0  # both ranks' work, the slower one's span
    idle = summary([fake_vllm_eval_rank(0), fake_vllm_eval_rank(1, generated=False)])
    assert (idle.status, idle.error) == ("fail", "rank(s) [1]: their vLLM engine generated nothing")
    # rank 1's GPU barely used: its engine was not on it
    elsewhere = summary([fake_vllm_eval_rank(0), fake_vllm_eval_rank(1, used_gib=1)])
    assert elsewhere.status == "fail" and elsewhere.error.startswith("rank(s) [1]: less than half of their own GPU")


def test_run_child_stops_a_path_at_its_budget_and_leaves_nothing_running(ga, tmp_path: Path) -> None:
    """Past its budget the whole process group goes (SIGTERM, then SIGKILL), and after any exit so do processes
    the path left behind (an engine process), so the next path finds the GPU free."""
    import time

    def gone(pid: int) -> bool:
        status = Path(f"/proc/{pid}/status")
        return not status.exists() or "\tZ" in status.read_text()  # absent, or a zombie awaiting its reaper

    pid_file = tmp_path / "pid"
    # a grandchild that outlives its parent, then the parent exits at once
    leaver = "import subprocess, pathlib; p = subprocess.Popen(['sleep', '60']); "
    leaver += f"pathlib.Path({str(pid_file)!r}).write_text(str(p.pid))"
    done = ga.run_child([sys.executable, "-c", leaver], {}, tmp_path / "a.log", 30)
    assert (done.returncode, done.timed_out) == (0, False)
    time.sleep(0.2)
    assert gone(int(pid_file.read_text()))
    start = time.perf_counter()
    done = ga.run_child([sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path / "b.log", 1)
    assert done.timed_out and done.returncode == -15 and time.perf_counter() - start < 10


def test_steady_steps(ga) -> None:
    assert ga.steady_steps([[0, 1.0], [1, 5.0], [2, 6.0], [3, 7.5]]) == ({2, 3}, 2.5)
    assert ga.steady_steps([[0, 1.0], [1, 5.0]]) == ({1}, 4.0)
    assert ga.steady_steps([[0, 1.0]]) is None


def test_predictions_check(ga, tmp_path: Path) -> None:
    for name, preds in (("a", ["3", "B"]), ("b", ["3", "B"]), ("c", ["3", "C"])):
        (tmp_path / name).mkdir()
        lines = [json.dumps({"id": str(i), "prediction": p}) for i, p in enumerate(preds)]
        (tmp_path / name / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    same = ga.predictions_check(ga.read_predictions(tmp_path / "a"), ga.read_predictions(tmp_path / "b"))
    assert (same["passed"], same["detail"]) == (True, "2 of 2 identical")
    differ = ga.predictions_check(ga.read_predictions(tmp_path / "a"), ga.read_predictions(tmp_path / "c"))
    assert (differ["passed"], differ["detail"]) == (False, "1 of 2 differ (ids ['1'])")
    assert ga.predictions_check({}, ga.read_predictions(tmp_path / "a"))["passed"] is None


def generation(dtype: str, **questions: list[list[Any]]) -> dict[str, Any]:
    """A child's ``generation`` record of a one-layer model (bf16 tolerance 2·2^-8·(1 + 1)·m = 2^-6·m)."""
    return {"dtype": dtype, "layers": 1, "top_k": 3, "questions": questions}


SAME_START = [[5, [[5, 4.0], [8, 3.5], [2, 3.4]]]]
"""A first step both paths agree on: token 5 at score 4.0 (tolerance 0.0625 at one layer)."""


def test_score_tolerance(ga) -> None:
    """2·u·(1 + √L)·m: at one layer at least two bf16 spacings of m (each path's rounding of the logit and as much
    again from its hidden state); the 3B's 36 layers 14·u·m; fp32 asked to 16 bits, not 24."""
    assert ga.score_tolerance("bfloat16", 4.0, 1) == 0.0625
    assert ga.score_tolerance("bfloat16", 4.0, 36) == 14 * 2**-8 * 4.0 == 0.21875
    assert ga.score_tolerance("float32", 4.0, 1) == 4 * 2**-16 * 4.0
    for magnitude in (0.3, 1.0, 1.99, 3.9, 4.0, 7.9, 17.0):
        spacing = 2.0 ** (math.floor(math.log2(magnitude)) - 7)  # bf16: 8 significant bits
        assert 2 * spacing <= ga.score_tolerance("bfloat16", magnitude, 1) < 4 * spacing + 1e-12


def test_a_flip_at_a_near_tie_passes_and_is_counted(ga) -> None:
    """Step 1: path A prefers token 7 to 9 by 0.016, path B 9 to 7 by 0.016 (within 0.0625): a near tie, which may
    flip; the continuations after it differ and are not compared. The first step's scores differ by 0.0156."""
    shared = generation(
        "bfloat16",
        **{
            "0": [*SAME_START, [7, [[7, 4.0], [9, 3.984], [3, 3.5]]], [6, [[6, 4.5], [1, 3.0], [2, 2.0]]]],
            "1": SAME_START,
        },
    )
    start_b = [[5, [[5, 3.9844], [8, 3.5], [2, 3.4]]]]
    unshared = generation(
        "bfloat16",
        **{
            "0": [*start_b, [9, [[9, 4.0], [7, 3.984], [3, 3.5]]], [1, [[1, 4.4], [6, 3.0], [2, 2.0]]]],
            "1": SAME_START,
        },
    )
    check = ga.predictions_check({"0": "7 6", "1": "5"}, {"0": "9 1", "1": "5"}, shared, unshared)
    assert check["passed"] is True and check["tie_flips"] == ["0"] and check["clear_flips"] == []
    assert check["identical"] == 1 and check["near_tie_steps"] == 1
    assert check["first_step_worst"] == {"id": "0", "diff": pytest.approx(0.0156), "tolerance": 0.0625}
    assert check["detail"].startswith("1 of 2 identical; 1 diverge at a near tie (ids ['0']); 1 near-tie steps in 2")
    # in fp32 the same records are a failure: there a gap of 0.016 is no tie (exact equality where it holds)
    fp32 = ga.predictions_check(
        {"0": "7 6"}, {"0": "9 1"}, {**shared, "dtype": "float32"}, {**unshared, "dtype": "float32"}
    )
    assert fp32["passed"] is False and fp32["clear_flips"] == ["0"] and fp32["first_step_beyond_tolerance"] == ["0"]


def test_a_flip_at_a_clear_gap_fails(ga) -> None:
    """Step 1: each path prefers its token by 0.3, far beyond the tolerance: no rounding explains it."""
    shared = generation("bfloat16", **{"0": [*SAME_START, [7, [[7, 4.3], [9, 4.0], [3, 3.5]]]]})
    unshared = generation("bfloat16", **{"0": [*SAME_START, [9, [[9, 4.3], [7, 4.0], [3, 3.5]]]]})
    check = ga.predictions_check({"0": "7"}, {"0": "9"}, shared, unshared)
    assert check["passed"] is False and check["clear_flips"] == ["0"] and check["tie_flips"] == []
    assert "FAIL: 1 diverge at a clear gap (ids ['0'], steps [1])" in check["detail"]
    # one path stopping (its end token) where the other goes on is no tie either
    ended = generation("bfloat16", **{"0": SAME_START})
    assert ga.predictions_check({"0": "7"}, {"0": ""}, shared, ended)["clear_flips"] == ["0"]


def test_first_step_scores_beyond_the_tolerance_fail(ga) -> None:
    """Same tokens throughout, but the first step's scores 0.2 apart (a position or mask error would do that); and
    a score path A ranks 2nd (3.5) that is not in path B's top 3, so there it is at most B's 3rd (3.4): 0.1 apart."""
    shifted = generation("bfloat16", **{"0": [[5, [[5, 4.2], [8, 3.5], [2, 3.4]]]]})
    check = ga.predictions_check({"0": "5"}, {"0": "5"}, generation("bfloat16", **{"0": SAME_START}), shifted)
    assert check["passed"] is False and check["first_step_beyond_tolerance"] == ["0"] and check["identical"] == 1
    assert check["first_step_worst"]["diff"] == pytest.approx(0.2)
    assert "FAIL: first-step scores beyond tolerance in 1 (ids ['0'])" in check["detail"]
    deep = ga.predictions_check(  # 36 layers: 14·2^-8·4.2 = 0.23 allowed, as the 3B's paths need
        {"0": "5"}, {"0": "5"}, {**generation("bfloat16", **{"0": SAME_START}), "layers": 36}, {**shifted, "layers": 36}
    )
    assert deep["passed"] is True and deep["first_step_worst"]["tolerance"] == pytest.approx(14 * 2**-8 * 4.2)
    other = generation("bfloat16", **{"0": [[5, [[5, 4.0], [3, 3.45], [4, 3.4]]]]})
    missing = ga.predictions_check({"0": "5"}, {"0": "5"}, generation("bfloat16", **{"0": SAME_START}), other)
    assert missing["passed"] is False and missing["first_step_worst"]["diff"] == pytest.approx(0.1)
    # a prediction that differs with no steps recorded for it cannot be excused
    bare = ga.predictions_check(
        {"0": "5", "1": "a"},
        {"0": "5", "1": "b"},
        generation("bfloat16", **{"0": SAME_START}),
        generation("bfloat16", **{"0": SAME_START}),
    )
    assert bare["passed"] is False and "no recorded steps" in bare["detail"]


def test_report_json_and_markdown(ga, shape_3b, tmp_path: Path) -> None:
    env = fake_env(ga, count=2, installed=("deepspeed",))
    planned = planned_for(ga, "sft-zero3", tmp_path)
    planned.processes = 2
    ok = ga.summarise(planned, ga.Finished(0, 38.0, False), [fake_rank(0), fake_rank(1)], shape_3b, 989.5, 80 * GIB)
    vllm = ga.PathResult("eval-vllm", "13", "vllm eval", "skipped", 45, reason="skipped: vllm not installed (x)")
    check = {"name": "eval-hf: identical", "passed": None, "detail": "not compared"}
    model = {"path": "/m", "parameters": N_3B, "layers": 36, "vision_blocks": 32}
    setup = {"status": "pass", "wall_s": 41.0, "budget_s": 60}
    qwen3 = {"path": "/q", "family": "qwen3-vl", "parameters": N_2B, "layers": 28, "vision_blocks": 24}
    models = {"model": {**model, "family": "qwen2.5-vl"}, "model_qwen3_vl": qwen3}
    report = ga.build_report(
        env, (989.5, "src"), model, setup, [ok, vllm], [check], "2026-01-01T00:00:00+00:00", 99.0, models
    )
    text = ga.write_report(tmp_path, report, [ok, vllm])
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["model"] == model and saved["models"]["model_qwen3_vl"] == qwen3
    assert "- model: `/m` (qwen2.5-vl, 3,754,622,976 parameters, random, 36 text layers, 32 vision blocks)" in text
    assert (
        "- model `model_qwen3_vl`: `/q` (qwen3-vl, 2,127,532,032 parameters, random, 28 text layers, 24 vision blocks)"
        in text
    )
    assert saved["budget_s"] == 60 + 40 and saved["gpu"]["bf16_peak_tflops"] == 989.5
    row = saved["paths"][0]
    assert (row["name"], row["status"], row["tokens"], row["timed_s"]) == ("sft-zero3", "pass", 6000, 3.0)
    assert row["peak_over_estimate"] == pytest.approx(ok.peak_over_estimate) and row["estimate_items"]
    assert (tmp_path / "report.md").read_text() == text
    lines = text.splitlines()
    assert "| path | issue | result | s (budget) | timed | tokens/s | MFU | peak GiB | est. GiB | peak/est. |" in lines
    zero3 = next(line for line in lines if line.startswith("| sft-zero3 |"))
    cells = [c.strip() for c in zero3.strip("|").split("|")]
    assert cells[:7] == ["sft-zero3", "13", "pass", "38 (40)", "steps 2-4 of 4", "2,000", f"{ok.mfu:.1%}"]
    assert cells[7] == "31.0"
    assert "| eval-vllm | 13 | skipped: vllm not installed (x) | – (45) |" in text
    assert "- not run: eval-hf: identical (not compared)" in lines


# ------------------------------------------------------------------------------------ a CPU rehearsal (slow)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_cpu_rehearsal_of_every_path_that_needs_no_optional_package(
    ga, child, tiny_model_dir, tiny_family_dirs, tiny_shape, tmp_path
):
    """The exact commands the GPU run plans (shipped configs, full-size inputs, the paths' overrides), on the tiny
    models on CPU with ``trainer.use_cpu`` added (the tiny Qwen3-VL for ``grpo-qwen3-vl-video``): every path that
    needs no optional package passes its checks, the shared and unshared eval predictions are identical, and the
    report is written."""
    inputs = child.write_inputs(tmp_path / "data")
    inputs["model"] = str(tiny_model_dir)
    inputs["model_qwen3_vl"] = str(tiny_family_dirs["qwen3-vl"])
    shapes = {
        k: ga.ModelShape.from_config(json.loads((Path(inputs[k]) / "config.json").read_text())) for k in ga.MODELS
    }
    out = tmp_path / "out"
    results = []
    for item in ga.plan_paths(fake_env(ga), inputs, out):
        if item.run and item.spec.kind != "eval":
            item.command.append("trainer.use_cpu=true")
        done = ga.run_child(item.command, item.env, item.run_dir / "child.log", 600) if item.run else None
        ranks = ga.read_ranks(item.run_dir) if item.run else []
        shape = shapes[item.spec.model]
        result = ga.summarise(item, done, ranks, shape, None, 0, int(inputs["vsi_questions"]))
        assert result.status in ("pass", "skipped"), (item.spec.name, result.error, result.log_tail)
        results.append(result)
    ran = {r.name: r for r in results if r.status == "pass"}
    assert sorted(ran) == [
        "eval-hf-shared",
        "eval-hf-unshared",
        "grpo-dynamic-sampling",
        "grpo-hf-video",
        "grpo-qwen3-vl-video",
        "sft-sdpa",
    ]
    assert all(r.tokens and r.flops and r.timed_s for r in ran.values())
    assert ran["grpo-hf-video"].facts["rows"] == {"single_image": 0, "multi_view": 0, "video": 1}
    assert ran["grpo-qwen3-vl-video"].facts["rows"] == {"single_image": 0, "multi_view": 0, "video": 1}
    # the Qwen3-VL loss pass: 4 completions of the 32-frame row at 131,072 px, 16×18×26 each, 1,872 vision positions
    qwen3 = ga.read_ranks(out / "runs" / "grpo-qwen3-vl-video")[0]
    assert {str(r["grids"]) for r in qwen3["vision"] if r["grad"]} == {str([[16, 18, 26]] * 4)}
    assert {r["visual"] for r in qwen3["lm"] if r["grad"]} == {4 * 1872}
    shared, unshared = (ga.read_predictions(out / "runs" / name) for name in ga.SHARED_PAIR)
    pair = [out / "runs" / name for name in ga.SHARED_PAIR]
    check = ga.predictions_check(shared, unshared, *(ga.read_generation(d) for d in pair))
    assert check["passed"] and check["detail"].startswith("6 of 6 identical;") and check["clear_flips"] == []
    # one encoding per video: 2 vision forwards shared, 6 (one per question) unshared, all 32 frames at 401,408 px
    for name, calls in (("eval-hf-shared", 2), ("eval-hf-unshared", 6)):
        grids = [g for r in ga.read_ranks(out / "runs" / name)[0]["vision"] for g in r["grids"]]
        assert len(grids) == calls and all(g == [16, 38, 50] for g in grids)
    env = fake_env(ga)
    model = {"path": str(tiny_model_dir), "parameters": tiny_shape.total_params, "layers": 2, "vision_blocks": 2}
    setup = {"status": "pass", "wall_s": 1.0, "budget_s": 60}
    report = ga.build_report(env, (None, "cpu"), model, setup, results, [check], "rehearsal", 1.0)
    text = ga.write_report(out, report, results)
    assert text.count("| pass |") == 6


def test_every_training_path_is_predicted_to_fit_the_cards_it_is_planned_for(ga, shape_3b) -> None:
    """Issue 18: the shipped configs' paths fit one 80 GB and one 141 GB card (docs/benchmarks.md's table); before
    vLLM slept while training, the colocated pool sat beside the fp32 states and the vLLM paths did not."""
    planned = {p.name for p in ga.PATHS if p.kind != "eval"}
    shapes = ga.published_shapes()
    assert shapes["model"] == shape_3b and shapes["model_qwen3_vl"].total_params == N_2B
    table = ga.predicted_peaks(shapes)
    assert set(table) == planned  # every training path has its nominal activations
    for name, peaks in table.items():
        for card, size in ga.CARDS.items():
            assert peaks[card] < size, (name, card, peaks[card] / GIB)
    assert round(table["grpo-hf-video"]["80 GB card"] / GIB, 1) == 75.2
    # issue 19: the Qwen3-VL-2B path with its own shape, not the 3B's; the same activations on the 3B would be more
    assert round(table["grpo-qwen3-vl-video"]["80 GB card"] / GIB, 1) == 45.5
    on_3b = ga.predicted_peaks({"model": shape_3b, "model_qwen3_vl": shape_3b})["grpo-qwen3-vl-video"]["80 GB card"]
    assert on_3b > table["grpo-qwen3-vl-video"]["80 GB card"] + 20 * GIB
    assert ga.NOMINAL_ACTIVATIONS["grpo-qwen3-vl-video"] == ga.Activations(4 * 2_210, 4 * 16 * 18 * 26)
    assert round(table["grpo-vllm-video"]["80 GB card"] / GIB, 1) == 75.2  # the loss pass: vLLM asleep
    awake = ga.TrainingSettings.from_config(
        {**ga.resolved_config(next(p for p in ga.PATHS if p.name == "grpo-vllm-video")), "trainer": {}}, shape_3b
    )
    estimate = ga.estimate_training(
        shape_3b, awake, ga.Launch(), ga.CARDS["80 GB card"], ga.NOMINAL_ACTIVATIONS["grpo-vllm-video"]
    )
    assert estimate.peak > ga.CARDS["80 GB card"]  # without sleep mode: 99.1 GiB


def test_predict_prints_the_table_without_a_gpu(ga, capsys) -> None:
    assert ga.main(["--predict"]) == 0
    out = capsys.readouterr().out
    assert "| `grpo-vllm-video` | 75.2 | 90.9 |" in out and "| `sft-zero3` | 59.6 | 59.6 |" in out
    assert "| `grpo-qwen3-vl-video` | 45.5 | 45.5 |" in out


def test_flops_of_the_qwen3_shapes_have_no_windows_and_no_linear_attention_pairs(ga) -> None:
    """Qwen3-VL's tower attends fully in every block; Qwen3.5's Gated DeltaNet layers add no pairwise term."""
    from spatialladder.testing.qwen_published import shaped_config

    vl = ga.ModelShape.from_config(shaped_config("qwen3-vl-2b"))
    assert vl.window_patches == 0 and len(vl.full_blocks) == vl.v_depth
    t, h, w = 16, 18, 26
    expected = 2.0 * vl.n_vision_patch * t * h * w + 4.0 * vl.v_hidden * t * vl.v_depth * (h * w) ** 2
    assert ga.vision_item_flops(vl, t, h, w) == expected
    q35 = ga.ModelShape.from_config(shaped_config("qwen3.5-2b"))
    full = q35.layers - q35.linear_layers
    assert full * 4 == q35.layers  # the published 3 linear : 1 full pattern
    assert ga.text_row_flops(q35, 10, 0) == 2.0 * q35.n_text * 10 + 4.0 * full * q35.d_attn * 55


def test_qwen3_vl_2b_widths_by_hand(shape_2b) -> None:
    """The 2B's per-token and per-patch parameters (published config.json; transformers' qwen3_vl modeling file).
    Text layer: q 2048², k and v 2·2048·1024, o 2048², q/k norms 2·128, MLP 3·2048·6144, two norms 2·2048 =
    50,336,000; tied head. Vision block: qkv 1024·3072 + 3072, proj 1024² + 1024, fc1 1024·4096 + 4096, fc2 4096·1024
    + 1024, two LayerNorms 4·1024 = 12,596,224; patch embedding 1024·3·2·16² + 1024 + the 2304-row position table;
    mergers 25,174,016 + 3 DeepStack × 25,180,160, once per 2×2 patches."""
    assert shape_2b.total_params == N_2B and shape_2b.tied and shape_2b.window_patches == 0
    assert shape_2b.n_text == 28 * 50_336_000 + 2048 + 151_936 * 2048 == 1_720_574_976
    patch_embed = 1024 * 3 * 2 * 16**2 + 1024 + 2304 * 1024
    mergers = 25_174_016 + 3 * 25_180_160
    assert shape_2b.n_vision_patch == 24 * 12_596_224 + patch_embed + mergers // 4 == 331_421_184
    assert (shape_2b.layers, shape_2b.d_attn, shape_2b.v_depth, shape_2b.v_hidden) == (28, 2048, 24, 1024)


def fake_grpo_rank(steps: int = 3, visual: int = 4 * 1872) -> dict[str, Any]:
    """The Qwen3-VL GRPO path as the child records it, per step: the rollout (4 rows, no autograd), then the loss
    pass with autograd on 4 completions of 2,212 positions, each with the video grid 16×18×26 (1,872 merged tokens)."""
    lm, vision = [], []
    for s in range(1, steps + 1):
        lm.append({"step": s, "grad": False, "shape": [4, 2148], "rows": [[2148, 0]] * 4, "visual": 4 * 1872})
        lm.append({"step": s, "grad": True, "shape": [4, 2212], "rows": [[2212, 0]] * 4, "visual": visual})
        vision.append({"step": s, "grad": False, "grids": [[16, 18, 26]] * 4})
        vision.append({"step": s, "grad": True, "grids": [[16, 18, 26]] * 4})
    return {
        "rank": 0,
        "world_size": 1,
        "ok": True,
        "error": None,
        "config": {"model": {"dtype": "bfloat16"}, "padding_free": False, "rollout": "hf", "beta": 0.01},
        "lm": lm,
        "vision": vision,
        "vllm": [],
        "step_ends": [[s, 10.0 + 2 * s] for s in range(steps + 1)],
        "work_window": [10.5, 10.0 + 2 * steps],
        "cuda": {"max_memory_allocated": 40 * GIB, "device_used_peak": 45 * GIB, "device_total": 80 * GIB},
        "facts": {"global_step": steps, "rows": {"single_image": 0, "multi_view": 0, "video": 1}, "log_history": []},
    }


def test_qwen3_vl_path_measured_with_the_2b_shape(ga, shape_2b, tmp_path: Path) -> None:
    """FLOPs, MFU and the memory estimate of ``grpo-qwen3-vl-video`` on the 2B's shape: steps 2-3 (4 s), each a
    rollout prefill of 4 × 2,148 positions and 4 video encodings, then the loss pass ×3 (forward + backward). Text:
    2·1,720,574,976 per position + 4·28·2048 per causal pair; vision: 2·331,421,184 per patch + full attention in all
    24 blocks, 4·1024 per pair within each of the 16 frame groups (468² pairs)."""
    (tmp_path / "child.log").write_text("log\n")
    planned = planned_for(ga, "grpo-qwen3-vl-video", tmp_path)
    result = ga.summarise(planned, ga.Finished(0, 30.0, False), [fake_grpo_rank()], shape_2b, 989.5, 80 * GIB)
    assert (result.status, result.error, result.timed, result.timed_s) == ("pass", None, "steps 2-3 of 3", 4.0)

    def text(n: int) -> float:
        return 2.0 * 1_720_574_976 * n + 4.0 * 28 * 2048 * n * (n + 1) / 2

    video = 2.0 * 331_421_184 * 7_488 + 4.0 * 1024 * 16 * 24 * 468**2
    assert ga.vision_item_flops(shape_2b, 16, 18, 26) == video and ga.text_row_flops(shape_2b, 2212, 0) == text(2212)
    per_step = 4 * text(2148) + 4 * video + 3 * (4 * text(2212) + 4 * video)
    assert result.flops == pytest.approx(2 * per_step, rel=1e-12)
    assert result.tokens == 2 * 4 * 2212 and result.mfu == pytest.approx(2 * per_step / (4.0 * 989.5e12))
    items = dict(result.estimate_items)  # the 2B's states and the recorded loss pass (4 × 2,212, 4 × 7,488)
    assert items[f"[train] {N_2B:,} trainable parameters (fp32 master weights)"] == 4 * N_2B
    assert items["[train] KL reference model (as loaded)"] == 2 * N_2B
    assert "[train] vision activations: 29952 patches × (block checkpoints + one block)" in items
    assert "[train] text activations: 8848 positions × (layer checkpoints + one layer)" in items
    assert round(result.estimate_bytes / GIB, 1) == 45.5  # = the nominal prediction: the same loss pass
    # the video's features did not reach the text model in the loss pass: a Qwen3-VL path fails
    missed = ga.summarise(planned, ga.Finished(0, 30.0, False), [fake_grpo_rank(visual=0)], shape_2b, None, 0)
    assert (missed.status, missed.error) == (
        "fail",
        "no text-model forward with autograd received vision features: the video missed the loss pass",
    )
