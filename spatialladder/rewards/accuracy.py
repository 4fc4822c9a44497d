"""The official stage-3 accuracy reward (``official-spatialladder.md`` §5.4), numbers scored by the evaluator's MRA.

Row columns it reads (see ``spatialladder.rewards`` for the full contract): ``solution`` (the reference answer:
option letter, number as text, or a grounding JSON) and ``answer_kind`` (``mca``, ``na`` or ``box``).
"""

from __future__ import annotations

import re

from spatialladder.errors import UnknownNameError
from spatialladder.metrics.core import answer_blocks, mean_relative_accuracy, to_float
from spatialladder.rewards.iou import iou_reward

ANSWER_KINDS: tuple[str, ...] = ("mca", "na", "box")
"""``mca`` = multiple choice (exact option letter), ``na`` = numeric answer (MRA), ``box`` = grounding (IoU)."""
_KIND_ALIASES = {"mca": "mca", "mc": "mca", "na": "na", "number": "na", "numeric": "na", "box": "box"}


def normalize_answer_kind(kind: str) -> str:
    """Canonical kind for ``kind``; accepts the aliases ``mc``, ``number``, ``numeric``."""
    if kind not in _KIND_ALIASES:
        raise UnknownNameError("answer kind", kind, list(_KIND_ALIASES))
    return _KIND_ALIASES[kind]


def clean_text(text: str) -> str:
    """Official ``clean_text``: the last ``<answer>`` block if any; a newline/CR preceded by whitespace is
    deleted and any other becomes a space; then ``strip()``, ``rstrip('.')``, ``lower()``.

    Example:
        >>> clean_text("<think>x</think><answer>A</answer> <answer> B. </answer>")
        'b'
    """
    blocks = answer_blocks(text)
    if blocks:
        text = blocks[-1]
    for char in ("\n", "\r"):
        text = re.sub(r"(?<=\s)" + re.escape(char), "", text)
        text = re.sub(r"(?<!\s)" + re.escape(char), " ", text)
    return text.strip().rstrip(".").lower()


def accuracy_reward(completion: str, solution: str, answer_kind: str) -> float:
    """Official accuracy reward on one completion, in [0, 1].

    - ``mca``: 1.0 iff ``clean_text(completion) == clean_text(solution)`` (so ``"B."``/``"b"`` match ``B``;
      ``"B. chair"`` does not).
    - ``na``: ``mean_relative_accuracy(float(clean(completion)), float(clean(solution)))`` — the same function
      the benchmark scorer uses; ``"3 m"`` is unparsable → 0.0; a zero target does not raise.
    - ``box``: IoU of the predicted and reference boxes (``spatialladder.rewards.iou``).
    """
    kind = normalize_answer_kind(answer_kind)
    if kind == "mca":
        return 1.0 if clean_text(completion) == clean_text(solution) else 0.0
    if kind == "na":
        return mean_relative_accuracy(to_float(clean_text(completion)), to_float(clean_text(solution)))
    return iou_reward(completion, solution, kind)
