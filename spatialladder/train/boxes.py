"""Stage-1 box targets: grounding boxes mapped to the frame the model sees, in our encoding or the official one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

OFFICIAL_SCANNET_FRAME = (1296, 968)
"""(W, H) the official stage-1 script hard-codes for every grounding box."""


def resized_frame(processor: Any, width: int, height: int) -> tuple[int, int]:
    """(W', H') the processor resizes a ``width``×``height`` image to: 14·grid_w × 14·grid_h (qwen smart_resize)."""
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


def rescale_box(box: Sequence[float], src: tuple[int, int], dst: tuple[int, int]) -> list[int]:
    """Map ``[x1, y1, x2, y2]`` from a ``src`` (W, H) frame to a ``dst`` (W', H') frame, rounded and clamped
    to ``[0, W'-1]`` / ``[0, H'-1]``.

    The arithmetic is the official ``convert_to_qwen25vl_format``'s, operation for operation: ``round(x * (W'/W))``
    with the scale computed first. ``x * W' / W`` lands on exact halves where the official product does not
    (1134·364/1296 = 318.5 → 318, but 1134·(364/1296) = 318.50000000000006 → 319), so targets would differ.
    """
    (sw, sh), (dw, dh) = src, dst
    scale_w, scale_h = dw / sw, dh / sh
    x1, y1, x2, y2 = box
    cx = lambda x: min(max(round(x * scale_w), 0), dw - 1)  # noqa: E731
    cy = lambda y: min(max(round(y * scale_h), 0), dh - 1)  # noqa: E731
    return [cx(x1), cy(y1), cx(x2), cy(y2)]


def grounding_json(objects: Sequence[dict[str, Any]]) -> str:
    """Qwen2.5-VL's native grounding answer: a fenced JSON list, one ``{"bbox_2d", "label"}`` object per line."""
    lines = ",\n".join("\t" + json.dumps({"bbox_2d": o["bbox_2d"], "label": o["label"]}) for o in objects)
    return "```json\n[\n" + lines + "\n]\n```"


def official_grounding_target(objects: Sequence[dict[str, Any]]) -> str:
    """sft_spld_stage1.py's target: the list is ``json.dumps``-ed, and that *string* is ``json.dumps``-ed again."""
    return "```json\n" + json.dumps(json.dumps(list(objects), indent=4), indent=4) + "\n```"


def localization_target(
    answer: Sequence[dict[str, Any]], image_size: tuple[int, int], box_frame: tuple[int, int], processor: Any, mode: str
) -> str:
    """The stage-1 assistant text for boxes stored in ``box_frame`` on an image of ``image_size`` (both W, H).

    ``rescaled``: boxes go to the frame the model actually sees (the processor's resize of the real image).
    ``official``: the frame is smart_resize of the 1296×968 box frame and the target is double-encoded.
    """
    if mode == "official":
        dst = resized_frame(processor, *box_frame)
        objs = [{**o, "bbox_2d": rescale_box(o["bbox_2d"], box_frame, dst)} for o in answer]
        return official_grounding_target(objs)
    dst = resized_frame(processor, *image_size)
    return grounding_json([{"bbox_2d": rescale_box(o["bbox_2d"], box_frame, dst), "label": o["label"]} for o in answer])
