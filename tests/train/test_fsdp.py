"""Sharded training on CPU: FSDP2 (full shard) in two gloo processes through ``spatialladder train``, against one
process; and the DeepSpeed ZeRO launch configs translated up to the launch (DeepSpeed needs CUDA).

The launches use the shipped ``configs/accelerate/fsdp2_cpu.yaml`` on the tiny model; each is one ``accelerate
launch`` of two processes: about 25 s of CPU time for both together, 1.4 GB peak RSS per process (GRPO; SFT less).
Three launches run by default (35-50 s wall each on a shared 2-core machine), three more in the slow tier.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

from spatialladder.config.load import load_config, read_yaml, save_resolved, validate_mapping
from spatialladder.config.sft import SFTStageConfig
from spatialladder.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
ACCELERATE = REPO / "configs/accelerate"
BIN = Path(sys.executable).parent
FSDP_ON_CPU = "FSDP2 on CPU over gloo (2 processes)"  # logged by spatialladder.train.sharding in each process
QWEN25_VL_3B_HIDDEN = 2048  # Qwen2.5-VL-3B-Instruct config.json: hidden_size (sizes DeepSpeed's "auto" buckets)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(launcher: str, args: list[str], accelerate_config: Path = ACCELERATE / "fsdp2_cpu.yaml") -> str:
    """Two CPU processes under ``accelerate launch`` (FSDP) or ``torchrun`` (DDP) on a free port; their stderr."""
    port = str(free_port())
    if launcher == "accelerate":
        head = [str(BIN / "accelerate"), "launch", "--config_file", str(accelerate_config), "--num_processes", "2",
                "--main_process_port", port]  # fmt: skip
    else:
        head = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", port]
    done = subprocess.run(
        [*head, *args], env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stderr


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype, key
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0, msg=lambda m, k=key: f"{k}: {m}")


def logged_losses(folder: Path) -> list[tuple[int, float]]:
    """(step, loss) of each training step in the run's train_log.jsonl."""
    entries = map(json.loads, (folder / "train_log.jsonl").read_text().splitlines())
    return [(e["step"], e["loss"]) for e in entries if "loss" in e]


def largest_change(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> float:
    return max(float((after[k] - before[k]).abs().max()) for k in before)


def sft_mapping(model_dir: Path, records: dict[str, Path], out: Path, **trainer: Any) -> dict[str, Any]:
    """Stage 2 on the 12 tiny spatial records (4 single-image, 4 multi-view, 4 video): 4 steps, checkpoints every 2.

    Global batch 4 either way: 2 processes x 2 rows, or 1 process x 2 rows x 2 accumulation steps. accelerate hands
    process k the batches k, k + 2, ... of the one seeded sampler order, so step s sees batches 2s and 2s + 1 in both
    runs, as the same micro-batches; the official per-micro-batch loss mean, averaged over processes or accumulation
    steps, is then the same number. 4 steps pass an epoch boundary (epoch 4/3: 3 steps per epoch)."""
    return {
        "kind": "sft",
        "stage": "spatial",
        "output_dir": str(out),
        "seed": 0,
        "model": {"name_or_path": str(model_dir), "dtype": "float32", "min_pixels": 784, "max_pixels": 12544},
        "data": {"files": [str(records["spatial"])], "video_frames": 4},
        "trainer": {
            "learning_rate": 1e-3,
            "per_device_train_batch_size": 2,
            "max_steps": 4,
            "bf16": False,
            "use_cpu": True,
            "activation_checkpointing": False,
            "logging_steps": 1,
            "save_strategy": "steps",
            "save_steps": 2,
            "report_to": "none",
            "disable_tqdm": True,
            **trainer,
        },
    }


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class Run:
    out: Path
    config: Path
    stderr: str


@pytest.fixture(scope="module")
def one_process(tiny_model_dir, tiny_records, tmp_path_factory) -> Path:
    """The reference: one process, 2 rows x 2 accumulation steps per step."""
    from spatialladder.train.sft import run_sft

    out = tmp_path_factory.mktemp("one") / "out"
    mapping = sft_mapping(tiny_model_dir, tiny_records, out, gradient_accumulation_steps=2)
    run_sft(validate_mapping(mapping, SFTStageConfig))
    return out


@pytest.fixture(scope="module")
def fsdp_sft(tiny_model_dir, tiny_records, tmp_path_factory) -> Run:
    """``spatialladder train --stage 2`` under FSDP2 in two CPU processes, 2 rows each per step."""
    root = tmp_path_factory.mktemp("fsdp")
    config = write_yaml(root / "s2.yaml", sft_mapping(tiny_model_dir, tiny_records, root / "out"))
    stderr = launch("accelerate", ["-m", "spatialladder", "train", "--stage", "2", "-c", str(config)])
    return Run(root / "out", config, stderr)


def test_two_fsdp2_processes_end_at_the_weights_of_one_process_with_the_same_global_batch(
    fsdp_sft, one_process, tiny_model_dir
) -> None:
    assert fsdp_sft.stderr.count(FSDP_ON_CPU) == 2  # really sharded: accelerate alone would have run DDP
    ckpt = {p.name for p in (fsdp_sft.out / "checkpoint-2").iterdir()}
    assert {"pytorch_model_fsdp.bin", "optimizer.bin", "scheduler.pt", "rng_state_0.pth", "rng_state_1.pth"} <= ckpt
    (steps, losses), (ref_steps, ref_losses) = (
        zip(*logged_losses(o), strict=True) for o in (fsdp_sft.out, one_process)
    )
    assert steps == ref_steps == (1, 2, 3, 4) and losses == pytest.approx(ref_losses, abs=1e-4)
    last = json.loads((fsdp_sft.out / "train_log.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 4 and last["epoch"] == pytest.approx(4 / 3)

    initial, sharded, single = weights(tiny_model_dir), weights(fsdp_sft.out), weights(one_process)
    assert largest_change(initial, single) > 1e-3  # 4 AdamW steps at lr 1e-3 moved every tensor
    assert_same_weights(sharded, single, atol=1e-5)  # measured: 3e-7 (reduction order)


def test_the_final_folder_is_a_whole_model_that_from_pretrained_loads(fsdp_sft, one_process) -> None:
    from transformers import Qwen2_5_VLForConditionalGeneration

    assert not [p.name for p in fsdp_sft.out.iterdir() if p.name.startswith("pytorch_model_fsdp")]
    sharded = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(fsdp_sft.out), dtype=torch.float32)
    single = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(one_process), dtype=torch.float32)
    a, b = sharded.state_dict(), single.state_dict()
    assert all(type(t) is torch.Tensor for t in a.values())  # plain tensors, not DTensor shards
    assert_same_weights(a, b, atol=1e-5)


def test_a_resumed_fsdp2_run_reaches_the_uninterrupted_weights(fsdp_sft, tmp_path) -> None:
    """The uninterrupted run's folder as it was after step 2 (checkpoint-2, no final files), under a config that
    differs only in output_dir; rerunning the same command resumes on its own (same config hash) and restores the
    sharded optimizer state, scheduler, both processes' RNG and the data position."""
    out = tmp_path / "out"
    shutil.copytree(fsdp_sft.out / "checkpoint-2", out / "checkpoint-2")
    mapping = {**read_yaml(fsdp_sft.config), "output_dir": str(out)}
    save_resolved(validate_mapping(mapping, SFTStageConfig), out)
    config = write_yaml(tmp_path / "s2.yaml", mapping)
    stderr = launch("accelerate", ["-m", "spatialladder", "train", "--stage", "2", "-c", str(config)])
    assert f"resuming from {out / 'checkpoint-2'}" in stderr
    # steps 1-2 come from checkpoint-2's trainer state, 3-4 were computed again
    assert logged_losses(out) == logged_losses(fsdp_sft.out) and len(logged_losses(out)) == 4
    assert_same_weights(weights(out), weights(fsdp_sft.out), atol=1e-6)  # measured: identical


@pytest.mark.slow
def test_sharded_state_dict_checkpoints_resume_and_the_final_folder_is_still_whole(
    fsdp_sft, one_process, tiny_model_dir, tmp_path
) -> None:
    """With ``fsdp_state_dict_type: SHARDED_STATE_DICT`` a checkpoint is per-process shards (model and optimizer,
    torch.distributed.checkpoint), which ``from_pretrained`` cannot read and transformers' ``save_model`` would not
    turn into a final folder; the run still ends as one process does and its final folder is whole weights; a rerun
    after step 2 resumes from the shards to the same weights."""
    shipped = read_yaml(ACCELERATE / "fsdp2_cpu.yaml")
    shipped["fsdp_config"]["fsdp_state_dict_type"] = "SHARDED_STATE_DICT"
    accelerate_config = write_yaml(tmp_path / "fsdp2_sharded.yaml", shipped)
    out = tmp_path / "out"
    mapping = {**read_yaml(fsdp_sft.config), "output_dir": str(out)}
    config = write_yaml(tmp_path / "s2.yaml", mapping)
    args = ["-m", "spatialladder", "train", "--stage", "2", "-c", str(config)]
    launch("accelerate", args, accelerate_config)
    ckpt = {p.name for p in (out / "checkpoint-2").iterdir()}
    assert {"pytorch_model_fsdp_0", "optimizer_0"} <= ckpt and "model.safetensors" not in ckpt
    assert len(list((out / "checkpoint-2/optimizer_0").glob("*.distcp"))) == 2  # one shard per process
    uninterrupted = weights(out)
    assert_same_weights(uninterrupted, weights(one_process), atol=1e-5)

    shutil.rmtree(out / "checkpoint-4")
    for name in ("model.safetensors", "train_log.jsonl"):
        (out / name).unlink()
    stderr = launch("accelerate", args, accelerate_config)  # the same command again: resumes from checkpoint-2
    assert "holds FSDP shards only" in stderr
    assert_same_weights(weights(out), uninterrupted, atol=1e-6)


# A random tiny model never writes the <think>/<answer> format in 8 tokens, so with the real rewards every group's
# rewards are equal, advantages are zero and the policy cannot move. The GRPO launches therefore go through the CLI
# with the format reward replaced by a hash of the completion text: deterministic, different for different
# completions, the same on every process.
GRPO_ENTRY = """\
import sys
import zlib

from spatialladder import rewards
from spatialladder.cli import main

rewards.REWARDS["format"] = lambda completion, solution, answer_kind: zlib.crc32(completion.encode()) % 1000 / 1000
sys.argv = ["spatialladder", *sys.argv[1:]]
main()
"""


def grpo_config(model_dir: Path, records: dict[str, Path], out: Path, path: Path) -> Path:
    """configs/debug/grpo_tiny.yaml on the tiny model: 2 steps of 8 completions (2 prompts x 4) over 2 processes."""
    cfg = load_config(
        REPO / "configs/debug/grpo_tiny.yaml",
        [f"model.name_or_path={model_dir}", f"data.files=[{records['spatial']}]", f"output_dir={out}",
         "rewards=[{name: format}]", "trainer.disable_tqdm=true"],
    )  # fmt: skip
    return write_yaml(path, cfg.model_dump(mode="json"))


@pytest.fixture(scope="module")
def fsdp_grpo(tiny_model_dir, tiny_records, tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("grpo")
    entry = root / "entry.py"
    entry.write_text(GRPO_ENTRY)
    config = grpo_config(tiny_model_dir, tiny_records, root / "fsdp", root / "fsdp.yaml")
    stderr = launch("accelerate", [str(entry), "train", "--stage", "3", "-c", str(config)])
    return Run(root / "fsdp", config, stderr)


def test_grpo_under_fsdp2_in_two_processes_trains_and_saves_a_loadable_model(fsdp_grpo, tiny_model_dir) -> None:
    from transformers import Qwen2_5_VLForConditionalGeneration

    assert fsdp_grpo.stderr.count(FSDP_ON_CPU) == 2
    steps = [json.loads(x) for x in (fsdp_grpo.out / "train_log.jsonl").read_text().splitlines() if '"loss"' in x]
    assert [e["step"] for e in steps] == [1, 2] and all(e["reward_std"] > 0 for e in steps)
    assert largest_change(weights(tiny_model_dir), weights(fsdp_grpo.out)) > 1e-3
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(fsdp_grpo.out), dtype=torch.float32)
    assert all(type(t) is torch.Tensor for t in model.state_dict().values())


@pytest.mark.slow
def test_grpo_under_fsdp2_ends_where_ddp_ends(fsdp_grpo, tiny_model_dir, tiny_records, tmp_path) -> None:
    """One process cannot be the reference here: sampling draws from each process's own generator (trl seeds
    process k with seed + k) in batches of that process's rows, so a one-process run samples other completions.
    Greedy decoding would make them equal but gives every completion of a prompt the same tokens, hence zero
    advantages and no update at all. Two DDP processes draw exactly what the two FSDP2 processes draw, so DDP
    (trl's plain path) is the reference: same completions, same rewards, same weights."""
    entry = tmp_path / "entry.py"
    entry.write_text(GRPO_ENTRY)
    config = grpo_config(tiny_model_dir, tiny_records, tmp_path / "ddp", tmp_path / "ddp.yaml")
    stderr = launch("torchrun", [str(entry), "train", "--stage", "3", "-c", str(config)])
    assert FSDP_ON_CPU not in stderr
    ddp = [json.loads(x) for x in (tmp_path / "ddp/train_log.jsonl").read_text().splitlines()]
    fsdp = [json.loads(x) for x in (fsdp_grpo.out / "train_log.jsonl").read_text().splitlines()]
    rewards = [[e["reward"] for e in log if "reward" in e] for log in (ddp, fsdp)]
    assert rewards[0] == pytest.approx(rewards[1], abs=1e-6)  # the same completions were drawn
    assert_same_weights(weights(fsdp_grpo.out), weights(tmp_path / "ddp"), atol=1e-5)  # measured: 7e-9


def test_an_fsdp_launch_without_cuda_that_did_not_ask_for_the_cpu_is_refused(monkeypatch) -> None:
    """``trainer.use_cpu: false`` on a machine without CUDA: accelerate makes no process group, so both processes
    would train alone on all the data into one folder."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import FullyShardedDataParallelPlugin

    from spatialladder.train.sharding import enable_fsdp_on_cpu

    if torch.cuda.is_available():
        pytest.skip("the rule is for machines without CUDA")
    monkeypatch.setattr(AcceleratorState, "__init__", AcceleratorState.__init__)  # undone after the test
    # A real launch also sets LOCAL_RANK, and accelerate then makes a default process group it does not use; left
    # out here so that no rendezvous is attempted. The state accelerate reaches is the same: no distribution.
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    for key, value in {"ACCELERATE_USE_FSDP": "true", "WORLD_SIZE": "2", "RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        assert enable_fsdp_on_cpu()
        with pytest.raises(ConfigError, match="needs trainer.use_cpu: true"):
            Accelerator(fsdp_plugin=FullyShardedDataParallelPlugin(fsdp_version=2))
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


def test_the_cpu_fsdp2_config_is_the_gpu_one_in_fp32() -> None:
    cpu, gpu = read_yaml(ACCELERATE / "fsdp2_cpu.yaml"), read_yaml(ACCELERATE / "fsdp2.yaml")
    assert cpu["fsdp_config"] == gpu["fsdp_config"]
    assert cpu["fsdp_config"]["fsdp_transformer_layer_cls_to_wrap"] == "Qwen2_5_VLDecoderLayer"
    assert (cpu["mixed_precision"], gpu["mixed_precision"]) == ("no", "bf16")
    assert {k: v for k, v in cpu.items() if k != "mixed_precision"} == {
        k: v for k, v in gpu.items() if k != "mixed_precision"
    }


# DeepSpeed ZeRO: its engine needs CUDA (and the optional deepspeed package, not installed here), so the launch
# itself cannot run. Everything before it does: accelerate's launcher turns the YAML into the environment of the
# processes it would start, TrainingArguments builds accelerate's DeepSpeedPlugin from that environment, and the
# Trainer fills the "auto" values with transformers' HfTrainerDeepSpeedConfig (trainer_config_process when the
# trainer is built, trainer_config_finalize when training starts). What is left untested: deepspeed.initialize and
# the engine's own defaults for keys the config does not name.


def deepspeed_config(monkeypatch, accelerate_yaml: Path, stage_config: Path, *overrides: str) -> tuple[dict, Any]:
    """The DeepSpeed config two processes launched with ``accelerate_yaml`` would hand to deepspeed.initialize for
    ``stage_config``, and accelerate's plugin."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import DeepSpeedPlugin
    from accelerate.utils.deepspeed import HfDeepSpeedConfig
    from accelerate.utils.launch import prepare_deepspeed_cmd_env
    from transformers import TrainingArguments
    from transformers.integrations import deepspeed as hf_deepspeed

    from spatialladder.train.trl_args import to_grpo_args, to_sft_args

    # what `accelerate launch` does before it starts DeepSpeed's launcher (accelerate/commands/launch.py)
    argv = ["--config_file", str(accelerate_yaml), "--num_processes", "2", "--main_process_port", "0",
            "-m", "spatialladder", "train", "-c", str(stage_config)]  # fmt: skip
    args, defaults, mixed_precision_from_config = _validate_launch_command(launch_command_parser().parse_args(argv))
    fields = list(defaults.deepspeed_config) + (["mixed_precision"] if mixed_precision_from_config else [])
    args.deepspeed_fields_from_accelerate_config = ",".join(fields)
    _, env = prepare_deepspeed_cmd_env(args)
    assert args.nproc_per_node == "2"
    for key, value in env.items():
        if key.startswith("ACCELERATE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun sets; our GRPO batch rule reads it

    # up to the CUDA / deepspeed calls: bf16 support is a GPU query, the zero.Init weakref needs deepspeed itself
    monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda *a, **k: True)
    monkeypatch.setattr(DeepSpeedPlugin, "set_deepspeed_weakref", lambda self: None)
    monkeypatch.setattr(TrainingArguments, "world_size", property(lambda self: 2))
    cfg = load_config(stage_config, list(overrides))
    targs = (to_grpo_args if cfg.kind == "grpo" else to_sft_args)(cfg, str(stage_config))
    plugin = targs.deepspeed_plugin

    # transformers' Trainer: propagate_args_to_deepspeed, then deepspeed_init's trainer_config_finalize. Without
    # deepspeed installed its HfTrainerDeepSpeedConfig has no base class to stand on, so its methods run on
    # accelerate's HfDeepSpeedConfig (the base it has when deepspeed is installed).
    trainer_cls = hf_deepspeed.HfTrainerDeepSpeedConfig
    if not hf_deepspeed.is_deepspeed_available():
        methods = {k: v for k, v in vars(trainer_cls).items() if not k.startswith("__")}

        def init(self: Any, config: dict) -> None:
            HfDeepSpeedConfig.__init__(self, config)
            self._dtype, self.mismatches = None, []

        trainer_cls = type("HfTrainerDeepSpeedConfig", (HfDeepSpeedConfig,), {**methods, "__init__": init})
    ds = trainer_cls(plugin.hf_ds_config.config)
    ds.trainer_config_process(targs)
    model = SimpleNamespace(config=SimpleNamespace(hidden_size=QWEN25_VL_3B_HIDDEN))
    ds.trainer_config_finalize(targs, model, num_training_steps=1000)
    return ds.config, plugin


# The official zero3.json (VLM-R1/src/open-r1-multimodal/local_scripts/zero3.json, ZJU-REAL/SpatialLadder 87320be)
# after transformers fills its "auto" values; official-spatialladder.md §0.
OFFICIAL_ZERO3 = {
    "stage": 3,
    "offload_optimizer": {"device": "none", "pin_memory": True},
    "offload_param": {"device": "none", "pin_memory": True},
    "overlap_comm": True,
    "contiguous_gradients": True,
    "sub_group_size": 1e9,
    "reduce_bucket_size": QWEN25_VL_3B_HIDDEN**2,
    "stage3_prefetch_bucket_size": int(0.9 * QWEN25_VL_3B_HIDDEN**2),
    "stage3_param_persistence_threshold": 10 * QWEN25_VL_3B_HIDDEN,
    "stage3_max_live_parameters": 1e9,
    "stage3_max_reuse_distance": 1e9,
    "stage3_gather_16bit_weights_on_model_save": True,
}


@pytest.mark.parametrize(
    ("stage_config", "overrides", "micro_batch", "accumulation"),
    [
        ("stage1_localization.yaml", [], 1, 8),
        ("stage2_spatial.yaml", [], 1, 8),
        ("coldstart.yaml", [], 1, 8),
        ("stage3_grpo.yaml", [], 2, 1),  # prompts_per_step 1: 1 prompt x 4 completions = 2 GPUs x 2
        ("official/stage2_spatial.yaml", [], 1, 8),
    ],
)
def test_zero3_with_the_stage_configs_gives_the_official_deepspeed_settings(
    monkeypatch, stage_config, overrides, micro_batch, accumulation
) -> None:
    """Official: 2 GPUs, ZeRO-3 from zero3.json, bf16, clipping at HF's max_grad_norm 1.0, effective batch 16 for
    the SFT stages (1 x 2 GPUs x 8) and 4 completions for GRPO (2 x 2 x 1)."""
    monkeypatch.chdir(REPO)  # the YAML names zero3.json relative to the repository root, where launches run
    config, plugin = deepspeed_config(monkeypatch, ACCELERATE / "zero3.yaml", REPO / "configs/train" / stage_config,
                                      *overrides)  # fmt: skip
    assert config["zero_optimization"] == OFFICIAL_ZERO3
    assert config["bf16"] == {"enabled": True} and config["fp16"]["enabled"] is False
    assert config["gradient_clipping"] == 1.0
    assert (config["train_micro_batch_size_per_gpu"], config["gradient_accumulation_steps"]) == (
        micro_batch,
        accumulation,
    )
    assert config["train_batch_size"] == 2 * micro_batch * accumulation
    assert plugin.zero_stage == 3 and plugin.zero3_init_flag is True


def test_zero2_gives_sharded_optimizer_and_gradients_with_the_stage_settings(monkeypatch) -> None:
    """Not an official configuration (the release ran ZeRO-3 only): accelerate's generated ZeRO-2 config, with
    the stage config's bf16, clipping and batch sizes."""
    stage2 = REPO / "configs/train/stage2_spatial.yaml"
    config, plugin = deepspeed_config(monkeypatch, ACCELERATE / "zero2.yaml", stage2)
    assert config["zero_optimization"] == {
        "stage": 2,
        "offload_optimizer": {"device": "none", "nvme_path": None},
        "offload_param": {"device": "none", "nvme_path": None},
        "stage3_gather_16bit_weights_on_model_save": False,
    }
    assert config["bf16"] == {"enabled": True} and config["gradient_clipping"] == 1.0
    assert (config["train_micro_batch_size_per_gpu"], config["gradient_accumulation_steps"]) == (1, 8)
    assert config["train_batch_size"] == 16 and plugin.zero3_init_flag is False


def test_a_deepspeed_config_file_with_mixed_precision_in_the_yaml_is_refused_by_accelerate(
    monkeypatch, tmp_path
) -> None:
    """Why zero3.yaml has no mixed_precision: with a DeepSpeed config file accelerate refuses it (the JSON's bf16
    "auto" follows trainer.bf16 instead); the refusal reaches the user as one line naming the stage config."""
    monkeypatch.chdir(REPO)
    with_precision = write_yaml(
        tmp_path / "z3.yaml", {**read_yaml(ACCELERATE / "zero3.yaml"), "mixed_precision": "bf16"}
    )
    with pytest.raises(ConfigError, match=r"stage2_spatial.yaml: trainer: .*When using `deepspeed_config_file`"):
        deepspeed_config(monkeypatch, with_precision, REPO / "configs/train/stage2_spatial.yaml")
