"""Config for stage 3: GRPO with format + accuracy rewards (``official-spatialladder.md`` §5).

The algorithm's knobs (sampling, prompts per step, loss aggregation, KL, clipping, rewards, rollout engine) are
typed fields here, with the paper's values as defaults, because trl's own defaults differ (``loss_type="dapo"``,
``beta=0``, ``num_generations=8``, ``top_k=0``). Everything else trl's ``GRPOConfig`` offers (learning rate,
accumulation, schedule, logging, saving) passes through ``trainer:`` untouched; setting one of our fields there is an
error, so no setting has two sources. The per-device batch is derived from ``prompts_per_step``; an explicit
``trainer.per_device_train_batch_size`` must agree with it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from spatialladder.config.base import ModelSettings, RecordDataSettings, Strict
from spatialladder.config.sft import reject_owned_keys
from spatialladder.errors import UnknownNameError
from spatialladder.vocab import REWARD_NAMES, PromptFidelity

OWNED_TRAINER_KEYS = frozenset(
    {
        "output_dir",
        "seed",
        "data_seed",
        "reward_weights",
        "num_generations",
        "max_completion_length",
        "temperature",
        "top_p",
        "top_k",
        "loss_type",
        "scale_rewards",
        "beta",
        "epsilon",
        "use_vllm",
        "vllm_mode",
    }
)

LossType = Literal["grpo", "dapo", "dr_grpo"]
"""trl's loss aggregations; ``grpo``: per-sequence token mean, then batch mean — the paper's sample-level GRPO
(official §5.5)."""


class RewardSpec(Strict):
    """One reward from ``spatialladder.rewards.REWARDS`` (names: ``vocab.REWARD_NAMES``) and its weight."""

    name: str
    weight: float = 1.0

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in REWARD_NAMES:
            raise ValueError(str(UnknownNameError("reward", v, REWARD_NAMES)))
        return v


class GRPODataSettings(RecordDataSettings):
    """Spatial records (the stage-2 file, ``official-spatialladder.md`` §2.3) and where their images live."""


class SamplingSettings(Strict):
    """Rollout sampling. Defaults are what the official run actually used (T=1, top-k 50, top-p 1; §5.3)."""

    num_generations: int = Field(4, ge=2)
    max_completion_length: int = Field(1024, ge=1)
    temperature: float = Field(1.0, gt=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(50, ge=0)
    """0 disables top-k filtering."""


class DynamicSamplingSettings(Strict):
    """DAPO's dynamic sampling (arXiv 2503.14476 §3.2; verl ``recipe/dapo/dapo_ray_trainer.py``): a group whose
    rewards are all equal has zero advantage, so it is dropped and further prompts are drawn until the batch holds
    only informative groups. Off by default: the paper trains on every group (``docs/fidelity.md``)."""

    enabled: bool = False
    max_draws: int = Field(3, ge=1)
    """Further generation batches drawn per training batch at most (DAPO's ``max_num_gen_batches`` less the first).
    Where verl then stops with an error, a batch still short of informative groups is filled with zero-variance ones
    (zero advantage: no policy gradient) and counted in ``dynamic_sampling/hit_cap``."""


class GRPOStageConfig(Strict):
    kind: Literal["grpo"]
    stage: Literal["grpo"] = "grpo"
    output_dir: str
    seed: int = 42
    model: ModelSettings
    data: GRPODataSettings
    prompt_fidelity: PromptFidelity = "fixed"
    """``official``: §5.2's training text and text-before-video; ``fixed``: the eval thinking text, vision first."""
    rewards: list[RewardSpec] = Field(
        default_factory=lambda: [RewardSpec(name="format"), RewardSpec(name="accuracy")], min_length=1
    )
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    prompts_per_step: int = Field(1, ge=1)
    """Prompts per optimizer step, each with ``sampling.num_generations`` completions, over all processes: the
    paper's 1 (2 GPUs x 2 completions, §1). trl's ``per_device_train_batch_size`` is derived from it and the launch's
    process count (``train/trl_args.py`` :func:`grpo_per_device_batch`), so every launch trains the same step."""
    loss_type: LossType = "grpo"
    scale_rewards: Literal["group", "batch", "none"] = "group"
    """``group``: A = (r - mean_g) / (std_g + 1e-4) with the unbiased group std, as the official trainer."""
    beta: float = Field(0.01, ge=0.0)
    epsilon: float = Field(0.2, gt=0.0, lt=1.0)
    video_in_loss: bool = True
    """``False`` reproduces the official trainer's bug (§5.5): video rollouts are sampled with the video, but the
    policy and reference log-probs are computed without it (``<|video_pad|>`` read as text, 1-D positions)."""
    rollout: Literal["hf", "vllm"] = "hf"
    """``vllm`` generates with vLLM colocated on the training GPUs (needs CUDA and ``spatialladder[vllm]``); video rows
    go to vLLM as the same frames, declared at ``data.video_fps``, that the loss pass sees."""
    dynamic_sampling: DynamicSamplingSettings = Field(default_factory=DynamicSamplingSettings)
    trainer: dict[str, Any] = Field(default_factory=dict)

    @field_validator("rewards")
    @classmethod
    def _unique_rewards(cls, v: list[RewardSpec]) -> list[RewardSpec]:
        names = [r.name for r in v]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"reward {duplicated[0]!r} is listed twice; give each reward once with its weight")
        return v

    @field_validator("trainer")
    @classmethod
    def _trainer_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        return reject_owned_keys(v, OWNED_TRAINER_KEYS)

    @model_validator(mode="after")
    def _vllm_requests_per_process(self) -> GRPOStageConfig:
        tp = self.trainer.get("vllm_tensor_parallel_size", 1)
        if self.rollout == "vllm" and tp != 1:
            raise ValueError(
                f"trainer.vllm_tensor_parallel_size {tp} with rollout: vllm; each process sends its rows to vLLM as "
                "its own requests (trl 1.16 would send processor-expanded ids, trl#6294), which needs 1"
            )
        return self
