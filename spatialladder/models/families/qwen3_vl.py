"""Qwen3-VL (dense 2B/4B/8B/32B, MoE 30B-A3B/235B-A22B).

- patch 16, merge 2: factor 32 (``transformers/models/qwen3_vl/configuration_qwen3_vl.py``: ``patch_size = 16``);
- boxes as integers in [0, 1000] relative to the image, independent of any resize (Qwen3-VL cookbook
  ``cookbooks/2d_grounding.ipynb``; a Qwen team member in QwenLM/Qwen3-VL#1427: scale ground truth to 0-1000),
  rounded as the Qwen team's ``convert_to_qwen2vl_format``: ``round(x / W * 1000)`` clamped to [0, 1000]
  (``qwen-vl-finetune/tools/process_bbox.ipynb``, named for Qwen3-VL in QwenLM/Qwen3-VL#1633; ``models/boxes.py``);
- video time as text: ``Qwen3VLProcessor`` writes ``<{t:.1f} seconds>`` before each temporal patch's tokens, t the
  mean of the patch's two frame times from ``video_metadata`` (``processing_qwen3_vl.py`` ``_calculate_timestamps``);
  the rope's T axis advances by 1 per patch;
- ``get_rope_index`` raises without ``mm_token_type_ids``;
- eval as lmms-eval's ``qwen3_vl`` wrapper feeds it (``eval/inputs.py``).
"""

from __future__ import annotations

from spatialladder.models.families.base import ModelFamily

FAMILY = ModelFamily(
    name="qwen3-vl",
    model_types=("qwen3_vl", "qwen3_vl_moe"),
    patch_size=16,
    box_convention="relative1000",
    video_time="timestamps",
    video_size_is_whole_video=True,
    eval_protocol="lmms-eval-qwen3_vl",
    enable_thinking=None,  # the template has no thinking flag
    hub_examples=("Qwen/Qwen3-VL-2B-Instruct", "Qwen/Qwen3-VL-4B-Instruct", "Qwen/Qwen3-VL-8B-Instruct"),
)
