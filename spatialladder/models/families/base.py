"""What a model family is: the facts every stage asks of it instead of testing ``model_type``.

Each family's module (``qwen2_5_vl.py``, ``qwen3_vl.py``, ``qwen3_5.py``) declares one :class:`ModelFamily`; the
registry in ``__init__.py`` maps ``config.model_type`` to it. Sources for each fact are cited in the modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from spatialladder.models import boxes
from spatialladder.vocab import InputProtocol, VideoTime

BoxConvention = Literal["absolute", "relative1000"]
"""``absolute``: integer pixels of the image as the processor resized it (Qwen2.5-VL). ``relative1000``: integers in
[0, 1000] of the image's width and height, whatever the resize (Qwen3-VL). The conversions: ``models/boxes.py``."""


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
    """Whether the chat template renders a ``<think>…</think>`` block on the assistant turn (Qwen3.5). Our SFT rows
    then say there is no model reasoning (``reasoning_content: ""``), so the block is the empty one the no-think
    generation prompt ends with, and supervision starts after it (``train/sft_rows.py``, ``train/collator.py``)."""
    enable_thinking: bool | None = None
    """The chat template's ``enable_thinking`` flag as every ladder stage renders prompts (trl's
    ``GRPOConfig.chat_template_kwargs`` for rollouts and the loss pass) and as the ladder's own eval prompts must;
    None: the template has no such flag. Qwen3.5: False, whatever the checkpoint's default (the released
    ``qwen3_5_think.jinja`` of the ≥ 4B models and ``qwen3_5_nothink.jinja`` of 0.8B/2B differ only there:
    ``trl/chat_templates/README.md``), so every Qwen3.5 size sees the same ``<think>\n\n</think>\n\n`` prompt
    tail (docs/fidelity.md, "Qwen3.5")."""
    linear_attention: bool = False
    """Gated DeltaNet layers, fast only with flash-linear-attention / causal-conv1d (Qwen3.5; the ``qwen3.5`` extra),
    and unable to keep packed rows apart, so ``padding_free`` is refused (``train/trl_args.py``)."""
    video_size_is_whole_video: bool = False
    """How the video processor reads ``size["longest_edge"]``. Qwen2.5-VL's (``Qwen2VLVideoProcessor.resize``): a cap
    per frame, ``max_video_tokens`` the whole video's budget. Qwen3-VL's (``Qwen3VLVideoProcessor.resize`` /
    ``smart_resize(num_frames, …)``, also Qwen3.5's): a budget over all frames (T·H·W), ``max_video_tokens`` the
    cap per frame — the reverse. ``model.max_pixels`` is per frame for every family (the paper's budget), so the
    loader sets whichever field means that (``models/load.py`` ``load_processor``)."""
    hub_examples: tuple[str, ...] = field(default=())

    @property
    def chat_template_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``apply_chat_template`` wherever this family's prompts are rendered."""
        return {} if self.enable_thinking is None else {"enable_thinking": self.enable_thinking}

    @property
    def vision_inputs(self) -> tuple[str, ...]:
        """The processor outputs a hand-built forward hands the model beside ``input_ids``, ``attention_mask`` and
        ``mm_token_type_ids``: pixels and grids of images and videos, and ``second_per_grid_ts`` only where video
        time enters the rope. transformers 5.24: ``Qwen2_5_VLModel.get_rope_index(input_ids, mm_token_type_ids,
        image_grid_thw, video_grid_thw, second_per_grid_ts, attention_mask)`` (``modeling_qwen2_5_vl.py`` 934-941);
        ``Qwen3VLModel.get_rope_index`` and ``Qwen3_5Model.get_rope_index`` take no ``second_per_grid_ts``
        (``modeling_qwen3_vl.py`` 919-926, ``modeling_qwen3_5.py`` 1361-1368), nor do their forwards."""
        keys = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw")
        return (*keys, "second_per_grid_ts") if self.video_time == "mrope" else keys

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

    def box_to_model(
        self, box: Sequence[float], src: tuple[int, int], seen: tuple[int, int] | None = None
    ) -> list[int]:
        """``[x1, y1, x2, y2]`` in pixels of its ``src`` (W, H) frame → the integers this family reads and writes
        (``box_convention``; rules and rounding in ``models/boxes.py``). ``seen``: the (W', H') the processor resizes
        the image to, needed by ``absolute`` only."""
        return boxes.to_model_box(self.box_convention, box, src, seen)

    def box_to_pixels(
        self, box: Sequence[float], frame: tuple[int, int], seen: tuple[int, int] | None = None
    ) -> list[float]:
        """A box in this family's numbers (a model's answer, a target) → pixels of ``frame`` (W, H), unrounded: the
        inverse of :meth:`box_to_model` within the rounding bound stated in ``models/boxes.py``."""
        return boxes.to_frame_pixels(self.box_convention, box, frame, seen)
