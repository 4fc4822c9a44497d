"""Stage-3 config: paper defaults, registry-checked rewards, trl's batch rule and the vLLM guard as clear errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from spatialladder.config.grpo import GRPOStageConfig
from spatialladder.config.load import load_config
from spatialladder.errors import ConfigError
from spatialladder.train.grpo import check_rollout
from spatialladder.train.trl_args import to_grpo_args
from spatialladder.validate import deep_validate

REPO = Path(__file__).resolve().parents[2]
GPU_CONFIG = REPO / "configs/train/stage3_grpo.yaml"
TINY_CONFIG = REPO / "configs/debug/grpo_tiny.yaml"
OFFICIAL_CONFIG = REPO / "configs/train/official/stage3_grpo.yaml"
CPU = ["trainer.bf16=false", "trainer.use_cpu=true"]


def test_gpu_config_has_the_paper_settings() -> None:
    cfg = load_config(GPU_CONFIG, CPU)
    args = to_grpo_args(cfg, str(GPU_CONFIG))
    assert (args.num_generations, args.beta, args.epsilon, args.max_completion_length) == (4, 0.01, 0.2, 1024)
    assert args.learning_rate == 1e-6
    assert cfg.model.max_pixels == 128 * 28 * 28
    assert (args.loss_type, args.scale_rewards, args.use_vllm) == ("grpo", "group", False)
    assert (args.temperature, args.top_p, args.top_k) == (1.0, 1.0, 50)
    assert (cfg.prompts_per_step, args.per_device_train_batch_size) == (1, 4)  # one process: 1 prompt x 4 on it
    assert [r.name for r in cfg.rewards] == ["format", "accuracy"]
    assert args.reward_weights == [1.0, 1.0]
    assert args.generation_batch_size % args.num_generations == 0
    # §5.5: loss = -min(r·A, clip(r)·A) + β·k3 with r ≡ 1 (one iteration), per-sequence token mean, no extras.
    # trl 1.16 defaults use_bias_correction_kl=True (β·KL·r, whose gradient adds β·KL·∇logp): ours is off.
    assert args.use_bias_correction_kl is False
    assert (args.num_iterations, args.epsilon_high, args.delta) == (1, None, None)
    assert args.importance_sampling_level == "token"
    assert (args.mask_truncated_completions, args.top_entropy_quantile, args.off_policy_mask_threshold) == (
        False,
        1.0,
        None,
    )
    assert args.multi_objective_aggregation == "sum_then_normalize"  # weighted sum, then group-normalised
    # HF defaults the official run inherited: linear decay, no warmup, clip 1.0, no weight decay
    assert (args.lr_scheduler_type, args.warmup_steps, args.max_grad_norm, args.weight_decay) == ("linear", 0, 1.0, 0.0)
    assert (args.save_steps, args.seed, args.repetition_penalty) == (200, 42, 1.0)


def test_kl_bias_correction_can_be_turned_back_on() -> None:
    cfg = load_config(GPU_CONFIG, [*CPU, "trainer.use_bias_correction_kl=true"])
    assert to_grpo_args(cfg, str(GPU_CONFIG)).use_bias_correction_kl is True


def test_tiny_config_validates_deeply() -> None:
    assert deep_validate(load_config(TINY_CONFIG), str(TINY_CONFIG)) == ["schema (grpo)", "trl.GRPOConfig"]


def test_sampling_and_loss_fields_reach_trl() -> None:
    cfg = load_config(
        TINY_CONFIG,
        [
            "sampling.temperature=0.7",
            "sampling.top_p=0.9",
            "sampling.top_k=0",
            "loss_type=dr_grpo",
            "scale_rewards=batch",
            "beta=0.04",
            "epsilon=0.28",
            "rewards=[{name: format, weight: 0.5}, {name: accuracy, weight: 2.0}]",
        ],
    )
    args = to_grpo_args(cfg)
    assert (args.temperature, args.top_p, args.top_k) == (0.7, 0.9, 0)
    assert (args.loss_type, args.scale_rewards, args.beta, args.epsilon) == ("dr_grpo", "batch", 0.04, 0.28)
    assert args.reward_weights == [0.5, 2.0]


def test_batch_rule_is_a_config_error_naming_the_keys() -> None:
    # the per-device batch is derived from prompts_per_step, so only a generation batch set apart from the optimizer
    # step (steps_per_generation, generation_batch_size) can split a prompt's completions
    one_micro_batch = ["prompts_per_step=1", "trainer.gradient_accumulation_steps=2", "trainer.steps_per_generation=1"]
    cfg = load_config(TINY_CONFIG, one_micro_batch)
    with pytest.raises(ConfigError) as err:
        deep_validate(cfg, "tiny.yaml")
    msg = str(err.value)
    assert msg.startswith("tiny.yaml: the generation batch trainer.per_device_train_batch_size (2)")
    assert "= 2 is not divisible by sampling.num_generations (4)" in msg


def test_batch_rule_counts_accumulation_and_explicit_generation_batch() -> None:
    ok = load_config(TINY_CONFIG, ["prompts_per_step=1", "trainer.gradient_accumulation_steps=2"])
    args = to_grpo_args(ok)
    assert (args.per_device_train_batch_size, args.generation_batch_size) == (2, 4)
    bad = load_config(
        TINY_CONFIG,
        ["prompts_per_step=1", "trainer.gradient_accumulation_steps=2", "trainer.generation_batch_size=6"],
    )
    with pytest.raises(ConfigError, match=r"trainer.generation_batch_size = 6 is not divisible"):
        to_grpo_args(bad)


@pytest.fixture
def launch(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``launch(n)``: the process count a launch of n processes shows the config code (our
    ``spatialladder.distributed.world_size`` and the ``world_size`` trl's ``GRPOConfig.__post_init__`` reads), without
    the launcher's environment, from which ``TrainingArguments`` would set up a process group."""
    from transformers import TrainingArguments

    def start(processes: int) -> None:
        monkeypatch.setattr("spatialladder.distributed.world_size", lambda: processes)
        monkeypatch.setattr(TrainingArguments, "world_size", property(lambda self: processes))

    return start


@pytest.mark.parametrize("config", [GPU_CONFIG, OFFICIAL_CONFIG])
@pytest.mark.parametrize(("processes", "per_device"), [(1, 4), (2, 2), (4, 1)])
def test_the_shipped_configs_step_one_prompt_on_every_launch(launch, config, processes, per_device) -> None:
    """Official §1 / §5.3: an optimizer step is 1 prompt x 4 completions (2 GPUs x 2). The per-device batch follows
    the launch, so `accelerate launch --num_processes 2` (README) trains the paper's step, not 2 prompts."""
    launch(processes)
    cfg = load_config(config, CPU)
    assert cfg.prompts_per_step == 1
    args = to_grpo_args(cfg, str(config))
    assert args.per_device_train_batch_size == per_device
    completions = args.per_device_train_batch_size * processes * args.gradient_accumulation_steps
    assert completions == args.generation_batch_size == 4
    assert completions // args.num_generations == 1


def test_a_launch_the_step_does_not_split_over_is_a_config_error(launch) -> None:
    launch(3)
    with pytest.raises(ConfigError) as err:
        to_grpo_args(load_config(GPU_CONFIG, CPU), "s3.yaml")
    assert str(err.value) == (
        "s3.yaml: prompts_per_step (1) x sampling.num_generations (4) = 4 completions per optimizer step do not "
        "split evenly over 3 processes x trainer.gradient_accumulation_steps (1); launch 1, 2 or 4 processes, or set "
        "prompts_per_step to a multiple of 3"
    )
    assert to_grpo_args(load_config(GPU_CONFIG, [*CPU, "prompts_per_step=3"])).per_device_train_batch_size == 4


def test_prompts_per_step_counts_gradient_accumulation(launch) -> None:
    launch(2)
    cfg = load_config(GPU_CONFIG, [*CPU, "prompts_per_step=4", "trainer.gradient_accumulation_steps=2"])
    args = to_grpo_args(cfg)
    assert (args.per_device_train_batch_size, args.generation_batch_size) == (4, 16)  # 4 prompts x 4 per step


def test_an_explicit_per_device_batch_must_agree_with_prompts_per_step(launch) -> None:
    launch(2)
    same = load_config(GPU_CONFIG, [*CPU, "trainer.per_device_train_batch_size=2"])
    assert to_grpo_args(same).per_device_train_batch_size == 2
    old = load_config(GPU_CONFIG, [*CPU, "trainer.per_device_train_batch_size=4"])  # what the config used to ship
    with pytest.raises(ConfigError) as err:
        to_grpo_args(old, "s3.yaml")
    assert str(err.value) == (
        "s3.yaml: trainer.per_device_train_batch_size 4 on 2 processes x trainer.gradient_accumulation_steps (1) is "
        "2 prompts per optimizer step, but prompts_per_step is 1 (per-device batch 2); drop "
        "trainer.per_device_train_batch_size (it is derived from prompts_per_step) or set prompts_per_step: 2"
    )


def test_dynamic_sampling_needs_whole_groups_on_every_process(launch) -> None:
    """Dynamic sampling keeps or drops a process's groups whole (``VideoGRPOTrainer._dynamic_batch``): with the
    paper's 1 prompt on 2 processes each holds half a group, which ``config validate`` reports before a GPU does."""
    launch(2)
    cfg = load_config(GPU_CONFIG, [*CPU, "dynamic_sampling.enabled=true"])
    with pytest.raises(ConfigError) as err:
        to_grpo_args(cfg, "s3.yaml")
    assert str(err.value) == (
        "s3.yaml: dynamic_sampling keeps or drops whole groups on each process, but each of the 2 processes holds "
        "2 completions per generation batch, not a multiple of sampling.num_generations (4); set prompts_per_step "
        "to a multiple of 2"
    )
    two = load_config(GPU_CONFIG, [*CPU, "dynamic_sampling.enabled=true", "prompts_per_step=2"])
    assert to_grpo_args(two).per_device_train_batch_size == 4


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "rewards=[{name: formatt}]",
            "rewards.0.name: Value error, unknown reward 'formatt'; valid names: accuracy, format, iou",
        ),
        ("rewards=[{name: format}, {name: format}]", "reward 'format' is listed twice"),
        ("trainer.beta=0.1", "trainer.beta is set by spatialladder itself"),
        ("loss_type=bnpo", "loss_type: Input should be 'grpo', 'dapo' or 'dr_grpo'"),
        ("sampling.num_generations=1", "sampling.num_generations: Input should be greater than or equal to 2"),
        ("dynamic_sampling.max_draws=0", "dynamic_sampling.max_draws: Input should be greater than or equal to 1"),
        ("dynamic_sampling.max_draw=2", "dynamic_sampling.max_draw: unknown key"),
    ],
)
def test_bad_values_name_the_key(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(TINY_CONFIG, [override])
    assert expected in str(err.value)


def test_defaults_are_the_paper_not_trl() -> None:
    cfg = GRPOStageConfig.model_validate(
        {"kind": "grpo", "output_dir": "o", "model": {"name_or_path": "m"}, "data": {"files": ["f"]}}
    )
    assert (cfg.loss_type, cfg.beta, cfg.epsilon, cfg.scale_rewards) == ("grpo", 0.01, 0.2, "group")
    assert (cfg.sampling.num_generations, cfg.sampling.top_k, cfg.sampling.max_completion_length) == (4, 50, 1024)
    assert (cfg.dynamic_sampling.enabled, cfg.dynamic_sampling.max_draws) == (False, 3)  # DAPO's is not the paper's


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_rollout_without_vllm_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"rollout: vllm needs vLLM on a CUDA GPU, but the vllm package is not"):
        check_rollout("vllm")
    check_rollout("hf")


def test_vllm_rollout_with_tensor_parallel_vllm_is_a_config_error_naming_the_key() -> None:
    """Each process hands vLLM its own rows' requests (trl#6294 workaround), so vLLM's tensor parallel group, which
    gathers trl's prompts across processes, cannot be used; ``config validate`` says so before any GPU is touched."""
    with pytest.raises(ConfigError, match=r"trainer.vllm_tensor_parallel_size 2 with rollout: vllm.*needs 1"):
        load_config(TINY_CONFIG, ["rollout=vllm", "trainer.vllm_tensor_parallel_size=2"])
    assert load_config(TINY_CONFIG, ["rollout=hf", "trainer.vllm_tensor_parallel_size=2"]).rollout == "hf"
    assert load_config(TINY_CONFIG, ["rollout=vllm", "trainer.vllm_tensor_parallel_size=1"]).rollout == "vllm"


@pytest.mark.parametrize(
    "overrides",
    [
        [],  # the paper's top-k 50
        ["sampling.top_k=0", "sampling.top_p=0.9"],
        ["sampling.top_k=0", "trainer.min_p=0.05"],
        ["sampling.top_k=0", "trainer.generation_kwargs={top_k: 20}"],
    ],
)
def test_vllm_rollout_with_truncated_sampling_turns_trl_importance_correction_off(overrides: list[str]) -> None:
    """vLLM's log-probs are over the kept tokens, the loss's over the whole vocabulary: trl's correction would scale
    every completion by its kept mass (trl#6789), so under truncated sampling it is off, as the paper has none."""
    args = to_grpo_args(load_config(GPU_CONFIG, [*CPU, "rollout=vllm", *overrides]))
    assert args.use_vllm and args.vllm_importance_sampling_correction is False


def test_vllm_rollout_with_untruncated_sampling_keeps_trl_importance_correction() -> None:
    untruncated = ["rollout=vllm", "sampling.top_k=0", "sampling.top_p=1.0"]
    assert to_grpo_args(load_config(GPU_CONFIG, [*CPU, *untruncated])).vllm_importance_sampling_correction is True
    explicit = [*untruncated, "trainer.vllm_importance_sampling_correction=true"]
    assert to_grpo_args(load_config(GPU_CONFIG, [*CPU, *explicit])).vllm_importance_sampling_correction is True


def test_vllm_importance_correction_with_truncated_sampling_is_a_config_error() -> None:
    cfg = load_config(GPU_CONFIG, [*CPU, "rollout=vllm", "trainer.vllm_importance_sampling_correction=true"])
    with pytest.raises(ConfigError) as err:
        to_grpo_args(cfg, "s3.yaml")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(
        "s3.yaml: trainer.vllm_importance_sampling_correction: true with rollout: vllm and truncated sampling "
        "(sampling.top_k 50)"
    )
    assert "drop the key" in msg and "sampling.top_k: 0, sampling.top_p: 1.0" in msg
    hf = load_config(GPU_CONFIG, [*CPU, "trainer.vllm_importance_sampling_correction=true"])
    assert to_grpo_args(hf).use_vllm is False  # unused without vLLM rollouts
