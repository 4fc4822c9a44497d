"""Config for stage 3: GRPO with format + accuracy rewards."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from spatialladder.config.base import ModelSettings, Strict
from spatialladder.config.sft import reject_owned_keys

OWNED_TRAINER_KEYS = frozenset({"output_dir", "seed", "data_seed", "reward_weights"})


class RewardSpec(Strict):
    name: str
    weight: float = 1.0


class GRPODataSettings(Strict):
    files: list[str] = Field(min_length=1)
    image_root: str | None = None
    max_samples: int | None = Field(None, ge=1)
    video_frames: int = Field(16, ge=2)
    shuffle_seed: int = 42


class GRPOStageConfig(Strict):
    kind: Literal["grpo"]
    stage: Literal["grpo"] = "grpo"
    output_dir: str
    seed: int = 42
    model: ModelSettings
    data: GRPODataSettings
    prompt_fidelity: Literal["fixed", "official"] = "fixed"
    rewards: list[RewardSpec] = Field(
        default_factory=lambda: [RewardSpec(name="format"), RewardSpec(name="accuracy")], min_length=1
    )
    rollout: Literal["hf", "vllm"] = "hf"
    trainer: dict[str, Any] = Field(default_factory=dict)

    @field_validator("trainer")
    @classmethod
    def _trainer_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        return reject_owned_keys(v, OWNED_TRAINER_KEYS)
