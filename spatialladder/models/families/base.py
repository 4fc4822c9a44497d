"""What a model family is: the facts every stage asks of it instead of testing ``model_type``.

Each family's module (``qwen2_5_vl.py``, ``qwen3_vl.py``, ``qwen3_5.py``) declares one :class:`ModelFamily`; the
registry in ``__init__.py`` maps ``config.model_type`` to it. Sources for each fact are cited in the modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spatialladder.vocab import InputProtocol

BoxConvention = Literal["absolute", "relative1000"]
"""``absolute``: integer pixels of the image as the processor resized it (Qwen2.5-VL). ``relative1000``: integers in
[0, 1000] of the image's width and height, whatever the resize (Qwen3-VL)."""
VideoTime = Literal["mrope", "timestamps"]
"""``mrope``: time enters the rope's T axis through ``second_per_grid_ts`` (Qwen2.5-VL). ``timestamps``: one
``<t seconds>`` text stamp per temporal patch, from the video's metadata, and a T axis of 1 per patch (Qwen3-VL)."""


@dataclass(frozen=True)
class ModelFamily:
    """One model family's facts (see each field)."""

    name: str
    """The name users give (``make-tiny-model --family``, ``demo --family``, docs)."""
    model_types: tuple[str, ...]
    """``config.model_type`` values this family serves (dense and MoE)."""
    patch_size: int
    """The vision patch side in pixels (14 or 16); a merged token covers ``merge_size`` × that."""
    box_convention: BoxConvention
    video_time: VideoTime
    eval_protocol: InputProtocol
    """How a benchmark reaches this family at evaluation (``eval/inputs.py``), the eval config's ``input_protocol``
    when it sets none; its name and settings are recorded in ``results.json``."""
    merge_size: int = 2
    vision_tower: str = "model.visual"
    """Attribute path of the vision tower from the loaded model (frozen by ``model.freeze_vision_tower``)."""
    requires_mm_token_type_ids: bool = True
    """Whether the model raises without ``mm_token_type_ids`` when vision grids are passed (Qwen3-VL, Qwen3.5);
    Qwen2.5-VL silently falls back to 1-D text positions, so every hand-built forward passes them anyway."""
    thinks: bool = False
    """Whether the chat template renders a ``<think>…</think>`` block on the assistant turn (Qwen3.5)."""
    linear_attention: bool = False
    """Gated DeltaNet layers, fast only with flash-linear-attention / causal-conv1d (Qwen3.5)."""
    hub_examples: tuple[str, ...] = field(default=())

    @property
    def pixel_factor(self) -> int:
        """Side of the pixels one merged vision token covers: 28 (14 × 2) or 32 (16 × 2); images are resized to
        multiples of it and pixel budgets count in its square."""
        return self.patch_size * self.merge_size

    @property
    def token_pixels(self) -> int:
        return self.pixel_factor**2

    def tokens_to_pixels(self, tokens: int) -> int:
        """A budget of ``tokens`` merged vision tokens in pixels (the paper's 128-token frame: 100,352 px at 28,
        131,072 px at 32)."""
        return tokens * self.token_pixels
