"""Qwen3.5 (dense 0.8B-27B, MoE), natively multimodal: Qwen3-VL's processor and positions on a hybrid text stack.

- ``AutoProcessor`` maps ``qwen3_5`` to ``Qwen3VLProcessor`` (``transformers/models/auto/processing_auto.py``), so
  patch 16 / factor 32 and the textual video timestamps are Qwen3-VL's;
- boxes: Qwen3-VL's [0, 1000] convention (no Qwen3.5 grounding card; Qwen staff say later Qwen3.x models keep it,
  QwenLM/Qwen3.8-Flash-Next#4 — recorded in docs/fidelity.md);
- the class to load is ``AutoModelForImageTextToText``: ``AutoModelForCausalLM`` maps ``qwen3_5`` to the text-only
  ``Qwen3_5ForCausalLM`` and drops the vision tower;
- the chat template renders ``<think>…</think>`` on the assistant turn (``qwen3_5_nothink.jinja`` lines 100-101 in
  trl's copy: for every assistant turn after the last user query) and ends the generation prompt with
  ``<think>\n\n</think>\n\n`` when ``enable_thinking`` is false (lines 147-153); 0.8B/2B ship that as the default,
  ≥ 4B think by default (``qwen3_5_think.jinja``; ``trl/chat_templates/README.md``). Every stage renders with
  ``enable_thinking=False``: the empty think block is prompt, our targets (CoT format included) follow it;
- 3 Gated DeltaNet (linear attention) layers per full-attention layer: flash-linear-attention / causal-conv1d on
  GPU (the ``qwen3.5`` extra), and padded rows only: transformers 5.24 keeps packed rows apart in those layers
  neither without the kernels nor with them (``train/trl_args.py`` ``check_padding_free_runtime``);
- eval as lmms-eval's ``qwen3_5`` wrapper feeds it (``eval/inputs.py``).
"""

from __future__ import annotations

from spatialladder.models.families.base import ModelFamily

FAMILY = ModelFamily(
    name="qwen3.5",
    model_types=("qwen3_5", "qwen3_5_moe"),
    patch_size=16,
    box_convention="relative1000",
    video_time="timestamps",
    video_size_is_whole_video=True,
    eval_protocol="lmms-eval-qwen3_5",
    thinks=True,
    enable_thinking=False,
    linear_attention=True,
    hub_examples=("Qwen/Qwen3.5-0.8B", "Qwen/Qwen3.5-2B", "Qwen/Qwen3.5-4B"),
)
