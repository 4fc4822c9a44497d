"""Stage-1 box targets: grounding boxes in the model family's coordinates, in our encoding or the official one.

The coordinates come from the family (``ModelFamily.box_to_model``, rules in ``models/boxes.py``): Qwen2.5-VL reads
absolute pixels of the image as the processor resized it, Qwen3-VL and Qwen3.5 integers in [0, 1000] of the image.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from spatialladder.models.boxes import rescale_box
from spatialladder.models.families import ModelFamily, qwen2_5_vl

__all__ = [
    "OFFICIAL_SCANNET_FRAME",
    "grounding_json",
    "localization_target",
    "official_grounding_target",
    "rescale_box",
    "resized_frame",
]

OFFICIAL_SCANNET_FRAME = (1296, 968)
"""(W, H) the official stage-1 script hard-codes for every grounding box."""


def resized_frame(processor: Any, width: int, height: int) -> tuple[int, int]:
    """(W', H') the processor resizes a ``width``×``height`` image to: 14·grid_w × 14·grid_h (qwen smart_resize at the
    processor's patch × merge factor: 28 for Qwen2.5-VL, 32 for Qwen3-VL/Qwen3.5, whose grid counts 16-px patches)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    ip = processor.image_processor
    size = ip.size
    h, w = smart_resize(
        height,
        width,
        factor=ip.patch_size * ip.merge_size,
        min_pixels=size["shortest_edge"],
        max_pixels=size["longest_edge"],
    )
    return w, h


def grounding_json(objects: Sequence[dict[str, Any]]) -> str:
    """Qwen2.5-VL's native grounding answer: a fenced JSON list, one ``{"bbox_2d", "label"}`` object per line."""
    lines = ",\n".join("\t" + json.dumps({"bbox_2d": o["bbox_2d"], "label": o["label"]}) for o in objects)
    return "```json\n[\n" + lines + "\n]\n```"


def official_grounding_target(objects: Sequence[dict[str, Any]]) -> str:
    """sft_spld_stage1.py's target: the list is ``json.dumps``-ed, and that *string* is ``json.dumps``-ed again."""
    return "```json\n" + json.dumps(json.dumps(list(objects), indent=4), indent=4) + "\n```"


def localization_target(
    answer: Sequence[dict[str, Any]],
    image_size: tuple[int, int],
    box_frame: tuple[int, int],
    processor: Any,
    mode: str,
    family: ModelFamily = qwen2_5_vl.FAMILY,
) -> str:
    """The stage-1 assistant text for boxes stored in ``box_frame`` on an image of ``image_size`` (both W, H), in
    ``family``'s coordinates (default: the paper's Qwen2.5-VL; ``SFTRows`` passes the loaded model's family).

    ``rescaled``: boxes go to the frame the model actually sees (``absolute``: the processor's resize of the real
    image; ``relative1000``: thousandths of the box frame, which covers the same image, so no resize enters).
    ``official``: the frame is smart_resize of the 1296×968 box frame and the target is double-encoded; for a
    ``relative1000`` family only the double encoding differs (thousandths do not depend on a resize).
    """
    if mode == "official":
        seen = resized_frame(processor, *box_frame)
        objs = [{**o, "bbox_2d": family.box_to_model(o["bbox_2d"], box_frame, seen)} for o in answer]
        return official_grounding_target(objs)
    seen = resized_frame(processor, *image_size)
    return grounding_json(
        [{"bbox_2d": family.box_to_model(o["bbox_2d"], box_frame, seen), "label": o["label"]} for o in answer]
    )
