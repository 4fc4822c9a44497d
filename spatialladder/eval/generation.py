"""Generation with transformers: batched greedy ``generate`` on the loaded model (``backend: hf``).

The vLLM backend (``backend: vllm``) lives in ``eval/vllm_backend.py``; both are called with a batch of
``(messages, images, videos)`` triples from ``eval/messages.py`` and return one :class:`Generation` per triple.
A batch of questions on videos comes with ``video_keys`` naming each question's video; with ``share_video_prefix``
the questions on a video then share its encoding and prompt prefix (``eval/shared_prefix.py``). A blind run
(``blind``) hands over text-only triples: the processor gets no pixels, so the vision tower never runs, and no
shared prefix is built (there is no video to share).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from spatialladder.config.eval import EvalConfig
from spatialladder.distributed import local_rank
from spatialladder.eval.inputs import grids_of
from spatialladder.eval.messages import resolve_protocol, video_metadata_of, vision_inputs
from spatialladder.media import video_metadata

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generation:
    """One output and the vision grids the model saw for it (``{"image_grid_thw": [[t, h, w], …], …}``)."""

    text: str
    grids: dict[str, list[list[int]]]


class HFGenerator:
    """Batched greedy ``generate`` with left padding on the loaded model, fed by the run's input protocol."""

    def __init__(self, cfg: EvalConfig):
        import torch

        from spatialladder.models.load import load_model_and_processor

        loaded = load_model_and_processor(cfg.model)
        cfg = resolve_protocol(cfg, loaded.family)
        self.inputs = vision_inputs(cfg, loaded.family)
        self.device = torch.device(f"cuda:{local_rank()}" if torch.cuda.is_available() else "cpu")
        self.model = loaded.model.to(self.device).eval()
        self.processor = loaded.processor
        self.processor.tokenizer.padding_side = "left"
        self.video_fps = cfg.video_fps
        self.kwargs = generate_kwargs(cfg, self.processor.tokenizer, self.model.generation_config.eos_token_id)
        self.shared = None
        if cfg.share_video_prefix and not cfg.blind:
            from spatialladder.eval.shared_prefix import SharedVideoPrefix

            reason = SharedVideoPrefix.supported(self.model)
            if reason is None:
                self.shared = SharedVideoPrefix(self)
            else:
                logger.warning("share_video_prefix is on but %s: every question is encoded on its own", reason)

    def encode(self, batch: Sequence[tuple[list, list, list]]) -> Any:
        """Processor inputs for a batch of (messages, images, videos), left-padded. Videos are told their times:
        the file's (``video_metadata`` their message items carry: Qwen3-VL, Qwen3.5), else ``video_fps``
        (Qwen2.5-VL's ``second_per_grid_ts``); frames are already sampled, so none is resampled."""
        template = self.inputs.template_kwargs
        texts = [
            self.processor.apply_chat_template(m, tokenize=False, add_generation_prompt=True, **template)
            for m, _, _ in batch
        ]
        images = [img for _, imgs, _ in batch for img in imgs]
        videos = [vid for _, _, vids in batch for vid in vids]
        meta = None
        if videos:
            meta = [item for m, _, _ in batch for item in video_metadata_of(m)]
            if not meta:
                meta = video_metadata([len(v) for v in videos], self.video_fps)
        extra = self.inputs.processor_kwargs(meta) if images or videos else {}
        return self.processor(
            text=texts,
            images=images or None,
            videos=videos or None,
            padding=True,
            return_tensors="pt",
            **extra,
        ).to(self.device)

    def __call__(
        self, batch: Sequence[tuple[list, list, list]], video_keys: Sequence[Hashable] | None = None
    ) -> list[Generation]:
        """One generation per triple; ``video_keys`` (each question's video, when every question is on one video
        and has no images) lets the questions on a video share its encoding and prompt prefix."""
        import torch

        if video_keys is not None and self.shared is not None and self.shared.enabled:
            if all(len(videos) == 1 and not images for _, images, videos in batch):
                out = self.shared(batch, video_keys)
                if out is not None:
                    return out
        inputs = self.encode(batch)
        grids = grids_of(inputs, [len(imgs) for _, imgs, _ in batch], [len(vids) for _, _, vids in batch])
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.kwargs)
        new_tokens = out[:, inputs["input_ids"].shape[1] :]
        texts = self.processor.batch_decode(new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        return [Generation(self.inputs.answer(text), g) for text, g in zip(texts, grids, strict=True)]


def generate_kwargs(cfg: EvalConfig, tokenizer: Any, eos_token_id: Any) -> dict[str, Any]:
    """``generate`` keyword arguments for ``cfg.generation``; ``eos_token_id`` is the checkpoint's, if it has one."""
    kwargs = {
        "max_new_tokens": cfg.resolved_max_new_tokens(),
        "do_sample": cfg.generation.do_sample,
        "repetition_penalty": cfg.generation.repetition_penalty,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": eos_token_id if eos_token_id is not None else tokenizer.eos_token_id,
    }
    if cfg.generation.do_sample:
        kwargs.update(temperature=cfg.generation.temperature, top_p=cfg.generation.top_p)
    else:  # unset sampling knobs so a checkpoint's sampling generation_config cannot leak in
        kwargs.update(temperature=None, top_p=None, top_k=None)
    return kwargs
