"""Qwen2.5-VL, the paper's base (SpatialLadder-3B is Qwen2.5-VL-3B-Instruct).

- patch 14, merge 2: factor 28 (``Qwen2_5_VLVisionConfig``: ``patch_size=14``, ``spatial_merge_size=2``);
- boxes in absolute pixels of the resized image (Qwen2.5-VL technical report §2.2 "absolute coordinates"; the
  official stage-1 script rescales to the smart-resized frame: ``models/boxes.py`` ``rescale_box``);
- video time through mRoPE: ``second_per_grid_ts`` = temporal patch / fps (``Qwen2_5_VLModel.get_rope_index``);
- eval: the official SpatialLadder protocol (LANCZOS pre-resize, qwen-vl-utils, the processor: ``eval/inputs.py``).
"""

from __future__ import annotations

from spatialladder.models.families.base import ModelFamily

FAMILY = ModelFamily(
    name="qwen2.5-vl",
    model_types=("qwen2_5_vl",),
    patch_size=14,
    box_convention="absolute",
    video_time="mrope",
    eval_protocol="official",
    requires_mm_token_type_ids=False,
    enable_thinking=None,  # the template has no thinking flag
    hub_examples=("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"),
)
