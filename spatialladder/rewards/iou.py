"""Box IoU reward for grounding prompts (beyond the official reward set, for users who add stage-1 rows to RL).

The reference answer is a grounding JSON as in stage 1: ``[{"bbox_2d": [x1, y1, x2, y2], "label": "chair"}, …]``,
optionally inside a Markdown ``json`` fence. The completion is read the same way (the last ``<answer>`` block if
there is one).

Coordinates: the reward compares like with like and needs no model family. A row's ``solution`` is written in the
family's box coordinates when the row is built — the stage-1 target itself (``train/boxes.py``
``localization_target`` with the loaded model's family: absolute resized pixels for Qwen2.5-VL, thousandths of the
image for Qwen3-VL / Qwen3.5) — and the model answers in the same coordinates. IoU is unchanged by scaling x and y
separately, so IoU in either family's numbers equals IoU in pixels of the image (up to the targets' rounding).
"""

from __future__ import annotations

import json
import math
import re

from spatialladder.metrics.core import answer_blocks, box_iou
from spatialladder.vocab import canonical_answer_kind

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_BOX_LIST = re.compile(
    r"\[\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\]"
)


def _boxes_from_json(value: object) -> list[list[float]]:
    if isinstance(value, str):
        try:
            return _boxes_from_json(json.loads(value))
        except (ValueError, RecursionError):
            return []
    if isinstance(value, dict):
        box = value.get("bbox_2d")
        if isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box):
            return [[float(v) for v in box]]
        return []
    if isinstance(value, list):
        if len(value) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return [[float(v) for v in value]]
        return [b for item in value for b in _boxes_from_json(item)]
    return []


def parse_boxes(text: str) -> list[list[float]]:
    """All ``[x1, y1, x2, y2]`` boxes in a grounding answer: JSON ``bbox_2d`` entries first, else bare 4-number
    lists. Non-finite or inverted boxes are dropped. Never raises."""
    blocks = answer_blocks(text)
    body = blocks[-1] if blocks else text
    fenced = _FENCE.search(body)
    if fenced:
        body = fenced.group(1)
    try:
        boxes = _boxes_from_json(json.loads(body))
    except (ValueError, RecursionError):
        boxes = []
    if not boxes:
        boxes = [[float(v) for v in m] for m in _BOX_LIST.findall(body)]
    return [b for b in boxes if all(math.isfinite(v) for v in b) and b[2] > b[0] and b[3] > b[1]]


def iou_reward(completion: str, solution: str, answer_kind: str = "grounding") -> float:
    """Mean over reference boxes of the best IoU with any predicted box, in [0, 1]; 0.0 for rows of another
    answer kind (a constant within a GRPO group, so it adds no advantage there) and for unparsable completions.
    ``answer_kind`` may be ``grounding`` or its alias ``box``."""
    if canonical_answer_kind(answer_kind) != "grounding":
        return 0.0
    targets, preds = parse_boxes(solution), parse_boxes(completion)
    if not targets or not preds:
        return 0.0
    return sum(max(box_iou(p, t) for p in preds) for t in targets) / len(targets)
