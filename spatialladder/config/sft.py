"""Config for the supervised rungs of the ladder: stage 1 (localization), stage 2 (spatial) and the cold start."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from spatialladder.config.base import ModelSettings, RecordDataSettings, Strict
from spatialladder.vocab import PromptFidelity, SftStage

OWNED_TRAINER_KEYS = frozenset(
    {
        "output_dir",
        "seed",
        "data_seed",
        "assistant_only_loss",
        "completion_only_loss",
        "dataset_text_field",
        "padding_free",
    }
)
"""Keys set from our own config fields; accepting them under ``trainer:`` would give a setting two sources
(trl's own ``padding_free`` refuses vision rows; ours is the top-level ``padding_free``)."""


def reject_owned_keys(trainer: dict[str, Any], owned: frozenset[str]) -> dict[str, Any]:
    clash = sorted(set(trainer) & owned)
    if clash:
        raise ValueError(f"trainer.{clash[0]} is set by spatialladder itself; use the top-level field instead")
    return trainer


class SFTDataSettings(RecordDataSettings):
    """The SFT records, plus the frame size their stored boxes are in."""

    bbox_source_size: tuple[int, int] | None = None
    """``[W, H]`` of the frame the stored boxes are in; None: the record's ``image_size``, else the image file's."""


class SFTStageConfig(Strict):
    kind: Literal["sft"]
    stage: SftStage
    output_dir: str
    seed: int = 42
    model: ModelSettings
    data: SFTDataSettings
    prompt_fidelity: PromptFidelity = "fixed"
    """``official`` reproduces the official prompt drift (system text without period, no newline before Options:)."""
    bbox_target: Literal["rescaled", "official"] = "rescaled"
    """``official``: the 968x1296-assumed rescale and the double-JSON-encoded target string of sft_spld_stage1.py."""
    loss_on: Literal["assistant", "all"] = "assistant"
    """``all``: loss on the whole sequence except padding and <|image_pad|>, exactly as the official collator."""
    loss_average: Literal["micro_batch", "tokens"] = "micro_batch"
    """``micro_batch``: each micro-batch's token-mean CE, averaged over accumulation steps and processes — what the
    official run computed (transformers 4.49 passed no token count to Qwen2.5-VL), i.e. a per-sequence mean at
    batch 1. ``tokens``: one token mean over the whole accumulated batch (transformers 5 / trl default)."""
    padding_free: bool = False
    """Pack each micro-batch's rows into one sequence with no padding (flash-attention varlen on CUDA,
    ``train/packing.py``); per-row losses are those of the padded batch. Needs ``model.attn_implementation:
    flash_attention_2``, CUDA and flash-attn (checked by ``config validate``). Off: the paper's padded batches."""
    trainer: dict[str, Any] = Field(default_factory=dict)
    """trl ``SFTConfig`` keys, passed through. ``train_sampling_strategy: group_by_length`` (default ``random``, the
    paper's order) draws each batch from rows of similar length (``train/grouping.py``)."""

    @field_validator("trainer")
    @classmethod
    def _trainer_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        return reject_owned_keys(v, OWNED_TRAINER_KEYS)

    @field_validator("padding_free")
    @classmethod
    def _padding_free_attention(cls, v: bool, info: ValidationInfo) -> bool:
        model = info.data.get("model")
        if v and model is not None and model.attn_implementation != "flash_attention_2":
            raise ValueError(
                f"true needs model.attn_implementation: flash_attention_2, got {model.attn_implementation!r} "
                "(sdpa/eager would attend through a full mask over the packed rows)"
            )
        return v
