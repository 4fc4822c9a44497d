"""Config for the supervised rungs of the ladder: stage 1 (localization), stage 2 (spatial) and the cold start."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from spatialladder.config.base import ModelSettings, Strict

SFT_STAGES = ("localization", "spatial", "coldstart")

OWNED_TRAINER_KEYS = frozenset(
    {"output_dir", "seed", "data_seed", "assistant_only_loss", "completion_only_loss", "dataset_text_field"}
)
"""Keys set from our own config fields; accepting them under ``trainer:`` would give a setting two sources."""


def reject_owned_keys(trainer: dict[str, Any], owned: frozenset[str]) -> dict[str, Any]:
    clash = sorted(set(trainer) & owned)
    if clash:
        raise ValueError(f"trainer.{clash[0]} is set by spatialladder itself; use the top-level field instead")
    return trainer


class SFTDataSettings(Strict):
    """Where the records are and how their vision inputs are prepared."""

    files: list[str] = Field(min_length=1)
    image_root: str | None = None
    max_samples: int | None = Field(None, ge=1)
    video_frames: int = Field(16, ge=2)
    shuffle_seed: int = 42


class SFTStageConfig(Strict):
    kind: Literal["sft"]
    stage: Literal["localization", "spatial", "coldstart"]
    output_dir: str
    seed: int = 42
    model: ModelSettings
    data: SFTDataSettings
    prompt_fidelity: Literal["fixed", "official"] = "fixed"
    bbox_target: Literal["rescaled", "official"] = "rescaled"
    loss_on: Literal["assistant", "all"] = "assistant"
    trainer: dict[str, Any] = Field(default_factory=dict)

    @field_validator("trainer")
    @classmethod
    def _trainer_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        return reject_owned_keys(v, OWNED_TRAINER_KEYS)
