"""Multiple-choice machinery (vsibench-spbench-scannet.md §1.5): balanced answer letters and distractors.

VSI-Bench puts the ground truth at the letter used least so far (ties broken at random) and shuffles the
distractors around it, so answer letters end up "distributed as uniformly as possible". The running counts live in
a ``LetterBalancer`` that the caller owns and passes to every generator: no global state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LETTERS = "ABCD"


class LetterBalancer:
    """Running count of answer letters per (question type, number of options)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], list[int]] = {}

    def pick(self, key: str, n_options: int, rng: np.random.Generator) -> int:
        """Index of the least-used letter among the first ``n_options`` (ties at random), and count it."""
        counts = self.counts.setdefault((key, n_options), [0] * n_options)
        low = min(counts)
        candidates = [i for i, c in enumerate(counts) if c == low]
        index = candidates[int(rng.integers(len(candidates)))]
        counts[index] += 1
        return index


def lettered(values: Sequence[str]) -> tuple[str, ...]:
    """``["left", "right"]`` → ``("A. left", "B. right")`` (VSI option strings)."""
    if len(values) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options, got {len(values)}")
    return tuple(f"{LETTERS[i]}. {v}" for i, v in enumerate(values))


def place_answer(
    answer: str, distractors: Sequence[str], key: str, letters: LetterBalancer, rng: np.random.Generator
) -> tuple[list[str], str]:
    """Shuffle the distractors and insert the answer at the balancer's letter.

    Returns (option values in order, answer letter). Distractors must be distinct and differ from the answer.
    """
    if answer in distractors or len(set(distractors)) != len(distractors):
        raise ValueError(f"distractors must be distinct and differ from the answer: {answer!r} {list(distractors)}")
    values = [distractors[i] for i in rng.permutation(len(distractors))]
    index = letters.pick(key, len(values) + 1, rng)
    values.insert(index, answer)
    return values, LETTERS[index]


def numeric_distractors(
    gt: float,
    rng: np.random.Generator,
    margin: float = 0.20,
    lower_bound: float = 0.25,
    upper_bound: float = 1.75,
    decimals: int = 1,
    n: int = 3,
    max_rounds: int = 31,
) -> list[float] | None:
    """VSI ``generate_multiple_choice`` distractors for a numeric answer, or None when they stay too close.

    Draw ``n`` values uniformly in [gt·lower, gt·upper], rounded to ``decimals``; re-draw any value within
    ``EPS = ceil(gt·margin·10^d)/10^d`` of the answer or of another option, for at most ``max_rounds`` rounds.
    """
    scale = 10**decimals
    eps = math.ceil(gt * margin * scale) / scale

    def draw() -> float:
        return round(float(rng.uniform(gt * lower_bound, gt * upper_bound)), decimals)

    values = [draw() for _ in range(n)]
    for _ in range(max_rounds):
        bad = [i for i, v in enumerate(values) if _too_close(v, [gt] + values[:i] + values[i + 1 :], eps)]
        if not bad:
            return [int(v) for v in values] if decimals == 0 else values
        for i in bad:
            values[i] = draw()
    return None


def _too_close(value: float, others: Sequence[float], eps: float) -> bool:
    return any(abs(value - o) < eps for o in others)


def count_distractors(gt: int, rng: np.random.Generator, n: int = 3) -> list[int]:
    """VSI counting distractors: ``gt + offset`` for random offsets in ±1..±3 (then ±5), floored at 1, distinct."""
    out: list[int] = []
    for offset in [*(int(o) for o in rng.permutation([-3, -2, -1, 1, 2, 3])), -5, 5]:
        value = max(1, gt + offset)
        if value != gt and value not in out:
            out.append(value)
        if len(out) == n:
            break
    return out
