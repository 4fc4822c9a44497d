"""The SFT collator: trl rows → model inputs and labels through the processor's chat template."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spatialladder.errors import ModelLoadError
from spatialladder.media import video_parts, video_processor_kwargs


@dataclass
class VisionSFTCollator:
    """Rows → model inputs and labels, through the processor's chat template (trl's collator plus what it lacks:
    the videos' times, and the official ``loss_on: all`` masking).

    Videos: ``video_time`` is the family's (``ModelFamily.video_time``). ``mrope`` (Qwen2.5-VL): frames declared at
    ``video_fps``, indices 0..n-1, as ever. ``timestamps`` (Qwen3-VL, Qwen3.5): frames stamped with the capture times
    their video part carries, never resampled (``spatialladder.media.video_processor_kwargs``).

    ``assistant``: only assistant tokens (text + ``<|im_end|>``) are supervised, via the template's
    ``{% generation %}`` markers, so no vision token ever is. ``all``: everything except padding (and any
    ``pad_token_id`` token) and ``<|image_pad|>`` — the official collator's mask, which does supervise
    ``<|video_pad|>`` and the prompt.

    ``padding_free``: the padded batch is then packed into one sequence for flash-attention varlen
    (``train/packing.py``); ``model_config`` (the model's config) gives its family's mRoPE positions.
    """

    processor: Any
    loss_on: str = "assistant"
    chat_template: str | None = None
    video_fps: float = 2.0
    video_time: str = "mrope"
    max_length: int | None = None
    padding_free: bool = False
    model_config: Any = None
    image_token_id: int = field(init=False)
    pad_token_id: int | None = field(init=False)
    rope_index: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.image_token_id = self.processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
        self.pad_token_id = self.processor.tokenizer.pad_token_id
        if self.padding_free:
            if self.model_config is None:
                raise ValueError("padding_free needs the model config (its mRoPE settings)")
            from spatialladder.train.packing import RopeIndex

            self.rope_index = RopeIndex(self.model_config)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        from trl.data_utils import prepare_multimodal_messages

        conversations = [prepare_multimodal_messages(ex["messages"], images=ex["images"]) for ex in examples]
        parts = [part for conv in conversations for part in video_parts(conv)]
        kwargs: dict[str, Any] = {"padding": True, "padding_side": "right", "add_special_tokens": False}
        kwargs.update(video_processor_kwargs(self.video_time, parts, self.video_fps))
        if self.max_length is not None:
            kwargs.update(truncation=True, max_length=self.max_length)
        assistant_only = self.loss_on == "assistant"
        out = self.processor.apply_chat_template(
            conversations,
            chat_template=self.chat_template,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            return_assistant_tokens_mask=assistant_only,
            processor_kwargs=kwargs,
        )
        out["labels"] = self._labels(out, assistant_only)
        if self.rope_index is not None:
            from spatialladder.train.packing import pack_batch

            return pack_batch(out, self.rope_index)
        return out

    def _labels(self, out: dict[str, Any], assistant_only: bool) -> Any:
        """``input_ids`` with every unsupervised position set to -100 (pops the assistant mask from ``out``)."""
        labels = out["input_ids"].clone()
        labels[out["attention_mask"] == 0] = -100
        if assistant_only:
            labels[out.pop("assistant_masks") == 0] = -100
        else:  # the official collator: ``labels == pad_token_id`` (wherever it occurs) and ``<|image_pad|>``
            if self.pad_token_id is not None:
                labels[out["input_ids"] == self.pad_token_id] = -100
            labels[out["input_ids"] == self.image_token_id] = -100
        return labels


THINK_BLOCK_SUPERVISED = (
    "{%- generation %}\n        {{- '<think>\\n' + reasoning_content + '\\n</think>\\n\\n' + content }}"
)
"""The line of trl's Qwen3.5 training templates (``qwen3_5_nothink_training.jinja`` / ``qwen3_5_think_training.jinja``
lines 108-109, the same in ``qwen3_6`` / ``qwen3_8``) that opens the generation block *before* the think block, so
the empty ``<think>\\n\\n</think>\\n\\n`` would be supervised although the no-think generation prompt supplies it."""
THINK_BLOCK_AS_PROMPT = (
    "{{- '<think>\\n' if reasoning_content else '<think>\\n\\n</think>\\n\\n' }}\n"
    "        {%- generation %}\n"
    "        {{- (reasoning_content + '\\n</think>\\n\\n' if reasoning_content else '') + content }}"
)
"""The same text, with the generation block opened where the template's generation prompt ends: after
``<think>\\n\\n</think>\\n\\n`` for a turn without reasoning (``enable_thinking`` false), after ``<think>\\n`` for a
turn with reasoning (``enable_thinking`` true). The rendered text is unchanged; only the mask moves."""


def training_chat_template(processor: Any, family: Any = None) -> str | None:
    """The chat template with ``{% generation %}`` markers that assistant-only masking needs (trl's copy).

    For a family whose template renders a think block on the assistant turn (``family.thinks``: Qwen3.5), the
    markers open after that block, so the supervised tokens are exactly what the model generates after the
    generation prompt the same template renders at rollout and eval time (:data:`THINK_BLOCK_AS_PROMPT`)."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if has_generation_markers(processor.chat_template):
        return None
    template = get_training_chat_template(processor)
    if family is None or not family.thinks:
        return template
    if template is None or template.count(THINK_BLOCK_SUPERVISED) != 1:
        raise ModelLoadError(
            f"{family.name}: trl's training chat template for this checkpoint does not open its generation block at "
            "the think block as trl 1.16's qwen3_5 templates do, so the supervised tokens cannot be placed after it; "
            "use the released Qwen3.5 chat template (tokenizer_config.json / chat_template.jinja)"
        )
    return template.replace(THINK_BLOCK_SUPERVISED, THINK_BLOCK_AS_PROMPT)
