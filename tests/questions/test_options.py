"""Letter balancing and distractor sampling (§1.5)."""

from __future__ import annotations

import numpy as np
from scipy.stats import chisquare

from spatialladder.questions import get_generator
from spatialladder.questions.options import (
    LetterBalancer,
    count_distractors,
    lettered,
    numeric_distractors,
    place_answer,
)


def test_place_answer_balances_letters_exactly():
    rng, letters = np.random.default_rng(1), LetterBalancer()
    picks = [place_answer("x", ["a", "b", "c"], "t", letters, rng)[1] for _ in range(4001)]
    counts = [picks.count(c) for c in "ABCD"]
    assert max(counts) - min(counts) <= 1


def test_generated_letters_pass_chi_square(make_scene):
    """Thousands of rel-direction questions over random scenes: answer letters are uniform."""
    rng, letters = np.random.default_rng(7), LetterBalancer()
    spec = get_generator("object_rel_direction_hard")
    params = spec.params(max_triples=20, max_per_scene=60)
    answers = []
    while len(answers) < 3000:
        xy = rng.uniform(-3, 3, size=(6, 2))
        scene = make_scene([(f"o{i}", (x, y, 0.5), (0.2, 0.2, 0.2)) for i, (x, y) in enumerate(xy)])
        answers += [item.answer for item in spec.generate(scene, params, rng, letters)]
    counts = [answers.count(c) for c in "ABCD"]
    assert chisquare(counts).pvalue > 0.05
    assert max(counts) - min(counts) <= 1  # the balancer is exact per (type, n options)


def test_lettered():
    assert lettered(["left", "right"]) == ("A. left", "B. right")


def test_numeric_distractors_respect_margin():
    rng = np.random.default_rng(3)
    for gt in (0.8, 2.0, 54.1):
        values = numeric_distractors(gt, rng)
        eps = np.ceil(gt * 0.2 * 10) / 10
        options = [gt, *values]
        assert all(gt * 0.25 - 0.05 <= v <= gt * 1.75 + 0.05 for v in values)
        assert all(abs(a - b) >= eps for i, a in enumerate(options) for b in options[i + 1 :])
    assert numeric_distractors(0.1, rng, margin=5.0) is None  # impossible margin → question dropped
    sizes = numeric_distractors(120, rng, lower_bound=0.4, upper_bound=1.8, decimals=0)
    assert all(isinstance(v, int) for v in sizes)


def test_count_distractors():
    values = count_distractors(2, np.random.default_rng(0))
    assert len(values) == 3 and len(set(values)) == 3 and 2 not in values and min(values) >= 1
