"""One encoding per video (``share_video_prefix``, ``backend: hf``): questions on a video share its processor
tensors, its vision encoding and the prefill of the prompt prefix they have in common.

VSI-Bench asks ~18 questions about each video and every prompt starts with that video (~7,600 tokens at 32 frames),
so predicting each question from scratch runs the processor, the vision tower and the prefill of the same tokens 18
times. Here ``predict_shard`` hands the questions over video by video, in full batches (a batch may end one video's
questions and begin the next one's). The first time a video comes, the processor runs on it once (video tensors and
the number of placeholder tokens) and the longest token prefix its questions in the batch share (at least through
``<|vision_end|>``) is prefilled into that video's key/value cache. Each batch then calls ``generate`` with the
full prompt ids and a new cache holding, for each row, its video's cached prefix (cut to what the row's questions
share), so only the question tokens are prefilled.

Why the outputs equal the plain path's (``tests/eval/test_shared_prefix.py`` checks logits and predictions):

- positions: the rope positions come from the full ids, their ``mm_token_type_ids`` and each row's video grid
  (and, for Qwen2.5-VL, its ``second_per_grid_ts``: ``ModelFamily.vision_inputs``) through the model's own
  ``get_rope_index`` (padding masked out), plus the text row, as ``_prepare_position_ids_for_generation`` builds them
  for a prompt without a cache (transformers 5.24: ``modeling_qwen2_5_vl.py`` 1400-1439, ``modeling_qwen3_vl.py``
  1384-1423, alike); ``generate`` then continues each row by one per new token, as it does on the plain path. (Left
  to itself, with a cache ``generate`` would offset positions by ``rope_deltas`` of the earlier call, which is not
  the full prompt's when a video's temporal positions outrun the text.)
- the video's tokens: the processor replaces the prompt's one ``<|video_pad|>`` by the video's placeholder ids —
  Qwen2.5-VL one pad per video token; Qwen3-VL a ``<t seconds><|vision_start|>`` pads ``<|vision_end|>`` group per
  temporal patch (``Qwen3VLProcessor.replace_video_token``, ``processing_qwen3_vl.py`` 75-103). Those ids are
  taken from the processor's own ids for the video's first question and spliced into the others' (special tokens
  split the text, so the result is the processor's; checked per video), and a cached prefix reaches past the
  ``<|vision_end|>`` that closes the whole video.
- padding is masked: before a shorter cached prefix (zero keys/values) and between the prefix and each question,
  filled with ``<|vision_end|>``, a token every prompt already holds, so the repetition penalty, which looks at the
  prompt ids ``generate`` is given, sees each prompt's own tokens, as at batch size 1. (The plain batched path
  left-pads with the pad token, which the penalty then also sees in padded rows, depending on which questions share
  the batch.)

Families: Qwen2.5-VL and Qwen3-VL share prefixes. Qwen3.5 does not (``ModelFamily.linear_attention``): its Gated
DeltaNet layers cache a recurrent state of the whole prefix, not a key/value per token, so it cannot be cut to
the shorter prefix a batch's rows share, nor skip the masked filler between prefix and question.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatialladder.eval.generation import Generation
from spatialladder.models.families import family_for

logger = logging.getLogger(__name__)


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix every row of ``rows`` starts with."""
    n = min(len(r) for r in rows)
    if n == 0 or len(rows) == 1:
        return n
    ids = np.array([r[:n] for r in rows])
    differs = (ids != ids[0]).any(axis=0)
    return int(differs.argmax()) if differs.any() else n


def layout(
    rows: Sequence[Sequence[int]], prefixes: Sequence[int], filler: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Rows of one length and their masks: masked ``filler`` ids, each row's cached prefix (its first
    ``prefixes[i]`` ids, right-aligned), masked ``filler`` ids, then the rest of the prompt (right-aligned)."""
    head = max(prefixes)
    tail = max(len(r) - p for r, p in zip(rows, prefixes, strict=True))
    ids, mask = [], []
    for row, p in zip(rows, prefixes, strict=True):
        gap = tail - (len(row) - p)
        ids.append([*[filler] * (head - p), *row[:p], *[filler] * gap, *row[p:]])
        mask.append([0] * (head - p) + [1] * p + [0] * gap + [1] * (len(row) - p))
    return ids, mask


def rope_positions(model: Any, ids: Any, mask: Any, mm_types: Any, grids: Any, second_per_grid_ts: Any = None) -> Any:
    """``(4, batch, length)`` position ids of one-video prompts (``grids``, ``second_per_grid_ts``: each row's; the
    latter only for a family whose video time is in the rope), as ``generate`` builds them without a cache: the text
    position (unmasked tokens before), then the model's own ``get_rope_index``'s temporal/height/width rows."""
    import torch

    times = {} if second_per_grid_ts is None else {"second_per_grid_ts": second_per_grid_ts}
    vision, _ = model.model.get_rope_index(ids, mm_types, video_grid_thw=grids, attention_mask=mask, **times)
    text = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    return torch.cat([text[None], vision], dim=0)


@dataclass
class _Video:
    """What one video's questions share: processor tensors, placeholder count, grids, the prefix cache."""

    tensors: dict[str, Any]
    expansion: list[int]
    """The ids the processor puts where the prompt's one ``<|video_pad|>`` stands."""
    grids: dict[str, list[list[int]]]
    vision_end: int
    """Index of the ``<|vision_end|>`` closing the video in the prompt: a shared prefix must reach past it."""
    ids: list[int] = field(default_factory=list)
    """The prefix whose keys/values ``cache`` holds (batch 1)."""
    cache: Any = None


class SharedVideoPrefix:
    """Generates batches of questions on videos from each video's shared prefix; used by ``HFGenerator``.

    Keeps the videos of the latest batch only: ``predict_shard`` hands a video's questions over one after another.
    ``stats`` counts videos encoded, prefills, questions, their prompt tokens and the tokens actually prefilled.
    """

    def __init__(self, generator: Any):
        self.generator = generator
        self.model = generator.model
        self.processor = generator.processor
        self.family = family_for(self.model.config)
        self.vision_end_token = self.model.config.vision_end_token_id
        self.video_token = self.model.config.video_token_id
        self.enabled = True
        self.stats = {"videos": 0, "prefills": 0, "questions": 0, "prompt_tokens": 0, "tokens_prefilled": 0}
        self._videos: dict[Hashable, _Video] = {}

    @staticmethod
    def supported(model: Any) -> str | None:
        """Why ``model`` cannot share a prefix (None if it can): a family without linear-attention layers (see the
        module docstring), and full-attention layers only."""
        family = family_for(model.config)
        if family.linear_attention:
            return f"{family.name}'s linear-attention layers keep a recurrent state that cannot be cut to a prefix"
        layer_types = getattr(model.config.get_text_config(), "layer_types", None) or []
        if any(kind != "full_attention" for kind in layer_types):
            return "the language model has sliding-window layers"
        return None

    def __call__(self, batch: Sequence[tuple[list, list, list]], keys: Sequence[Hashable]) -> list | None:
        """Generations for ``batch`` (each question on the one video its key names, no images), or None when the
        prompts on a video share no prefix through it (the caller then takes the plain path)."""
        import torch

        texts = [self.processor.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m, _, _ in batch]
        first = {key: keys.index(key) for key in dict.fromkeys(keys)}
        for key in [k for k in self._videos if k not in first]:  # done with: free its tensors and cache first
            del self._videos[key]
        videos = {key: self._video_for(key, batch[i], texts[i]) for key, i in first.items()}
        if any(video is None for video in videos.values()):
            return None
        unexpanded = self.processor.tokenizer(texts)["input_ids"]
        rows = [self._expand(row, videos[key]) for row, key in zip(unexpanded, keys, strict=True)]
        shared = {}
        for key, video in videos.items():
            shared[key] = self._shared_prefix(video, [r for r, k in zip(rows, keys, strict=True) if k == key])
            if shared[key] is None:
                logger.warning("questions on %s share no prompt prefix through the video; predicted one by one", key)
                return None
        prefixes = [shared[key] for key in keys]
        ids, mask = layout(rows, prefixes, self.vision_end_token)
        device = self.generator.device
        ids_t = torch.tensor(ids, device=device)
        mask_t = torch.tensor(mask, device=device)
        types = torch.tensor(self.processor.create_mm_token_type_ids(ids), device=device)
        grids = torch.cat([videos[key].tensors["video_grid_thw"] for key in keys])
        seconds = None
        if "second_per_grid_ts" in self.family.vision_inputs:
            seconds = torch.cat([videos[key].tensors["second_per_grid_ts"] for key in keys])
        positions = rope_positions(self.model, ids_t, mask_t, types, grids, seconds)
        cache = self._batch_cache([videos[key] for key in keys], prefixes)
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
        self.stats["tokens_prefilled"] += sum(len(r) - p for r, p in zip(rows, prefixes, strict=True))
        texts = self.processor.batch_decode(
            out[:, ids_t.shape[1] :], skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        return [Generation(text, videos[key].grids) for text, key in zip(texts, keys, strict=True)]

    def _shared_prefix(self, video: _Video, rows: list[list[int]]) -> int | None:
        """How many leading ids ``rows`` (prompts on ``video``) take from its cache: what they share with the
        cached prefix, else what they share among themselves (prefilled now); None if that stops before the video
        ends. Every prompt keeps at least one id to prefill."""
        limit = min(len(r) for r in rows) - 1
        if video.ids:
            length = min(common_prefix_length([*rows, video.ids]), limit)
            if length > video.vision_end:
                return length
        length = min(common_prefix_length(rows), limit)
        if length <= video.vision_end:
            return None
        self._prefill(video, rows[0][:length])
        return length

    def _video_for(self, key: Hashable, first: tuple[list, list, list], text: str) -> _Video | None:
        """The video ``key`` names, encoded by the processor once (with its first question's prompt, whose ids give
        the video's placeholder ids and check that the tokenised prompt around them is the processor's own)."""
        if key in self._videos:
            return self._videos[key]
        inputs = self.generator.encode([first])
        keys = [k for k in self.family.vision_inputs if k not in ("pixel_values", "image_grid_thw")]
        tensors = {k: inputs[k] for k in keys}
        theirs = inputs["input_ids"][0].tolist()
        grid = [[int(v) for v in row] for row in tensors["video_grid_thw"].tolist()]
        grids = {"image_grid_thw": [], "video_grid_thw": grid}
        ids = self.processor.tokenizer([text])["input_ids"][0]
        at = ids.index(self.video_token)
        expansion = theirs[at : len(theirs) - (len(ids) - at - 1)]
        tokens = sum(t * h * w for t, h, w in grid) // self.processor.video_processor.merge_size**2
        end = at + len(expansion)
        video = _Video(tensors, expansion, grids, vision_end=end)
        ours = self._expand(ids, video)
        if (
            ours != theirs
            or expansion.count(self.video_token) != tokens
            or ours[end : end + 1] != [self.vision_end_token]
        ):
            logger.warning("prompt ids differ from the processor's; questions are predicted one by one from now on")
            self.enabled = False
            return None
        self.stats["videos"] += 1
        self._videos[key] = video
        return video

    def _expand(self, ids: list[int], video: _Video) -> list[int]:
        """A prompt's ids with its one ``<|video_pad|>`` replaced by the video's placeholder ids, as the processor
        expands the text before tokenising (special tokens split the text, so the result is the same; checked per
        video)."""
        at = ids.index(self.video_token)
        return [*ids[:at], *video.expansion, *ids[at + 1 :]]

    def _prefill(self, video: _Video, prefix: list[int]) -> None:
        """Run the vision tower and the language model over ``prefix`` once; keep its key/value cache."""
        import torch

        video.cache = None
        ids = torch.tensor([prefix], device=self.generator.device)
        mask = torch.ones_like(ids)
        types = torch.tensor(self.processor.create_mm_token_type_ids([prefix]), device=ids.device)
        tensors = video.tensors
        positions = rope_positions(
            self.model, ids, mask, types, tensors["video_grid_thw"], tensors.get("second_per_grid_ts")
        )
        with torch.inference_mode():
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                mm_token_type_ids=types,
                **tensors,
                use_cache=True,
                logits_to_keep=1,
            )
        video.ids, video.cache = list(prefix), out.cache
        self.stats["prefills"] += 1
        self.stats["tokens_prefilled"] += len(prefix)

    def _batch_cache(self, videos: list[_Video], prefixes: list[int]) -> Any:
        """A new cache whose row ``i`` holds the first ``prefixes[i]`` cached tokens of ``videos[i]``, right-aligned
        after zeros (masked); the stored caches are never written to (``generate`` appends to the new one)."""
        import torch
        from transformers import DynamicCache

        head = max(prefixes)
        blocks: dict[tuple[int, int], tuple[_Video, int, list[int]]] = {}  # rows taking one video's prefix
        for row, (video, length) in enumerate(zip(videos, prefixes, strict=True)):
            blocks.setdefault((id(video), length), (video, length, []))[2].append(row)

        def layer_states(index: int, like: Any) -> tuple[Any, Any]:
            keys = like.keys.new_zeros((len(videos), like.keys.shape[1], head, like.keys.shape[3]))
            values = like.values.new_zeros((len(videos), like.values.shape[1], head, like.values.shape[3]))
            for video, length, rows in blocks.values():
                at = torch.tensor(rows, device=keys.device)
                keys[at, :, head - length :] = video.cache.layers[index].keys[:, :, :length]
                values[at, :, head - length :] = video.cache.layers[index].values[:, :, :length]
            return keys, values

        # layer by layer: the cache copies each layer's states, so only one layer's staging tensors live at a time
        layers = (layer_states(index, like) for index, like in enumerate(videos[0].cache.layers))
        return DynamicCache(layers, config=self.model.config)
