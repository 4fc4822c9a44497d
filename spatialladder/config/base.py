"""The one config base class and the sections shared by several config kinds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

QWEN_PATCH_PIXELS = 28 * 28
"""One merged Qwen2.5-VL vision token covers 28×28 pixels; pixel budgets are multiples of it."""


class Strict(BaseModel):
    """Every config model inherits this: unknown keys are errors and loaded configs are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraSettings(Strict):
    """LoRA adapters on the language model only (the vision blocks also have *_proj names)."""

    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = r".*language_model.*\.(q|k|v|o|gate|up|down)_proj"


class ModelSettings(Strict):
    """Which checkpoint to load and how: a Hub id or a local folder, same code path."""

    name_or_path: str
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    min_pixels: int | None = Field(None, ge=QWEN_PATCH_PIXELS)
    max_pixels: int | None = Field(128 * QWEN_PATCH_PIXELS, ge=QWEN_PATCH_PIXELS)
    freeze_vision_tower: bool = False
    lora: LoraSettings | None = None
