"""Optional vLLM backend (``backend: vllm``) for GPU nodes, written against vLLM's documented offline API.

``LLM(model=…, limit_mm_per_prompt=…, mm_processor_kwargs=…)`` once, then ``LLM.generate`` on prompts built by the
model's own chat template with ``multi_modal_data`` (PIL images, and videos as ``(T, H, W, 3)`` uint8 arrays of the
frames we already sampled). Greedy is ``SamplingParams(temperature=0)``. Same messages, frames and pixel budget as
the ``hf`` backend, so only kernel numerics differ; predictions are not expected to be bit-identical across backends.
It needs the ``vllm`` package and a CUDA GPU; without either it stops with a ConfigError saying so.
vLLM does not return the vision grids it used; the grids recorded per prediction are the processor's resize rule
for the family at the configured pixel bounds (``inputs.predicted_grid``), and under the official and lmms-eval
input protocols the frames qwen-vl-utils returns are uint8 (rounded once per video where its resize left fractions),
the only video form vLLM takes.

Video time per family, as on the ``hf`` backend: Qwen2.5-VL's frames are declared at ``video_fps`` (its
``second_per_grid_ts``); Qwen3-VL's and Qwen3.5's carry the file's own metadata (its fps, the indices sampled, its
frame count), from which vLLM's processor writes the ``<t seconds>`` stamps; never resampled. The lmms-eval
protocols add the chat-template arguments (Qwen3.5's ``enable_thinking``), ``do_resize=False`` to the engine's
processor arguments instead of pixel bounds, and cut the think block from the answer (not run here: no vLLM).

One encoding per video (``share_video_prefix``, on by default): the engine is built with
``enable_prefix_caching=True`` and ``predict_shard`` hands over a video's questions one batch after another. Every
question on a video gets the same frames (the one array of the frame cache, or its identical uint8 rounding), so
vLLM's multimodal hash of the video, hence the hashes of the prompt blocks holding it, are equal across questions:
after the first question the video's prompt blocks come from the prefix cache, the processed video from the
multimodal processor cache. Off: the engine gets vLLM's own default and questions come in benchmark order.

Blind runs (``blind``): requests are the prompt alone, no ``multi_modal_data``, and the engine allows no image and
no video per prompt (``limit_mm_per_prompt`` 0 for both: vLLM's ``docs/configuration/conserving_memory.md``, "disable
unused modalities completely by setting its limit to zero"; with every modality at 0 vLLM runs the language model
only, so the vision encoder is neither profiled nor called).

Several processes (``accelerate launch`` / ``torchrun``): each rank runs one engine on its own GPU, as trl colocates
one per training rank (:func:`engine_placement`); every rank builds its engine when any rank has questions left
(``predict_shard``), since the engines' start-up is collective.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from typing import Any

from spatialladder.config.eval import EvalConfig
from spatialladder.errors import ConfigError
from spatialladder.eval.generation import Generation
from spatialladder.eval.inputs import as_uint8_frames, predicted_grid
from spatialladder.eval.messages import resolve_protocol, video_metadata_of, vision_inputs
from spatialladder.media import vllm_video


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


def engine_placement() -> tuple[dict[str, Any], dict[str, str]]:
    """The ``vllm.LLM`` arguments and launcher variables that put this process's engine on this process's GPU.

    One process: vLLM's own executor on the visible GPU, seed 0. Several: what trl 1.16 does to colocate one engine
    per rank (``trl/generation/vllm_generation.py``, ``VLLMGeneration._init_vllm``, mode ``"colocate"``):
    ``distributed_executor_backend="external_launcher"`` runs the engine inside this process, on ``cuda:LOCAL_RANK``
    (vLLM's ``ExecutorWithExternalLauncher._distributed_args`` reads ``RANK`` and ``LOCAL_RANK`` from the
    environment, so trl sets ``RANK`` / ``LOCAL_RANK`` / ``WORLD_SIZE`` there), in the process group the launch
    already has (``run_eval``'s first barrier made it), one seed per rank (``process_index // tensor_parallel_size``,
    tensor parallel 1 here). Without it every engine runs vLLM's default executor, whose worker takes device index
    0 unless one is configured (``vllm/v1/executor/uniproc_executor.py``, ``UniProcExecutor._distributed_args``):
    the first visible GPU, where the second engine fails vLLM's free-memory check. Each rank is vLLM's "external
    data parallel" replica (``vllm/distributed/parallel_state.py``, ``initialize_model_parallel``: "every dp rank
    can generate independently"), so the ranks need not call ``generate`` in step, but they start together: the
    start-up makes vLLM's process groups (``torch.distributed.new_group`` on every rank) and all-reduces the free
    memory (``ExecutorWithExternalLauncher.determine_available_memory``).
    """
    from spatialladder import distributed

    world = distributed.world_size()
    if world == 1:
        return {"seed": 0}, {}
    rank = distributed.rank()
    env = {"RANK": str(rank), "LOCAL_RANK": str(distributed.local_rank()), "WORLD_SIZE": str(world)}
    return {"distributed_executor_backend": "external_launcher", "seed": rank}, env


def mm_limits(max_images: int, video: bool, *, blind: bool = False) -> dict[str, int]:
    """vLLM's ``limit_mm_per_prompt``: at least one image (profiling needs a modality) and one video when any
    question has one; blind: 0 of each (text only)."""
    if blind:
        return {"image": 0, "video": 0}
    return {"image": max(max_images, 1), "video": 1 if video else 0}


class VLLMGenerator:
    """Batched generation with vLLM; called like ``HFGenerator`` with ``(messages, images, videos)`` triples."""

    def __init__(self, cfg: EvalConfig, *, max_images: int, video: bool):
        """``max_images`` / ``video``: what one prompt may carry; a blind run passes 0 and False (no modality)."""
        vllm = require_vllm()
        from spatialladder.models.load import load_processor, model_family, resolve_source

        source = resolve_source(cfg.model.name_or_path)
        family = model_family(source)
        cfg = resolve_protocol(cfg, family)
        self.inputs = vision_inputs(cfg, family)
        self.processor = load_processor(source, cfg.model, family)
        pixels = {k: v for k, v in (("min_pixels", cfg.model.min_pixels), ("max_pixels", cfg.model.max_pixels)) if v}
        if self.inputs.lmms is not None:  # frames and images come sized by qwen-vl-utils (inputs.py)
            pixels = {"do_resize": False}
        elif video and family.video_size_is_whole_video:
            # vLLM's copy of the processor reads max_pixels over all of a video's frames and caps a frame at the
            # checkpoint's max_video_tokens (a call-time value does not reach Qwen3VLVideoProcessor.resize), while
            # ``model.max_pixels`` is per frame (models/load.py): the two backends would see other frames
            raise ConfigError(
                f"backend vllm with input_protocol {cfg.input_protocol} resizes a {family.name} video by another "
                f"budget than backend hf; use input_protocol {family.eval_protocol} (the family's) or backend hf"
            )
        size = self.processor.image_processor.size
        self.bounds = {"min_pixels": size["shortest_edge"], "max_pixels": size["longest_edge"]}
        self.grid_rule = {"patch_size": family.patch_size, "resize": self.inputs.lmms is None}
        engine: dict[str, Any] = {"enable_prefix_caching": True} if cfg.share_video_prefix else {}
        placement, launcher_env = engine_placement()
        os.environ.update(launcher_env)  # read by vLLM's external launcher (trl sets the same three)
        self.llm = vllm.LLM(
            model=source,
            dtype=cfg.model.dtype,
            limit_mm_per_prompt=mm_limits(max_images, video, blind=cfg.blind),
            mm_processor_kwargs=pixels,
            **placement,
            **engine,
        )
        self.video_fps = cfg.video_fps
        gen = cfg.generation
        self.params = vllm.SamplingParams(
            temperature=gen.temperature if gen.do_sample else 0.0,
            top_p=gen.top_p if gen.do_sample else 1.0,
            repetition_penalty=gen.repetition_penalty,
            max_tokens=cfg.resolved_max_new_tokens(),
        )

    def __call__(
        self, batch: Sequence[tuple[list, list, list]], video_keys: Sequence[Hashable] | None = None
    ) -> list[Generation]:
        """One generation per triple; ``video_keys`` (each question's video) need nothing more here: the engine's
        prefix cache finds the shared blocks by hashing the prompt and the video."""
        requests, grids = [], []
        template = self.inputs.template_kwargs
        for messages, images, videos in batch:
            prompt = self.processor.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, **template
            )
            data: dict[str, Any] = {}
            if images:
                data["image"] = images if len(images) > 1 else images[0]
            frames = [as_uint8_frames(v) for v in videos]  # build_message gives (T, H, W, 3) uint8 already
            if frames:
                data["video"] = self.video(frames[0], video_metadata_of(messages))
            requests.append({"prompt": prompt, "multi_modal_data": data} if data else {"prompt": prompt})
            grids.append(
                {
                    "image_grid_thw": [
                        predicted_grid(im.height, im.width, None, **self.bounds, **self.grid_rule) for im in images
                    ],
                    "video_grid_thw": [
                        predicted_grid(*f.shape[1:3], len(f), **self.bounds, **self.grid_rule) for f in frames
                    ],
                }
            )
        outputs = self.llm.generate(requests, self.params, use_tqdm=False)
        return [Generation(self.inputs.answer(out.outputs[0].text), g) for out, g in zip(outputs, grids, strict=True)]

    def video(self, frames: Any, metadata: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
        """One video with the metadata vLLM's Qwen processors require (``video_needs_metadata``), never resampled:
        the file's own (fps, indices sampled, frame count) for the timestamp families, else the frames declared at
        ``video_fps`` (Qwen2.5-VL's ``second_per_grid_ts``)."""
        if not metadata:
            return vllm_video(frames, self.video_fps)
        (meta,) = metadata
        return frames, {**meta, "duration": meta["total_num_frames"] / meta["fps"], "do_sample_frames": False}
