"""The official stage-3 accuracy reward (``official-spatialladder.md`` §5.4), numbers scored by the evaluator's MRA.

Row columns it reads (see ``spatialladder.rewards`` for the full contract): ``solution`` (the reference answer:
option letter, number as text, or a grounding JSON) and ``answer_kind`` (``mca``, ``na`` or ``grounding``, or an
alias such as ``box``: ``spatialladder.vocab``).
"""

from __future__ import annotations

import re

from spatialladder.errors import UnknownNameError
from spatialladder.metrics.core import answer_blocks, mean_relative_accuracy, to_float
from spatialladder.rewards.iou import iou_reward
from spatialladder.vocab import ANSWER_KIND_ALIASES, ANSWER_KINDS, canonical_answer_kind


def normalize_answer_kind(kind: str) -> str:
    """The canonical kind (``spatialladder.vocab.ANSWER_KINDS``) of ``kind``; the aliases ``mc``, ``number``,
    ``numeric`` and ``box`` (the official reward code's name for grounding) are accepted."""
    canonical = canonical_answer_kind(kind)
    if canonical is None:
        raise UnknownNameError("answer kind", kind, [*ANSWER_KINDS, *ANSWER_KIND_ALIASES])
    return canonical


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
    - ``grounding`` (alias ``box``): IoU of the predicted and reference boxes (``spatialladder.rewards.iou``).
    """
    kind = normalize_answer_kind(answer_kind)
    if kind == "mca":
        return 1.0 if clean_text(completion) == clean_text(solution) else 0.0
    if kind == "na":
        return mean_relative_accuracy(to_float(clean_text(completion)), to_float(clean_text(solution)))
    return iou_reward(completion, solution, kind)
