"""trl's GRPOTrainer with videos in the loss, not only in the rollouts.

Why this exists: trl 1.16 (like the official SpatialLadder trainer, ``official-spatialladder.md`` §5.5) generates
rollouts *with* a video, but builds the policy, old-policy and reference log-prob forwards from its ``image``/
``images`` columns only. For a video prompt those forwards see the ``<|video_pad|>`` tokens as plain text, so
the policy gradient and the KL term are computed without the video.

What the subclass changes, and only for a batch that holds at least one video row (other batches go through trl
untouched):

1. ``_generate_and_score_completions``: every row's images and ``video`` frames become parts of its user turn
   (vision before the text; the video after it with ``text_before_video=True``, the official order). Each row is
   tokenised once, its frames timed as the family tells time (``spatialladder.media``: Qwen2.5-VL's declared at
   ``video_fps``, as transformers 5 would otherwise assume 24 fps and squeeze its temporal positions 12-fold;
   Qwen3-VL's stamped with their capture times, never resampled); its vision tensors — images *and* video — travel
   with the batch under ``row_vision`` (a per-completion list, so trl's shuffling and splitting keep rows and
   tensors together). ``_tokenize_prompts`` hands trl exactly these ids and tensors for the rollout, so generation and
   every log-prob pass see the same inputs, and trl gets no image list to rebuild its image-only forward kwargs
   from (which also fail on a batch mixing rows with and without images). Reward functions then see the images
   inside ``prompts`` rather than as an ``images`` column.
2. ``_get_per_token_logps_and_entropies``: while such a batch is being scored, every log-prob forward (policy,
   old policy, reference) receives ``pixel_values``/``image_grid_thw``/``pixel_values_videos``/``video_grid_thw``
   (and, where the family's video time is in the rope, Qwen2.5-VL's ``second_per_grid_ts``: ``ModelFamily.
   vision_inputs``) of exactly its rows, plus ``mm_token_type_ids`` rebuilt from the token ids (trl's copy is built
   from text without the expanded video tokens and would not line up), from which the model computes its own rope
   positions (``get_rope_index``; Qwen3-VL and Qwen3.5 raise without the types, Qwen2.5-VL would silently take 1-D
   text positions).
3. ``_compute_loss``: makes the batch's ``row_vision`` visible to (2) for the loss forward.

trl calls the tokeniser and the log-prob function from inside its own long methods with image-only arguments, so
they read the current batch's rows from ``self._active_rows``, which (1) and (3) set for the duration of one call
only.

``video_in_loss=False`` reproduces the official trainer's gap on purpose (for measuring what the fix is worth):
rollouts still see the video, but the log-prob forwards get no video tensors, ``<|video_pad|>`` is typed as text,
and a forward with no image grid either takes transformers 4.49's text-only positions (attention-mask cumsum - 1,
``official-spatialladder.md`` §5.5: "With both grids None, get_rope_index falls back to 1-D text positions").

Also: a sampled ``<|video_pad|>`` in a completion would not match the video features in the loss forward, so it is
suppressed during generation, as trl already does for ``<|image_pad|>`` (under vLLM both get a -100 logit bias).

Beyond the video tensors:

4. **Group accounting.** ``_calculate_rewards`` flags every group (one prompt's completions) whose weighted rewards
   do not vary (``train/grpo_groups.py``) and the batch logs ``groups/zero_variance`` overall and per ``data_type``
   into trl's metrics, so the shares reach ``train_log.jsonl``, the curves and the model card.
5. **Dynamic sampling** (DAPO §3.2, off by default). Each batch is screened: rollouts and rewards only, for trl's
   prompts and then for further seeded draws from the dataset (at most ``max_draws`` batches more), until every
   process holds a batch of groups with non-zero variance; then trl runs its usual scoring on exactly the kept
   groups, with ``_generate`` and ``_calculate_rewards`` replaying what screening produced, so the log-prob passes
   are paid only for kept groups. Counts: ``dynamic_sampling/*`` (the ``*_KEY`` names of ``grpo_groups``).
6. **vLLM rollouts of video rows.** trl 1.16's colocated vLLM call passes images only, and as token ids already
   expanded by the processor, which vLLM (0.31: ``Qwen2_5_VLMultiModalProcessor``) expands a second time (trl#6294).
   In a batch this class encodes itself, ``_generate_single_turn`` hands vLLM, for each row, the chat text's ids with
   one placeholder per image/video, the images and the video as ``(frames (T, H, W, 3) uint8, metadata)`` with the
   same frames and metadata the loss pass gives the processor (vLLM hands the metadata to the same transformers
   processor: Qwen2.5-VL's ``second_per_grid_ts`` and Qwen3-VL's stamps agree), and the processor's pixel budget as
   ``mm_processor_kwargs``; the ids expanded as vLLM will expand them (per family, and for a Qwen3-VL / Qwen3.5
   video per vLLM version, vllm-project/vllm#46817) are checked to equal the loss pass's, before the request goes
   and again against the prompt vLLM reports. Under vLLM, image-only batches take the same path:
   trl's own request would carry the expanded ids (one image's ``<|image_pad|>`` run, whose first token vLLM
   expands again, so the prompt reaching the model holds the image twice over) and no pixel budget (vLLM would
   resize with the model folder's default, not ``model.max_pixels``). Text-only batches and every batch under
   ``rollout: hf`` without a video go through trl unchanged.
7. **HF rollouts with fp32 master weights.** Under ``rollout: hf`` in a mixed-precision launch whose trainable
   weights are fp32 (``train/sharding.py`` ``fp32_master_weights``), ``_generate_single_turn`` runs trl's
   ``generate`` inside one autocast region, so each weight is cast to bf16 once per call rather than once per
   generated token (:meth:`VideoGRPOTrainer._rollout_autocast`).

This module imports trl at import time (it subclasses a trl class); import it only where training happens.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from accelerate.utils import gather, gather_object
from trl import GRPOTrainer
from trl.data_utils import prepare_multimodal_messages

from spatialladder.errors import ConfigError
from spatialladder.media import (
    CaptureTimes,
    expand_placeholders,
    frame_list_metadata,
    frame_stamps,
    timestamped_video_ids,
    video_parts,
    video_processor_kwargs,
    vllm_video,
)
from spatialladder.models.families import family_for
from spatialladder.train.grpo_groups import (
    DROPPED_KEY,
    HIT_CAP_KEY,
    KEPT_KEY,
    PROMPTS_DRAWN_KEY,
    GroupTally,
    choose_groups,
    zero_variance_groups,
)
from spatialladder.train.grpo_rows import row_capture_times

VIDEO_COLUMN = "video"
"""Row column holding one video as a list of frames (PIL images, or paths decoded by ``datasets.Image``)."""
ROW_VISION_KEY = "row_vision"
PROMPT_IDS_KEY = "prompt_ids"
VISION_KEYS = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
"""Every vision tensor a processor may return for a row; a log-prob forward gets its family's (``vision_inputs``)."""
IMAGE_KEYS = ("pixel_values", "image_grid_thw")
"""What the official ``Qwen2VLModule.get_custom_multimodal_keywords()`` hands the log-prob forwards (§5.5)."""


def text_only_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """transformers 4.49 ``get_rope_index`` without any grid: ``cumsum(mask) - 1``, 1 on padding, on all 3 axes."""
    positions = attention_mask.long().cumsum(-1) - 1
    positions = positions.masked_fill(attention_mask == 0, 1)
    return positions.unsqueeze(0).expand(3, -1, -1)


def with_video_part(
    prompt: Sequence[dict[str, Any]],
    frames: Sequence[Any],
    text_before_video: bool = False,
    times: CaptureTimes | None = None,
) -> list:
    """The prompt with ``frames`` as a video part of its first user turn (vision first unless told otherwise),
    carrying their capture ``times`` when known (``spatialladder.media``)."""
    out, placed = [], False
    for message in prompt:
        if message["role"] == "user" and not placed:
            content = message["content"]
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
            video = {"type": "video", "video": list(frames), **(times.part_keys() if times is not None else {})}
            message = {**message, "content": parts + [video] if text_before_video else [video, *parts]}
            placed = True
        out.append(message)
    if not placed:
        raise ConfigError("a video row's prompt has no user turn to attach the video to")
    return out


VLLM_PAD_BIAS = -100.0
"""vLLM's strongest logit bias (it clamps to ±100): keeps vision pad tokens out of sampled completions."""


def pad_updates(pads: dict[int, Sequence[Any]], merge_size: int) -> list[tuple[list[int], list[list[int]]]]:
    """vLLM's prompt update for images (every family) and Qwen2.5-VL videos, as :func:`expand_placeholders` takes
    it: the i-th occurrence of each pad token (token id → its items' grids ``(t, h, w)``) becomes ``t·h·w /
    merge_size²`` pads (``get_replacement_qwen2vl``, the bare pad as target: vLLM 0.31 ``qwen2_5_vl.py``
    L1280-1284; ``qwen3_vl.py`` L1611-1615 for images)."""
    return [
        ([token], [[token] * (int(t) * int(h) * int(w) // merge_size**2) for t, h, w in grids])
        for token, grids in pads.items()
    ]


def expand_vision_pads(ids: Sequence[int], pads: dict[int, Sequence[Any]], merge_size: int) -> list[int]:
    """``ids`` with every pad expanded as vLLM expands it (:func:`pad_updates`)."""
    return expand_placeholders(ids, pad_updates(pads, merge_size))


def vllm_video_target(processor: Any) -> str:
    """What the installed vLLM replaces with a timestamped (Qwen3-VL, Qwen3.5) video's groups.

    ``wrapped``: the chat text's whole ``<|vision_start|><|video_pad|><|vision_end|>``, so the outer pair that HF's
    processor keeps is dropped (vllm-project/vllm#46817): vLLM 0.22-0.25 (``qwen3_vl.py`` ``_get_prompt_updates``,
    0.22.0 L1428-1432). ``pad``: the bare ``<|video_pad|>``, keeping the pair as HF does: vLLM ≥ 0.26 when the
    processor class overrides ``replace_video_token`` (transformers ≥ 5.10; ``_expands_only_video_token``, 0.26.0
    L1231-1237, 0.31.0 L1320-1326 and L1599-1608). Asked of vLLM's own test, so the answer follows the installed
    version; :class:`OwnRequests` checks the prompt vLLM reports either way.
    """
    from vllm.model_executor.models.qwen3_vl import Qwen3VLMultiModalProcessor

    probe = getattr(Qwen3VLMultiModalProcessor, "_expands_only_video_token", None)
    return "pad" if probe is not None and probe(processor) else "wrapped"


class OwnRequests:
    """Stands in for the vLLM engine during one rollout call: trl's requests (pre-expanded ids, images only) are
    swapped for this batch's own, after checking they are the same rows in the same order.

    vLLM reports each prompt as it expanded it (``RequestOutput.prompt_token_ids``, the processed prompt); one that
    is neither the loss pass's ids nor the request's own (nothing expanded) means this vLLM expands placeholders
    otherwise than the request assumed (vllm-project/vllm#46817), and the rollout is refused rather than trained on."""

    def __init__(self, engine: Any, requests: Sequence[dict[str, Any]], prompt_ids: Sequence[Sequence[int]]):
        self.engine, self.requests, self.prompt_ids = engine, list(requests), [list(ids) for ids in prompt_ids]

    def generate(self, prompts: Sequence[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        ids = [list(p["prompt_token_ids"]) for p in prompts]
        if ids != self.prompt_ids:
            raise RuntimeError(f"vLLM was asked for {len(ids)} prompts that are not this batch's {len(self.requests)}")
        outputs = self.engine.generate(self.requests, *args, **kwargs)
        for k, (output, request, expected) in enumerate(zip(outputs, self.requests, self.prompt_ids, strict=True)):
            seen = list(output.prompt_token_ids)
            if seen != expected and seen != list(request["prompt_token_ids"]):
                at = next((i for i, (a, b) in enumerate(zip(seen, expected, strict=False)) if a != b), None)
                raise RuntimeError(
                    f"vLLM expanded rollout prompt {k} to {len(seen)} tokens, the loss pass has {len(expected)} "
                    f"(first difference at token {min(len(seen), len(expected)) if at is None else at}): this vLLM "
                    "expands vision placeholders otherwise than the request assumed (vllm-project/vllm#46817)"
                )
        return outputs

    def __getattr__(self, name: str) -> Any:  # sleep, wake_up, weight sync, prefix cache: the engine's own
        return getattr(self.engine, name)


def same_value(a: Any, b: Any) -> bool:
    """Whether two row values are equal: PIL images by mode, size and pixels (``Image.__eq__``), arrays and tensors
    element-wise, containers item by item, anything else by ``==``."""
    if a is b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if hasattr(a, "shape") or hasattr(b, "shape"):  # numpy arrays
        import numpy as np

        return np.array_equal(a, b)
    return type(a) is type(b) and bool(a == b)


def once_per_copies(rows: Sequence[dict[str, Any]], fn: Any) -> list[Any]:
    """``fn(row)`` for every row, computed once per run of consecutive equal rows and shared by the run (do not
    modify what it returns in place)."""
    out: list[Any] = []
    for i, row in enumerate(rows):
        out.append(out[-1] if i and same_value(rows[i - 1], row) else fn(row))
    return out


@dataclass
class ScreenedGroup:
    """One group as dynamic sampling screened it: its rows (prompt parts inlined), encoded vision rows, what
    ``_generate`` returned for them and their local reward rows (whether they vary is in ``zero_by_process``)."""

    inputs: list[dict[str, Any]]
    rows: list[dict[str, torch.Tensor]]
    generated: tuple
    rewards: torch.Tensor


def slice_generated(generated: tuple, index: Sequence[int]) -> tuple:
    """``_generate``'s result restricted to the rows ``index``. trl 1.16 returns (prompt ids, completion ids, tool
    mask, completions, sampling logprobs, extra fields, images, tool images): one entry per row, or None / [] when
    absent, except the extra fields (a dict, empty without a ``rollout_func``)."""
    if generated[5]:
        raise ConfigError("dynamic sampling cannot replay a rollout_func's extra fields")
    return tuple(
        {} if i == 5 else value if not value else [value[j] for j in index] for i, value in enumerate(generated)
    )


def join_generated(parts: Sequence[tuple]) -> tuple:
    """``_generate`` results of consecutive row runs, as one."""
    out = []
    for i in range(len(parts[0])):
        values = [part[i] for part in parts]
        if i == 5:
            out.append({})
        elif all(not v for v in values):
            out.append(values[0])
        elif not all(values):
            raise RuntimeError(f"rollout field {i} is per row in some draws and absent in others")
        else:
            out.append([x for v in values for x in v])
    return tuple(out)


class VideoGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose log-prob forwards receive the video tensors of video rows, which tallies zero-variance
    groups, optionally samples dynamically and hands vLLM video rows (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        text_before_video: bool = False,
        video_fps: float = 2.0,
        video_in_loss: bool = True,
        image_resize: str = "once",
        dynamic_sampling: bool = False,
        max_draws: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.text_before_video = text_before_video
        self.video_fps = video_fps
        self.video_in_loss = video_in_loss
        self.image_resize = image_resize
        self.dynamic_sampling = dynamic_sampling
        self.max_draws = max_draws
        self._active_rows: list[dict[str, torch.Tensor]] | None = None
        self._active_requests: list[dict[str, Any]] | None = None
        self._replay: tuple[tuple, torch.Tensor] | None = None
        self._tally = GroupTally()
        self._last_zero: list[bool] = []
        config = self.model.config
        self.family = family_for(config)
        self._video_time = self.family.video_time
        self._vllm_video_target: str | None = None
        self._image_token_id = getattr(config, "image_token_id", None)
        self._video_token_id = getattr(config, "video_token_id", None)
        self._vision_start_id = getattr(config, "vision_start_token_id", None)
        self._vision_end_id = getattr(config, "vision_end_token_id", None)
        if not self.use_vllm and self._video_token_id is not None:
            suppress = sorted({*(self.generation_config.suppress_tokens or []), self._video_token_id})
            self.generation_config.suppress_tokens = suppress
            self.generation_kwargs["suppress_tokens"] = suppress

    @contextmanager
    def _rows_in_use(
        self, rows: list[dict[str, torch.Tensor]], requests: list[dict[str, Any]] | None = None
    ) -> Iterator[None]:
        self._active_rows, self._active_requests = rows, requests
        try:
            yield
        finally:
            self._active_rows, self._active_requests = None, None

    def _own_rows(self, inputs: list[dict[str, Any]]) -> tuple[list, list, list | None]:
        """Rows with their vision inlined, their encoded ids and tensors, and (under vLLM) their vLLM requests; each
        prompt is encoded once and its tensors and request shared by its consecutive copies (trl's sampler hands
        every prompt ``num_generations`` times in a row)."""

        def own(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any] | None]:
            inlined = self._inline_vision(row)
            encoded = self._encode_row(inlined["prompt"])
            return inlined, encoded, self._vllm_request(inlined["prompt"], encoded) if self.use_vllm else None

        owned = once_per_copies(inputs, own)
        requests = [request for _, _, request in owned] if self.use_vllm else None
        return [{**inlined} for inlined, _, _ in owned], [encoded for _, encoded, _ in owned], requests

    def _inline_vision(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with its images and video as parts of the prompt, and no ``image``/``images`` column."""
        images = row.get("images") or ([row["image"]] if row.get("image") is not None else [])
        prompt = prepare_multimodal_messages(row["prompt"], images=list(images))
        if row.get(VIDEO_COLUMN):
            prompt = with_video_part(prompt, row[VIDEO_COLUMN], self.text_before_video, row_capture_times(row))
        return {**{k: v for k, v in row.items() if k not in ("image", "images")}, "prompt": prompt}

    def _encode_row(self, prompt: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """One row's prompt ids and vision tensors, tokenised as trl's rollout does; videos timed as the family
        tells time (``spatialladder.media.video_processor_kwargs``: at ``video_fps``, or their capture times and no
        resampling), exactly as the SFT collator times them."""
        kwargs = dict(self.chat_template_kwargs)
        video = video_processor_kwargs(self._video_time, video_parts(prompt), self.video_fps)
        if video:
            kwargs["processor_kwargs"] = {**kwargs.get("processor_kwargs", {}), **video}
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
        mode = "train" if self.model.training else "eval"
        if self.image_resize == "official":
            inputs = [{**x} for x in once_per_copies(inputs, self._pre_resized)]
        if self.dynamic_sampling and mode == "train":
            output = self._dynamic_batch(inputs)
        elif not self._encodes_itself(inputs):
            output = super()._generate_and_score_completions(inputs)
        else:
            inputs, rows, requests = self._own_rows(inputs)
            with self._rows_in_use(rows, requests):
                output = super()._generate_and_score_completions(inputs)
            output[ROW_VISION_KEY] = rows
        self._tally.flush(self._metrics[mode])
        return output

    def _encodes_itself(self, inputs: list[dict[str, Any]]) -> bool:
        """Whether this class tokenises the batch rather than trl: any video row, and under vLLM any image too
        (trl 1.16 hands vLLM processor-expanded ids, which vLLM expands again, and no pixel budget: trl#6294)."""
        if any(x.get(VIDEO_COLUMN) for x in inputs):
            return True
        return self.use_vllm and any(x.get("images") or x.get("image") is not None for x in inputs)

    def _calculate_rewards(self, inputs: list, prompts: list, completions: list, completion_ids_list: list) -> Any:
        """trl's rewards (gathered over processes), with every group's zero-variance flag tallied per modality;
        while a screened batch is replayed, the rewards screening computed."""
        if self._replay is not None:
            return gather(self._replay[1].to(self.accelerator.device))
        scores = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        size = self.num_generations if self.model.training else self.num_generations_eval
        self._last_zero = zero_variance_groups(scores, self.reward_weights, size)
        self._tally.add(gather_object([x.get("data_type") for x in inputs])[::size], self._last_zero)
        return scores

    def _generate(self, prompts: list) -> tuple:
        if self._replay is None:
            return super()._generate(prompts)
        generated = self._replay[0]
        if len(generated[1]) != len(prompts):
            raise RuntimeError(f"{len(generated[1])} screened rollouts replayed for {len(prompts)} prompts")
        return generated

    def _dynamic_batch(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """DAPO's dynamic sampling: screen trl's batch and further draws until every process has ``len(inputs)`` rows
        of groups with varying rewards (or ``max_draws`` more batches were drawn), then score exactly those."""
        size = self.num_generations
        if len(inputs) % size:
            raise ConfigError(
                f"dynamic sampling keeps or drops whole groups, so each process's generation batch ({len(inputs)}) "
                f"must be a multiple of sampling.num_generations ({size})"
            )
        quota, processes = len(inputs) // size, self.accelerator.num_processes
        groups: list[ScreenedGroup] = []
        zero_by_process: list[list[bool]] = [[] for _ in range(processes)]
        batch, draws = inputs, 0
        while True:
            groups += self._screen(batch, size, zero_by_process)
            short = any(sum(not z for z in flags) < quota for flags in zero_by_process)
            if not short or draws == self.max_draws:
                break
            batch = self._draw_prompts(quota, draws)
            draws += 1
        chosen_by_process = [choose_groups(flags, quota) for flags in zero_by_process]
        zero_kept = sum(
            flags[i] for flags, chosen in zip(zero_by_process, chosen_by_process, strict=True) for i in chosen
        )
        zero_total = sum(sum(flags) for flags in zero_by_process)
        metrics = self._metrics["train"]
        metrics[PROMPTS_DRAWN_KEY].append(float(draws * quota * processes))
        metrics[DROPPED_KEY].append(float(zero_total - zero_kept))
        metrics[KEPT_KEY].append(float(zero_kept))
        metrics[HIT_CAP_KEY].append(float(short))
        kept = [groups[i] for i in chosen_by_process[self.accelerator.process_index]]
        rows = [row for g in kept for row in g.rows]
        self._pending_extra_logs.clear()  # reward-logged columns of screened rows no longer match the batch
        self._replay = (join_generated([g.generated for g in kept]), torch.cat([g.rewards for g in kept]))
        try:
            with self._rows_in_use(rows):
                output = super()._generate_and_score_completions([x for g in kept for x in g.inputs])
        finally:
            self._replay = None
        output[ROW_VISION_KEY] = rows
        return output

    def _screen(self, batch: list[dict[str, Any]], size: int, zero_by_process: list[list[bool]]) -> list[ScreenedGroup]:
        """Rollouts and rewards of ``batch`` (no log-prob passes); every process's zero flags go to
        ``zero_by_process``, this process's groups are returned."""
        inputs, rows, requests = self._own_rows(batch)
        prompts = [x["prompt"] for x in inputs]
        with self._rows_in_use(rows, requests):
            generated = self._generate(prompts)
        scores = self._calculate_rewards(inputs, prompts, generated[3], generated[1])
        per_process = len(self._last_zero) // len(zero_by_process)
        for p, flags in enumerate(zero_by_process):
            flags += self._last_zero[p * per_process : (p + 1) * per_process]
        me = self.accelerator.process_index
        local = scores[me * len(inputs) : (me + 1) * len(inputs)].cpu()
        return [
            ScreenedGroup(
                inputs=inputs[g * size : (g + 1) * size],
                rows=rows[g * size : (g + 1) * size],
                generated=slice_generated(generated, range(g * size, (g + 1) * size)),
                rewards=local[g * size : (g + 1) * size],
            )
            for g in range(len(inputs) // size)
        ]

    def _draw_prompts(self, count: int, draw: int) -> list[dict[str, Any]]:
        """``count`` further prompts, each repeated ``num_generations`` times as trl's sampler does; drawn without
        replacement by a generator seeded with (seed, step, process, draw), so a resumed run draws the same."""
        dataset = self.train_dataset
        if not hasattr(dataset, "__getitem__"):
            raise ConfigError("dynamic sampling draws prompts by index; the training dataset must be indexable")
        rng = random.Random(f"{self.args.seed}/{self.state.global_step}/{self.accelerator.process_index}/{draw}")
        n = len(dataset)
        picks = rng.sample(range(n), count) if n >= count else [rng.randrange(n) for _ in range(count)]
        rows = [dataset[i] for i in picks]
        if self.image_resize == "official":
            rows = [self._pre_resized(x) for x in rows]  # each drawn once, repeated below
        return [dict(row) for row in rows for _ in range(self.num_generations)]

    def _tokenize_prompts(self, prompts: list) -> tuple:
        """In a batch this class encodes (:meth:`_encodes_itself`): the rows' own ids and vision tensors (no image
        list, so trl builds no image-only forward kwargs of its own); other batches are tokenised by trl."""
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

    def _generate_single_turn(
        self,
        prompt_ids: list,
        images: Any,
        multimodal_fields: dict,
        num_generations: int,
        has_tool_images: bool = False,
    ) -> tuple:
        """Under vLLM, a batch this class encoded goes to the engine as its own requests (see :class:`OwnRequests`);
        with ``generate``, the call runs in one autocast region where that saves weight casts
        (:meth:`_rollout_autocast`)."""
        if not self.use_vllm:
            with self._rollout_autocast():
                return super()._generate_single_turn(
                    prompt_ids, images, multimodal_fields, num_generations, has_tool_images
                )
        self._suppress_pads_in_vllm()
        if self._active_requests is None:
            return super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images
            )
        engine = self.vllm_generation.llm
        self.vllm_generation.llm = OwnRequests(engine, self._active_requests, prompt_ids)
        try:
            return super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images
            )
        finally:
            self.vllm_generation.llm = engine

    def _rollout_autocast(self) -> AbstractContextManager:
        """One autocast region (the launch's own: ``Accelerator.autocast``, cast cache on) around an HF rollout whose
        trainable weights are fp32 in a mixed-precision launch (fp32 master weights, ``train/sharding.py``), so each
        weight is cast to bf16 once per ``generate`` call instead of once per generated token; else nothing.

        accelerate wraps the prepared model's ``forward`` in ``torch.autocast``, entered and left at every call
        (``accelerate/accelerator.py`` ``prepare_model``, ``native_amp``), and torch keeps its casts of fp32 leaf
        tensors that require grad only until the outermost autocast region exits (``aten/src/ATen/autocast_mode.cpp``
        ``cached_cast``; ``torch/amp/autocast_mode.py`` ``__exit__`` clears the cache at nesting 0). So every decode
        step of trl's ``unwrapped_model.generate`` (``GRPOTrainer._generate_single_turn``) re-cast every weight: per
        parameter per token, 4 B read + 2 B written + 2 B read instead of 2 B read (docs/benchmarks.md, "GRPO HF
        rollouts with fp32 master weights"). Inside this region the per-forward ones nest, and the casts, the same
        bf16 values, live until ``generate`` returns: +2 B per trainable parameter (7.5 GB for the 3B) for the call.
        trl generates at the start of an accumulation cycle, after the previous optimizer step's ``model.zero_grad()``
        (transformers ``Trainer``) freed the fp32 gradients (4 B per trainable parameter), so this sits in their place.

        The region also covers the vision encoding, which transformers 5's ``generate`` runs before the prefill and
        outside the wrapped forward (``GenerationMixin._prepare_multimodal_encoder_kwargs_for_generation`` calls
        ``get_image_features``/``get_video_features``): with fp32 master weights it ran in fp32; now in bf16, as in the
        loss pass. DeepSpeed (no native autocast) and FSDP2 (its ``MixedPrecisionPolicy`` hands the forward bf16
        unsharded parameters) never cast fp32 weights here: nothing changes there."""
        from accelerate.utils import AutocastKwargs, DistributedType

        accelerator = self.accelerator
        if not accelerator.native_amp or accelerator.distributed_type in (
            DistributedType.DEEPSPEED,
            DistributedType.FSDP,
        ):
            return nullcontext()
        if not any(p.requires_grad and p.dtype == torch.float32 for p in self.model.parameters()):
            return nullcontext()
        return accelerator.autocast(AutocastKwargs(cache_enabled=True))

    def _suppress_pads_in_vllm(self) -> None:
        """The vLLM counterpart of the HF path's ``suppress_tokens``: vision pads get the lowest logit bias."""
        kwargs = self.vllm_generation.generation_kwargs
        pads = [t for t in (self._image_token_id, self._video_token_id) if t is not None]
        kwargs["logit_bias"] = {**(kwargs.get("logit_bias") or {}), **dict.fromkeys(pads, VLLM_PAD_BIAS)}

    def _vllm_request(self, prompt: list[dict[str, Any]], row: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One row as a vLLM request: the chat text's token ids with one placeholder per image/video (vLLM expands
        them), the images and the video (:func:`vllm_video`, with the metadata the loss pass gave the processor),
        and the processor's pixel budget; the ids expanded as vLLM will (:meth:`_vllm_expanded`) must equal the ids
        of the loss pass (``row``)."""
        parts = [part for message in prompt if isinstance(message["content"], list) for part in message["content"]]
        images = [part["image"] for part in parts if part.get("type") == "image"]
        videos = video_parts(prompt)
        text = self.processing_class.apply_chat_template(
            conversation=[prompt],
            chat_template=self.chat_template,
            add_generation_prompt=True,
            tokenize=False,
            **{k: v for k, v in self.chat_template_kwargs.items() if k != "processor_kwargs"},
        )
        ids = self._tokenizer(text[0] if isinstance(text, list) else text, add_special_tokens=False)["input_ids"]
        metas = [
            frame_list_metadata(self._video_time, len(p[VIDEO_COLUMN]), self.video_fps, CaptureTimes.of_part(p))
            for p in videos
        ]
        ids, expanded = self._vllm_expanded(ids, row, len(images), metas)
        if expanded != row[PROMPT_IDS_KEY][0].tolist():
            raise RuntimeError("the vLLM prompt, expanded as vLLM expands it, differs from the loss pass's prompt")
        data: dict[str, Any] = {}
        if images:
            data["image"] = images if len(images) > 1 else images[0]
        if videos:
            items = [vllm_video(p[VIDEO_COLUMN], metadata=meta) for p, meta in zip(videos, metas, strict=True)]
            data["video"] = items if len(items) > 1 else items[0]
        request: dict[str, Any] = {"prompt_token_ids": ids}
        if data:
            request["multi_modal_data"] = data
            frames = [len(p[VIDEO_COLUMN]) for p in videos]
            request["mm_processor_kwargs"] = self._vllm_processor_kwargs(bool(images), frames)
        return request

    def _vllm_expanded(
        self, ids: list[int], row: dict[str, torch.Tensor], num_images: int, metas: list[dict[str, Any]]
    ) -> tuple[list[int], list[int]]:
        """(the request's ids, those ids as vLLM will expand them), from the chat text's ``ids``.

        Images and ``mrope`` videos: each pad becomes its grid's tokens (:func:`expand_vision_pads`). ``timestamps``
        videos: vLLM writes each temporal patch as stamp + ``<|vision_start|>`` + pads + ``<|vision_end|>``
        (:func:`spatialladder.media.timestamped_video_ids`, stamps from the same metadata the loss pass used) in
        place of its target (:func:`vllm_video_target`). Where that target is the whole wrapped placeholder, the
        request carries one more ``<|vision_start|>``/``<|vision_end|>`` around it, so what vLLM builds keeps the
        outer pair HF's processor keeps (vllm-project/vllm#46817)."""
        merge = self.processing_class.image_processor.merge_size
        pads = {self._image_token_id: row["image_grid_thw"].tolist()} if num_images else {}
        grids = row["video_grid_thw"].tolist() if metas else []
        if not metas or self._video_time == "mrope":
            return ids, expand_vision_pads(ids, {**pads, **({self._video_token_id: grids} if metas else {})}, merge)
        start, pad, end = self._vision_start_id, self._video_token_id, self._vision_end_id
        temporal = self.processing_class.video_processor.temporal_patch_size
        blocks = []
        for meta, (t, h, w) in zip(metas, grids, strict=True):
            stamps = frame_stamps(meta, temporal)
            if len(stamps) != t:
                raise RuntimeError(f"{len(stamps)} stamps for a video of {t} temporal patches")
            blocks.append(timestamped_video_ids(stamps, h * w // merge**2, self._stamp_ids, start, pad, end))
        if self._vllm_video_target is None:
            self._vllm_video_target = vllm_video_target(self.processing_class)
        target = [pad]
        if self._vllm_video_target == "wrapped":
            target = [start, pad, end]
            ids = expand_placeholders(ids, [(target, [[start, *target, end]] * len(metas))])
        return ids, expand_placeholders(ids, [*pad_updates(pads, merge), (target, blocks)])

    def _stamp_ids(self, text: str) -> list[int]:
        """A stamp's tokens, tokenised on its own as vLLM does (``tokenizer.encode(..., add_special_tokens=False)``)."""
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    def _vllm_processor_kwargs(self, images: bool, video_frames: Sequence[int]) -> dict[str, Any]:
        """What vLLM passes to the same transformers processor at call time so it resizes as ours does: the pixel
        bounds (``size``) and, for videos, the per-frame cap and no frame resampling (``models/load.py``).

        A Qwen3 family's video processor reads ``size`` over all frames and caps a frame at its *own*
        ``max_video_tokens`` attribute (``Qwen3VLVideoProcessor.resize``; a call-time value does not reach it), which
        the loader set to ``model.max_pixels`` per frame. vLLM's copy of the processor has the checkpoint's, so its
        ``size`` is made exactly this video's frames × the per-frame budget: the same per-frame pixels either way.
        That size differs from the image processor's, so a row with both (none of our record kinds) is refused, as
        differing budgets always were."""
        processor = self.processing_class
        parts = [processor.image_processor] * images + [processor.video_processor] * bool(video_frames)
        sizes = [{k: v for k, v in dict(part.size).items() if v is not None} for part in parts]
        if video_frames and self.family.video_size_is_whole_video:
            if len(set(video_frames)) > 1:
                raise ConfigError(f"a row's videos need one frame count under vLLM, not {list(video_frames)}")
            video, n = processor.video_processor, video_frames[0]
            per_frame = min(video.max_video_tokens * self.family.token_pixels, video.size["longest_edge"] // n)
            sizes[-1] = {**sizes[-1], "longest_edge": per_frame * n}
        if any(size != sizes[0] for size in sizes):
            raise ConfigError(f"a row with images and a video needs one pixel budget for both under vLLM, not {sizes}")
        out: dict[str, Any] = {"size": sizes[0]}
        if video_frames:
            out["do_sample_frames"] = False
            cap = getattr(processor.video_processor, "cap_pixels_per_frame", None)
            if cap is not None:
                out["cap_pixels_per_frame"] = cap
        return out

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
        for key in self.family.vision_inputs if self.video_in_loss else IMAGE_KEYS:
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
        """``mm_token_type_ids`` as every family's processor builds them (``ProcessorMixin.create_mm_token_type_ids``,
        transformers 5.24 ``processing_utils.py`` 996-1024): 1 on image pads, 2 on video pads, 0 elsewhere — also on
        Qwen3-VL's timestamp text and the ``<|vision_start|>``/``<|vision_end|>`` around each frame group."""
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
