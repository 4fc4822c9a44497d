"""Every cold-start rationale ends at the ground truth, for every question type."""

from __future__ import annotations

import numpy as np

from spatialladder.data.cot import RATIONALES, solution, solution_answer
from spatialladder.questions import GENERATORS
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.types import Box3D, Instance, SceneMeta


def test_rationales_reach_the_answer_for_all_types():
    rng = np.random.default_rng(5)
    seen: set[str] = set()
    for _ in range(30):
        xy = rng.uniform(-3, 3, size=(7, 2))
        cats = ["bed", "chair", "door", "lamp", "sofa", "tv", "chair"]
        instances = tuple(
            Instance(k, c, c, Box3D(np.array([x, y, 0.5]), np.array([0.3, 0.4, 0.5]), np.eye(3)))
            for k, (c, (x, y)) in enumerate(zip(cats, xy, strict=True))
        )
        counts = {c: cats.count(c) for c in set(cats)}
        first = {c: float(t) for c, t in zip(sorted(counts), rng.permutation(12)[:6] * 3.0, strict=True)}
        scene = SceneMeta("s", "scannet", 30.0, np.zeros(3), instances, counts, first_appearance_s=first)
        for name, spec in GENERATORS.items():
            if name == "localization":
                continue
            for item in spec.generate(scene, spec.params(), rng, LetterBalancer()):
                text = solution(item)
                assert solution_answer(text) == item.answer
                assert text.startswith("<think>\n") and "</think>\n<answer>" in text
                if item.options:  # the rationale names the correct option letter
                    assert f" {item.answer}." in text or f"option {item.answer}" in text
                seen.add(name)
    assert seen == set(RATIONALES)
