"""Appearance order: the order in which four categories first appear in the video (VSI spatiotemporal task).

First-appearance times are rounded to whole seconds (VSI ``round(frame_id / fps)``); the four categories must
be pairwise more than 1 s apart. The answer lists them by time; the three distractors are other orders, and the
question lists the names in a fresh random order.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from pydantic import Field

from spatialladder.config.base import Strict
from spatialladder.questions.base import QAItem, shown, subsample
from spatialladder.questions.options import LetterBalancer, lettered, place_answer
from spatialladder.scannet.types import SceneMeta

NAME = "obj_appearance_order"
TEMPLATE = (
    "What will be the first-time appearance order of the following categories in the video: "
    "{choice_a}, {choice_b}, {choice_c}, {choice_d}?"
)


class Params(Strict):
    max_per_scene: int = Field(6, ge=0)
    min_gap_s: float = Field(1.0, ge=0.0)  # VSI SAVE_MARGIN: pairs with |Δt| <= 1 s are rejected
    round_to_seconds: bool = True


def _orders(names: list[str], rng: np.random.Generator, n: int) -> list[tuple[str, ...]]:
    """``n`` distinct random orders of ``names`` other than the given one."""
    out: set[tuple[str, ...]] = set()
    result = []
    while len(result) < n:
        order = tuple(names[i] for i in rng.permutation(len(names)))
        if order != tuple(names) and order not in out:
            out.add(order)
            result.append(order)
    return result


def generate(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    times = {
        c: float(round(t)) if params.round_to_seconds else float(t)
        for c, t in sorted(scene.first_appearance_s.items())
        if np.isfinite(t)
    }
    names = sorted(times)
    valid = [
        combo
        for combo in combinations(names, 4)
        if all(abs(times[x] - times[y]) > params.min_gap_s for x, y in combinations(combo, 2))
    ]
    items = []
    for combo in subsample(valid, params.max_per_scene, rng):
        by_time = sorted(combo, key=times.__getitem__)
        asked = [combo[i] for i in rng.permutation(4)]
        names = {c: shown(scene, c) for c in combo}
        distractors = [", ".join(names[c] for c in o) for o in _orders(by_time, rng, 3)]
        values, letter = place_answer(", ".join(names[c] for c in by_time), distractors, NAME, letters, rng)
        items.append(
            QAItem(
                question_type=NAME,
                question=TEMPLATE.format(**{f"choice_{k}": names[c] for k, c in zip("abcd", asked, strict=True)}),
                answer=letter,
                options=lettered(values),
                instance_ids=tuple(i.instance_id for c in combo for i in scene.instances_of(c)),
                categories=tuple(asked),
                evidence={"first_seen_s": {names[c]: times[c] for c in by_time}, "order": [names[c] for c in by_time]},
            )
        )
    return items
