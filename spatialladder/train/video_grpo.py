"""trl's GRPOTrainer with videos in the loss, not only in the rollouts.

Why this exists: trl 1.16 (like the official SpatialLadder trainer, ``official-spatialladder.md`` §5.5) generates
rollouts *with* a video, but builds the policy, old-policy and reference log-prob forwards from its ``image``/
``images`` columns only. For a video prompt those forwards see the ``<|video_pad|>`` tokens as plain text, so
the policy gradient and the KL term are computed without the video.

What the subclass changes, and only for a batch that holds at least one video row (other batches go through trl
untouched):

1. ``_generate_and_score_completions``: every row's images and ``video`` frames become parts of its user turn
   (vision before the text; the video after it with ``text_before_video=True``, the official order). Each row is
   tokenised once, its frame list declared at ``video_fps`` (transformers 5 would assume 24 fps for a frame list,
   squeezing Qwen2.5-VL's temporal positions 12-fold); its vision tensors — images *and* video — travel with the
   batch under ``row_vision`` (a per-completion list, so trl's shuffling and splitting keep rows and tensors
   together). ``_tokenize_prompts`` hands trl exactly these ids and tensors for the rollout, so generation and
   every log-prob pass see the same inputs, and trl gets no image list to rebuild its image-only forward kwargs
   from (which also fail on a batch mixing rows with and without images). Reward functions then see the images
   inside ``prompts`` rather than as an ``images`` column.
2. ``_get_per_token_logps_and_entropies``: while such a batch is being scored, every log-prob forward (policy,
   old policy, reference) receives ``pixel_values``/``image_grid_thw``/``pixel_values_videos``/``video_grid_thw``/
   ``second_per_grid_ts`` of exactly its rows, plus ``mm_token_type_ids`` rebuilt from the token ids (trl's copy
   is built from text without the expanded video tokens and would not line up).
3. ``_compute_loss``: makes the batch's ``row_vision`` visible to (2) for the loss forward.

trl calls the tokeniser and the log-prob function from inside its own long methods with image-only arguments, so
they read the current batch's rows from ``self._active_rows``, which (1) and (3) set for the duration of one call
only.

``video_in_loss=False`` reproduces the official trainer's gap on purpose (for measuring what the fix is worth):
rollouts still see the video, but the log-prob forwards get no video tensors, ``<|video_pad|>`` is typed as text,
and a forward with no image grid either takes transformers 4.49's text-only positions (attention-mask cumsum - 1,
``official-spatialladder.md`` §5.5: "With both grids None, get_rope_index falls back to 1-D text positions").

Also: a sampled ``<|video_pad|>`` in a completion would not match the video features in the loss forward, so it is
suppressed during generation, as trl already does for ``<|image_pad|>``.

This module imports trl at import time (it subclasses a trl class); import it only where training happens.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from trl import GRPOTrainer
from trl.data_utils import prepare_multimodal_messages

from spatialladder.errors import ConfigError
from spatialladder.media import video_metadata

VIDEO_COLUMN = "video"
"""Row column holding one video as a list of frames (PIL images, or paths decoded by ``datasets.Image``)."""
ROW_VISION_KEY = "row_vision"
PROMPT_IDS_KEY = "prompt_ids"
VISION_KEYS = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
IMAGE_KEYS = ("pixel_values", "image_grid_thw")
"""What the official ``Qwen2VLModule.get_custom_multimodal_keywords()`` hands the log-prob forwards (§5.5)."""


def text_only_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """transformers 4.49 ``get_rope_index`` without any grid: ``cumsum(mask) - 1``, 1 on padding, on all 3 axes."""
    positions = attention_mask.long().cumsum(-1) - 1
    positions = positions.masked_fill(attention_mask == 0, 1)
    return positions.unsqueeze(0).expand(3, -1, -1)


def with_video_part(prompt: Sequence[dict[str, Any]], frames: Sequence[Any], text_before_video: bool = False) -> list:
    """The prompt with ``frames`` as a video part of its first user turn (vision first unless told otherwise)."""
    out, placed = [], False
    for message in prompt:
        if message["role"] == "user" and not placed:
            content = message["content"]
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
            video = {"type": "video", "video": list(frames)}
            message = {**message, "content": parts + [video] if text_before_video else [video, *parts]}
            placed = True
        out.append(message)
    if not placed:
        raise ConfigError("a video row's prompt has no user turn to attach the video to")
    return out


class VideoGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose log-prob forwards receive the video tensors of video rows (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        text_before_video: bool = False,
        video_fps: float = 2.0,
        video_in_loss: bool = True,
        image_resize: str = "once",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.text_before_video = text_before_video
        self.video_fps = video_fps
        self.video_in_loss = video_in_loss
        self.image_resize = image_resize
        self._active_rows: list[dict[str, torch.Tensor]] | None = None
        config = self.model.config
        self._image_token_id = getattr(config, "image_token_id", None)
        self._video_token_id = getattr(config, "video_token_id", None)
        if not self.use_vllm and self._video_token_id is not None:
            suppress = sorted({*(self.generation_config.suppress_tokens or []), self._video_token_id})
            self.generation_config.suppress_tokens = suppress
            self.generation_kwargs["suppress_tokens"] = suppress

    @contextmanager
    def _rows_in_use(self, rows: list[dict[str, torch.Tensor]]) -> Iterator[None]:
        self._active_rows = rows
        try:
            yield
        finally:
            self._active_rows = None

    def _inline_vision(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with its images and video as parts of the prompt, and no ``image``/``images`` column."""
        images = row.get("images") or ([row["image"]] if row.get("image") is not None else [])
        prompt = prepare_multimodal_messages(row["prompt"], images=list(images))
        if row.get(VIDEO_COLUMN):
            prompt = with_video_part(prompt, row[VIDEO_COLUMN], self.text_before_video)
        return {**{k: v for k, v in row.items() if k not in ("image", "images")}, "prompt": prompt}

    def _encode_row(self, prompt: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """One row's prompt ids and vision tensors, tokenised as trl's rollout does, videos at ``video_fps``."""
        frames = [
            len(part[VIDEO_COLUMN])
            for message in prompt
            if isinstance(message["content"], list)
            for part in message["content"]
            if part.get("type") == VIDEO_COLUMN
        ]
        kwargs = dict(self.chat_template_kwargs)
        if frames:
            kwargs["processor_kwargs"] = {
                **kwargs.get("processor_kwargs", {}),
                "video_metadata": video_metadata(frames, self.video_fps),
            }
        encoded = self.processing_class.apply_chat_template(
            conversation=[prompt],
            chat_template=self.chat_template,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            **kwargs,
        )
        row = {k: torch.as_tensor(encoded[k]) for k in VISION_KEYS if encoded.get(k) is not None}
        return {PROMPT_IDS_KEY: torch.as_tensor(encoded["input_ids"]), **row}

    def _pre_resized(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with its images through qwen-vl-utils' ``fetch_image`` first, as the official trainer's
        ``process_vision_info`` did before the processor (``image_resize: official``); video frames stay as they are,
        as in SFT."""
        from spatialladder.train.media import official_pre_resize

        if not row.get("images"):
            return row
        return {**row, "images": [official_pre_resize(im) for im in row["images"]]}

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        if self.image_resize == "official":
            inputs = [self._pre_resized(x) for x in inputs]
        if not any(x.get(VIDEO_COLUMN) for x in inputs):
            return super()._generate_and_score_completions(inputs)
        if self.use_vllm:
            raise ConfigError("video rows need rollout: hf (trl's vLLM rollout passes images only)")
        inputs = [self._inline_vision(x) for x in inputs]
        rows = [self._encode_row(x["prompt"]) for x in inputs]
        with self._rows_in_use(rows):
            output = super()._generate_and_score_completions(inputs)
        output[ROW_VISION_KEY] = rows
        return output

    def _tokenize_prompts(self, prompts: list) -> tuple:
        """In a video batch: the rows' own ids and vision tensors (no image list, so trl builds no image-only
        forward kwargs of its own); other batches are tokenised by trl."""
        rows = self._active_rows
        if rows is None:
            return super()._tokenize_prompts(prompts)
        if len(rows) != len(prompts):
            raise RuntimeError(f"{len(rows)} encoded rows for {len(prompts)} prompts")
        prompt_ids = [row[PROMPT_IDS_KEY][0].tolist() for row in rows]
        fields: dict[str, Any] = {}
        for key in VISION_KEYS:
            parts = [row[key] for row in rows if key in row]
            if parts:
                fields[key] = torch.cat(parts)
        fields["mm_token_type_ids"] = [self._token_types(torch.tensor(ids)).tolist() for ids in prompt_ids]
        return prompt_ids, None, fields

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        rows = inputs.get(ROW_VISION_KEY)
        if rows is None:
            return super()._compute_loss(model, inputs)
        with self._rows_in_use(rows):
            return super()._compute_loss(model, inputs)

    def _chunk_vision(
        self, rows: Sequence[dict[str, torch.Tensor]], input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, Any]:
        """Model kwargs for a run of consecutive rows: their vision tensors concatenated, token types rebuilt.
        Without ``video_in_loss``: image tensors only, video pads typed as text (the official forward)."""
        out: dict[str, Any] = {}
        for key in VISION_KEYS if self.video_in_loss else IMAGE_KEYS:
            parts = [row[key] for row in rows if key in row]
            if parts:
                out[key] = torch.cat(parts).to(input_ids.device)
        token_types = self._token_types(input_ids)
        if not self.video_in_loss:
            token_types[token_types == 2] = 0
            if "image_grid_thw" not in out:
                out["position_ids"] = text_only_positions(attention_mask)
        out["mm_token_type_ids"] = token_types
        return out

    def _token_types(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Qwen2.5-VL's ``mm_token_type_ids``: 1 on image pads, 2 on video pads, 0 elsewhere."""
        token_types = torch.zeros_like(input_ids)
        if self._image_token_id is not None:
            token_types[input_ids == self._image_token_id] = 1
        if self._video_token_id is not None:
            token_types[input_ids == self._video_token_id] = 2
        return token_types

    def _get_per_token_logps_and_entropies(
        self,
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **vision_kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        rows = self._active_rows
        if rows is None:
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size,
                compute_entropy,
                compute_aux_loss,
                **vision_kwargs,
            )
        if len(rows) != input_ids.size(0):
            raise RuntimeError(f"{len(rows)} rows of vision tensors for a batch of {input_ids.size(0)} sequences")
        batch_size = batch_size or input_ids.size(0)
        logps, entropies, aux_losses = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            ids = input_ids[start:end]
            vision = self._chunk_vision(rows[start:end], ids, attention_mask[start:end])
            chunk_model = functools.partial(model, **vision)
            lp, ent, aux = super()._get_per_token_logps_and_entropies(
                chunk_model,
                ids,
                attention_mask[start:end],
                logits_to_keep,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
            )
            logps.append(lp)
            entropies.append(ent)
            aux_losses.append(aux)
        return (
            torch.cat(logps),
            torch.cat(entropies) if compute_entropy else None,
            torch.stack(aux_losses).mean() if compute_aux_loss else None,
        )
