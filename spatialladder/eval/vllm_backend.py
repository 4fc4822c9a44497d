"""Optional vLLM backend (``backend: vllm``) for GPU nodes, written against vLLM's documented offline API.

``LLM(model=…, limit_mm_per_prompt=…, mm_processor_kwargs=…)`` once, then ``LLM.generate`` on prompts built by the
model's own chat template with ``multi_modal_data`` (PIL images, and videos as ``(T, H, W, 3)`` uint8 arrays of the
frames we already sampled). Greedy is ``SamplingParams(temperature=0)``. Same messages, frames and pixel budget as
the ``hf`` backend, so only kernel numerics differ; predictions are not expected to be bit-identical across backends.
It needs the ``vllm`` package and a CUDA GPU; without either it stops with a ConfigError saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spatialladder.config.eval import EvalConfig
from spatialladder.errors import ConfigError


def require_vllm() -> Any:
    """The imported ``vllm`` module, or a ConfigError naming what is missing (the package or a CUDA GPU)."""
    try:
        import vllm
    except ImportError:
        raise ConfigError(
            "backend 'vllm' needs the vllm package (pip install vllm, on a machine with a CUDA GPU); or use backend: hf"
        ) from None
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("backend 'vllm' needs a CUDA GPU and torch sees none; use backend: hf on this machine")
    return vllm


class VLLMGenerator:
    """Batched generation with vLLM; called like ``HFGenerator`` with ``(messages, images, videos)`` triples."""

    def __init__(self, cfg: EvalConfig, *, max_images: int, video: bool):
        vllm = require_vllm()
        from spatialladder.models.load import load_processor, resolve_source

        source = resolve_source(cfg.model.name_or_path)
        self.processor = load_processor(source, cfg.model)
        pixels = {k: v for k, v in (("min_pixels", cfg.model.min_pixels), ("max_pixels", cfg.model.max_pixels)) if v}
        self.llm = vllm.LLM(
            model=source,
            dtype=cfg.model.dtype,
            limit_mm_per_prompt={"image": max(max_images, 1), "video": 1 if video else 0},
            mm_processor_kwargs=pixels,
            seed=0,
        )
        gen = cfg.generation
        self.params = vllm.SamplingParams(
            temperature=gen.temperature if gen.do_sample else 0.0,
            top_p=gen.top_p if gen.do_sample else 1.0,
            repetition_penalty=gen.repetition_penalty,
            max_tokens=cfg.resolved_max_new_tokens(),
        )

    def __call__(self, batch: Sequence[tuple[list, list, list]]) -> list[str]:
        requests = []
        for messages, images, videos in batch:
            prompt = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            data: dict[str, Any] = {}
            if images:
                data["image"] = images if len(images) > 1 else images[0]
            if videos:
                data["video"] = np.asarray(videos[0], dtype=np.uint8)  # (T, H, W, 3) as read_frames returns
            requests.append({"prompt": prompt, "multi_modal_data": data} if data else {"prompt": prompt})
        outputs = self.llm.generate(requests, self.params, use_tqdm=False)
        return [out.outputs[0].text for out in outputs]
