"""The one config base class and the sections shared by several config kinds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from spatialladder.vocab import FrameDependent, ImageResize

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


class RecordDataSettings(Strict):
    """Where a trainer's records are and how their vision inputs are prepared (each setting is applied exactly
    once); the SFT and GRPO data sections."""

    files: list[str] = Field(min_length=1)
    image_root: str | None = None
    """Folder the records' relative image paths start from; default ``<folder of each JSONL>/images``."""
    max_samples: int | None = Field(None, ge=1)
    """Keep the first N usable records (across files, in file order): for smoke runs."""
    video_frames: int | None = Field(None, ge=2)
    """Frames kept per video record, sampled uniformly from the listed frames; None (default) keeps every listed
    frame: the official trainers' input, and the frames build-data computed the record's answer on (so SFT targets
    and GRPO rewards hold for what the model is shown)."""
    frame_dependent: FrameDependent = "keep_all"
    """A video record whose answer depends on which frames are shown (appearance order) when ``video_frames``
    would drop some of them: ``keep_all`` shows it every listed frame, ``error`` refuses the file (naming the line)."""
    video_fps: float = Field(2.0, gt=0)
    """Frame rate a frame list is declared at: sets Qwen2.5-VL's temporal positions, ``second_per_grid_ts`` =
    2 / fps (official processor default 2 fps → 1.0)."""
    image_resize: ImageResize = "once"
    """``official``: images first go through qwen-vl-utils' ``fetch_image`` with its defaults (as the official
    collator's and GRPO trainer's ``process_vision_info``), then the processor resizes again — 968×1296 is seen as
    252×336, not 252×364 (reference §4.1). Video frames are passed once in both modes."""
    shuffle_seed: int = 42
