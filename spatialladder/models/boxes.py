"""Boxes in a model family's coordinates: the one place where a box in pixels of the frame it was drawn in becomes
the numbers a model reads and writes, and back. Families pick a convention (``ModelFamily.box_convention``) and
callers ask the family (``ModelFamily.box_to_model`` / ``box_to_pixels``), never this module by convention name.

- ``absolute`` (Qwen2.5-VL): integer pixels of the image as the processor resized it (``seen``, W'×H');
- ``relative1000`` (Qwen3-VL, Qwen3.5): integers in [0, 1000] of the image's width and height, whatever the resize.

Rules are the Qwen team's own, operation for operation (sources at each function). Rounding bound of a round trip
``to_model_box`` → ``to_frame_pixels`` for a box inside its ``W``×``H`` frame: ``relative1000`` W/2000 px in x and
H/2000 px in y (half a thousandth of the side; 0.648 × 0.484 px on a 1296×968 ScanNet frame); ``absolute`` W/(2W')
px in x and H/(2H') px in y, more where the official clamp to ``W'-1`` / ``H'-1`` moves a coordinate on the far edge.
"""

from __future__ import annotations

from collections.abc import Sequence

RELATIVE_SCALE = 1000
"""The side of the grid ``relative1000`` boxes live on: 0 is the image's left/top edge, 1000 its right/bottom edge
(``convert_to_qwen2vl_format`` multiplies by 1000 and clamps to ``[0, 1000]``; Qwen's evaluation divides by 1000)."""

Frame = tuple[int, int]
"""(W, H) in pixels."""


def rescale_box(box: Sequence[float], src: Frame, dst: Frame) -> list[int]:
    """Map ``[x1, y1, x2, y2]`` from a ``src`` (W, H) frame to a ``dst`` (W', H') frame, rounded and clamped
    to ``[0, W'-1]`` / ``[0, H'-1]`` (the ``absolute`` convention: ``dst`` is the processor's resize).

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


def to_relative1000(box: Sequence[float], src: Frame) -> list[int]:
    """``[x1, y1, x2, y2]`` in pixels of a ``src`` (W, H) frame → integers in [0, 1000] of its width and height.

    The Qwen team's rule, operation for operation: ``round(x / W * 1000)`` (divide first, then multiply; Python's
    ``round``, ties to even) clamped to ``[0, 1000]`` — ``convert_to_qwen2vl_format`` in QwenLM/Qwen3-VL
    ``qwen-vl-finetune/tools/process_bbox.ipynb`` (commit 271ad06, cell 3; its example ``[146, 137, 615, 415]`` on
    640×428 → ``[228, 320, 961, 970]``), which the Qwen3-VL maintainers name as the rule for Qwen3-VL ground truth
    (QwenLM/Qwen3-VL#1633, #1486; #1427: "scale to 0-1000, then any resize leaves the box unchanged").
    """
    w, h = src
    cx = lambda x: max(0, min(round(x / w * RELATIVE_SCALE), RELATIVE_SCALE))  # noqa: E731
    cy = lambda y: max(0, min(round(y / h * RELATIVE_SCALE), RELATIVE_SCALE))  # noqa: E731
    x1, y1, x2, y2 = box
    return [cx(x1), cy(y1), cx(x2), cy(y2)]


def from_relative1000(box: Sequence[float], frame: Frame) -> list[float]:
    """``relative1000`` values → pixels of a ``frame`` (W, H): ``v / 1000 * W``, unrounded, as the Qwen team's
    ODinW evaluation maps predictions back (QwenLM/Qwen3-VL ``evaluation/ODinW-13/run_odinw.py`` line 240, commit
    f8dca99; ``cookbooks/video_understanding.ipynb`` does the same)."""
    w, h = frame
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1 / RELATIVE_SCALE * w, y1 / RELATIVE_SCALE * h, x2 / RELATIVE_SCALE * w, y2 / RELATIVE_SCALE * h]


def from_resized(box: Sequence[float], frame: Frame, seen: Frame) -> list[float]:
    """``absolute`` values (pixels of the resized ``seen`` frame) → pixels of ``frame``: ``v / W' * W``, unrounded
    (``run_odinw.py`` line 243, the absolute-coordinate branch)."""
    (w, h), (sw, sh) = frame, seen
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1 / sw * w, y1 / sh * h, x2 / sw * w, y2 / sh * h]


def to_model_box(convention: str, box: Sequence[float], src: Frame, seen: Frame | None) -> list[int]:
    """A box in pixels of its ``src`` frame in ``convention``'s numbers; ``seen`` (the processor's W'×H' of the
    image) is read by ``absolute`` only."""
    if convention == "relative1000":
        return to_relative1000(box, src)
    if convention == "absolute":
        if seen is None:
            raise ValueError("absolute box coordinates need the resized frame (seen)")
        return rescale_box(box, src, seen)
    raise ValueError(f"unknown box convention {convention!r}; expected absolute or relative1000")


def to_frame_pixels(convention: str, box: Sequence[float], frame: Frame, seen: Frame | None) -> list[float]:
    """A box in ``convention``'s numbers (a model's answer or a target) → pixels of ``frame``, the inverse of
    :func:`to_model_box` up to its rounding (bound in the module docstring)."""
    if convention == "relative1000":
        return from_relative1000(box, frame)
    if convention == "absolute":
        if seen is None:
            raise ValueError("absolute box coordinates need the resized frame (seen)")
        return from_resized(box, frame, seen)
    raise ValueError(f"unknown box convention {convention!r}; expected absolute or relative1000")
