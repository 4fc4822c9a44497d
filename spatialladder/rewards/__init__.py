"""GRPO rewards: pure functions ``fn(completion, solution, answer_kind) -> float`` and their registry.

Dataset columns a GRPO row must carry for these rewards (trl passes every column to the reward as a kwarg):

- ``solution`` (str): the reference answer — an option letter (``"B"``), a number as text (``"2.5"``), or for
  grounding rows the stage-1 JSON (``[{"bbox_2d": [x1, y1, x2, y2], "label": "chair"}]``) in the model family's box
  coordinates, as the stage-1 target writes it (``train/boxes.py``), so the IoU reward compares like with like.
- ``answer_kind`` (str): ``"mca"`` (multiple choice), ``"na"`` (numeric) or ``"grounding"``
  (``spatialladder.vocab.ANSWER_KINDS``); the aliases ``mc``/``number``/``numeric``/``box`` are accepted.

``format`` needs neither column. Wrap a reward for trl with ``spatialladder.rewards.trl_adapter.as_trl_reward``.
"""

from __future__ import annotations

from collections.abc import Callable

from spatialladder.errors import UnknownNameError
from spatialladder.rewards.accuracy import accuracy_reward, clean_text, normalize_answer_kind
from spatialladder.rewards.format import format_reward
from spatialladder.rewards.iou import iou_reward, parse_boxes

RewardFn = Callable[[str, str, str], float]

# keys: spatialladder.vocab.REWARD_NAMES (tests/test_vocab.py keeps the two equal)
REWARDS: dict[str, RewardFn] = {
    "format": format_reward,
    "accuracy": accuracy_reward,
    "iou": iou_reward,
}

REWARDS_WITHOUT_ANSWER: frozenset[str] = frozenset({"format"})
"""Rewards that ignore ``solution``/``answer_kind``, so rows need not carry those columns for them."""


def get_reward(name: str) -> RewardFn:
    """The reward function registered as ``name``; an unknown name lists the valid ones."""
    if name not in REWARDS:
        raise UnknownNameError("reward", name, list(REWARDS))
    return REWARDS[name]


__all__ = [
    "REWARDS",
    "REWARDS_WITHOUT_ANSWER",
    "RewardFn",
    "accuracy_reward",
    "clean_text",
    "format_reward",
    "get_reward",
    "iou_reward",
    "normalize_answer_kind",
    "parse_boxes",
]
