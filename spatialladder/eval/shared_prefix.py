"""One encoding per video (``share_video_prefix``, ``backend: hf``): questions on a video share its processor
tensors, its vision encoding and the prefill of the prompt prefix they have in common.

VSI-Bench asks ~18 questions about each video and every prompt starts with that video (~7,600 tokens at 32 frames),
so predicting each question from scratch runs the processor, the vision tower and the prefill of the same tokens 18
times. Here the first batch of a video runs the processor once (video tensors and the placeholder expansion) and
prefills the longest token prefix its prompts share (at least through ``<|vision_end|>``) into a key/value cache;
each batch of that video then calls ``generate`` with the full prompt ids and a copy of the cache, cut to the prefix
the batch shares and repeated over the batch, so only the question tokens are prefilled.

Why the outputs equal the plain path's (``tests/eval/test_shared_prefix.py`` checks logits and predictions):

- positions: Qwen2.5-VL's rope positions come from the full ids and the video grid (``get_rope_index``, padding
  masked out) plus the text row, as ``Qwen2_5_VLForConditionalGeneration._prepare_position_ids_for_generation``
  builds them for a prompt without a cache; ``generate`` then continues each row by one per new token, as it does
  on the plain path. (Left to itself, with a cache ``generate`` would offset positions by ``rope_deltas`` of the
  earlier call, which is not the full prompt's when a video's temporal positions outrun the text.)
- padding sits between the shared prefix and each question, masked and filled with ``<|vision_end|>``, a token
  every prompt already holds: the repetition penalty, which looks at the prompt ids ``generate`` is given, sees each
  prompt's own tokens, as at batch size 1. (The plain batched path left-pads with the pad token, which the penalty
  then also sees in padded rows, depending on which questions share the batch.)
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatialladder.eval.generation import Generation

logger = logging.getLogger(__name__)


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix every row of ``rows`` starts with."""
    n = min(len(r) for r in rows)
    if n == 0 or len(rows) == 1:
        return n
    ids = np.array([r[:n] for r in rows])
    differs = (ids != ids[0]).any(axis=0)
    return int(differs.argmax()) if differs.any() else n


def layout(rows: Sequence[Sequence[int]], prefix: int, filler: int) -> tuple[list[list[int]], list[list[int]]]:
    """Rows of one length: each prompt's first ``prefix`` ids, masked ``filler`` ids, then the rest of the prompt."""
    width = max(len(r) for r in rows)
    ids = [[*r[:prefix], *[filler] * (width - len(r)), *r[prefix:]] for r in rows]
    mask = [[1] * prefix + [0] * (width - len(r)) + [1] * (len(r) - prefix) for r in rows]
    return ids, mask


def rope_positions(model: Any, ids: Any, mask: Any, mm_types: Any, video: dict[str, Any]) -> Any:
    """``(4, batch, length)`` position ids of prompts on one video, as Qwen2.5-VL's ``generate`` builds them without
    a cache: the text position (unmasked tokens before), then ``get_rope_index``'s temporal/height/width rows."""
    import torch

    batch = ids.shape[0]
    vision, _ = model.model.get_rope_index(
        ids,
        mm_types,
        video_grid_thw=video["video_grid_thw"].repeat(batch, 1),
        second_per_grid_ts=video["second_per_grid_ts"].repeat(batch),
        attention_mask=mask,
    )
    text = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    return torch.cat([text[None], vision], dim=0)


@dataclass
class _Video:
    """What one video's questions share: processor tensors, placeholder expansion, grids, the prefix cache."""

    key: Hashable
    tensors: dict[str, Any]
    replacement: str
    grids: dict[str, list[list[int]]]
    vision_end: int
    """Index of ``<|vision_end|>`` in the prompt: a shared prefix must reach past it."""
    ids: list[int] = field(default_factory=list)
    """The prefix whose keys/values ``cache`` holds (batch 1)."""
    cache: Any = None


class SharedVideoPrefix:
    """Generates batches of questions on one video from the video's shared prefix; used by ``HFGenerator``.

    Keeps the last video only: ``predict_shard`` hands over a video's questions one after another.
    ``stats`` counts videos encoded, prefills, questions, their prompt tokens and the tokens actually prefilled.
    """

    def __init__(self, generator: Any):
        self.generator = generator
        self.model = generator.model
        self.processor = generator.processor
        self.vision_end_token = self.model.config.vision_end_token_id
        self.enabled = True
        self.stats = {"videos": 0, "prefills": 0, "questions": 0, "prompt_tokens": 0, "tokens_prefilled": 0}
        self._video: _Video | None = None

    @staticmethod
    def supported(model: Any) -> str | None:
        """Why ``model`` cannot share a prefix (None if it can): Qwen2.5-VL with full-attention layers only."""
        if model.config.model_type != "qwen2_5_vl":
            return f"model type {model.config.model_type!r} is not qwen2_5_vl"
        layer_types = getattr(model.config.get_text_config(), "layer_types", None) or []
        if any(kind != "full_attention" for kind in layer_types):
            return "the language model has sliding-window layers"
        return None

    def __call__(self, batch: Sequence[tuple[list, list, list]], key: Hashable) -> list | None:
        """Generations for ``batch`` (questions on the video ``key`` names, no images), or None when the prompts
        share no prefix through the video (the caller then takes the plain path)."""
        import torch

        texts = [self.processor.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m, _, _ in batch]
        video = self._video_for(key, batch[0], texts[0])
        if video is None:
            return None
        expanded, _ = self.processor.get_text_with_replacements(list(texts), [], [video.replacement] * len(texts))
        rows = self.processor.tokenizer(expanded)["input_ids"]
        limit = min(len(r) for r in rows) - 1  # every prompt keeps at least one token to prefill
        shared = min(common_prefix_length([*rows, video.ids]) if video.ids else 0, limit)
        if shared <= video.vision_end:
            shared = min(common_prefix_length(rows), limit)
            if shared <= video.vision_end:
                logger.warning("questions on %s share no prompt prefix through the video; predicted one by one", key)
                return None
            self._prefill(video, rows[0][:shared])
        ids, mask = layout(rows, shared, self.vision_end_token)
        device = self.generator.device
        ids_t = torch.tensor(ids, device=device)
        mask_t = torch.tensor(mask, device=device)
        types = torch.tensor(self.processor.create_mm_token_type_ids(ids), device=device)
        positions = rope_positions(self.model, ids_t, mask_t, types, video.tensors)
        cache = self._cache_copy(video, shared, len(rows))
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids_t,
                attention_mask=mask_t,
                position_ids=positions,
                mm_token_type_ids=types,
                cache=cache,
                **self.generator.kwargs,
            )
        self.stats["questions"] += len(rows)
        self.stats["prompt_tokens"] += sum(len(r) for r in rows)
        self.stats["tokens_prefilled"] += sum(len(r) - shared for r in rows)
        texts = self.processor.batch_decode(
            out[:, ids_t.shape[1] :], skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        return [Generation(text, video.grids) for text in texts]

    def _video_for(self, key: Hashable, first: tuple[list, list, list], text: str) -> _Video | None:
        """The video ``key`` names, encoded by the processor once (with the first question's prompt, whose ids
        check that tokenising an expanded prompt gives the processor's own ids)."""
        if self._video is not None and self._video.key == key:
            return self._video
        self._video = None  # free the previous video's tensors and cache first
        inputs = self.generator.encode([first])
        tensors = {k: inputs[k] for k in ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")}
        replacement = self.processor.replace_video_token({"video_grid_thw": tensors["video_grid_thw"]}, 0)
        expanded, _ = self.processor.get_text_with_replacements([text], [], [replacement])
        ours = self.processor.tokenizer(expanded)["input_ids"][0]
        theirs = inputs["input_ids"][0].tolist()
        if ours != theirs or self.vision_end_token not in ours:
            logger.warning("prompt ids differ from the processor's; questions are predicted one by one from now on")
            self.enabled = False
            return None
        grid = [[int(v) for v in row] for row in tensors["video_grid_thw"].tolist()]
        self.stats["videos"] += 1
        grids = {"image_grid_thw": [], "video_grid_thw": grid}
        self._video = _Video(key, tensors, replacement, grids, vision_end=ours.index(self.vision_end_token))
        return self._video

    def _prefill(self, video: _Video, prefix: list[int]) -> None:
        """Run the vision tower and the language model over ``prefix`` once; keep its key/value cache."""
        import torch

        video.cache = None
        ids = torch.tensor([prefix], device=self.generator.device)
        mask = torch.ones_like(ids)
        types = torch.tensor(self.processor.create_mm_token_type_ids([prefix]), device=ids.device)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=rope_positions(self.model, ids, mask, types, video.tensors),
                mm_token_type_ids=types,
                **video.tensors,
                use_cache=True,
                logits_to_keep=1,
            )
        video.ids, video.cache = list(prefix), out.cache
        self.stats["prefills"] += 1
        self.stats["tokens_prefilled"] += len(prefix)

    def _cache_copy(self, video: _Video, length: int, batch: int) -> Any:
        """A new cache holding the first ``length`` cached tokens for each of ``batch`` rows (the stored one is
        never written to: ``generate`` appends to the copy)."""
        from transformers import DynamicCache

        layers = [
            (layer.keys[:, :, :length].expand(batch, -1, -1, -1), layer.values[:, :, :length].expand(batch, -1, -1, -1))
            for layer in video.cache.layers
        ]
        return DynamicCache(layers, config=self.model.config)
