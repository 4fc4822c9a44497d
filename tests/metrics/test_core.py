"""Golden values for the official scoring rules (vsibench-spbench-scannet.md §1.4, §1.4b, §4)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialladder.errors import UnknownNameError
from spatialladder.metrics.core import (
    MRA_CONFIDENCES,
    box_iou,
    bracketed_option,
    exact_match,
    extract_eval_answer,
    first_token,
    mean_relative_accuracy,
    mra_confidences,
    parse_number,
    parse_number_first_token,
    parse_number_lmms,
    parse_number_spatialladder,
    spatialladder_option,
    to_float,
    vsi_sample_score,
)


def test_ten_thresholds_from_the_official_linspace():
    """``int((end - start) / interval + 2)`` points: 10.999… → 10 for VSI's grid, so it stops at 0.95."""
    assert len(MRA_CONFIDENCES) == 10
    np.testing.assert_allclose(MRA_CONFIDENCES, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
    np.testing.assert_array_equal(mra_confidences(), np.linspace(0.5, 0.95, 10))
    np.testing.assert_allclose(mra_confidences(0.5, 1.0, 0.25), [0.5, 2 / 3, 5 / 6, 1.0])  # 0.5/0.25 + 2 = 4 points


def test_a_five_percent_error_passes_every_threshold():
    """No 11th confidence C = 1.0 (which only an exact answer passes, giving 10/11), and float64's 1 - 0.95
    (0.0500…044) still admits a relative error of exactly 0.05."""
    assert mean_relative_accuracy(10.5, 10.0) == 1.0
    assert mean_relative_accuracy(9.5, 10.0) == 1.0
    assert mean_relative_accuracy(10.6, 10.0) == 0.9


@pytest.mark.parametrize(
    ("pred", "target", "expected"),
    [
        (9, 10, 0.9),  # error 0.1 passes 1-C for C = 0.50…0.90 (9 of 10), fails 0.05
        (11, 10, 0.9),
        (10, 10, 1.0),
        (5, 4, 0.6),  # error 0.25 <= 0.25 counts (`<=`, the paper's `<` would give 0.5)
        (3, 2, 0.1),  # error 0.5 <= 0.5 counts only at C = 0.50
        (2, 1, 0.0),
        (100, 200, 0.1),
        (0, 10, 0.0),
    ],
)
def test_mra_golden(pred, target, expected):
    assert mean_relative_accuracy(pred, target) == pytest.approx(expected, abs=1e-12)


def test_mra_unparsable_and_non_finite_score_zero():
    assert mean_relative_accuracy(None, 4.0) == 0.0
    assert mean_relative_accuracy(4.0, None) == 0.0
    assert mean_relative_accuracy(float("nan"), 4.0) == 0.0
    assert mean_relative_accuracy(float("inf"), 4.0) == 0.0


def test_mra_zero_target_uses_absolute_error_instead_of_raising():
    assert mean_relative_accuracy(0.0, 0.0) == 1.0
    assert mean_relative_accuracy(1.0, 0.0) == 0.0
    assert mean_relative_accuracy(0.3, 0.0) == pytest.approx(0.5)  # 0.3 <= 0.5, 0.45, 0.4, 0.35, 0.3


def test_mra_negative_target_divides_by_magnitude():
    assert mean_relative_accuracy(-9.0, -10.0) == pytest.approx(0.9)
    assert mean_relative_accuracy(10.0, -10.0) == 0.0


def test_exact_match_is_case_insensitive():
    assert exact_match("a", "A") == 1.0
    assert exact_match("B", "A") == 0.0
    assert exact_match(None, "A") == 0.0


def test_to_float_follows_python_float():
    assert to_float("3.5") == 3.5
    assert to_float("1_0") == 10.0
    assert to_float("3.5m") is None
    assert to_float(None) is None
    assert math.isnan(to_float("nan"))


@pytest.mark.parametrize(
    ("pred", "token"),
    [("A.", "A"), ("A. left", "A"), ("The answer is A", "The"), ("a", "a"), ("3.5 meters", "3.5"), ("", "")],
)
def test_first_token(pred, token):
    assert first_token(pred) == token


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        ("A", 1.0),
        ("A.", 1.0),
        ("a", 1.0),  # the official comparison lower-cases both sides
        ("A. chair", 1.0),
        ("The answer is A", 0.0),
        ("(A)", 0.0),
        ("B", 0.0),
    ],
)
def test_vsibench_mc_first_token_rule(pred, expected):
    assert vsi_sample_score(pred, "A", "mca", "vsibench-2024")[0] == expected
    assert vsi_sample_score(pred, "A", "mca", "lmms-eval")[0] == expected


@pytest.mark.parametrize(
    ("pred", "normalised"),
    [("A.", "A"), ("B", "B"), ("Answer: C", "C"), ("a", "a"), ("A) x", "A) x"), ("The answer is A", "The answer is A")],
)
def test_spatialladder_option(pred, normalised):
    assert spatialladder_option(pred) == normalised


@pytest.mark.parametrize(
    ("text", "normalised"),
    [("(C)", "C"), ("[b]", "B"), ("D.", "D"), ("{a} chair", "A"), ("C is right", "C"), ("E", "E")],
)
def test_bracketed_option(text, normalised):
    assert bracketed_option(text) == normalised


@pytest.mark.parametrize(
    ("text", "value"),
    [("3.5 meters", 3.5), ("3.5m", None), ("about 3", None), ("42.", 42.0), ("-2", -2.0), ("", None)],
)
def test_vsibench_2024_numbers(text, value):
    assert parse_number_first_token(text) == value
    assert parse_number(text, "vsibench-2024") == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("There are 3 boxes", 3.0),
        ("twenty-one", 21.0),
        ("three hundred and twenty-one", 321.0),
        ("about 3.5 m", 3.5),
        ("Seven chairs and 2 tables", 7.0),
        ("-1.5", -1.5),
        ("a thousand", 1000.0),
        ("none", None),
        ("seventeen", 17.0),
    ],
)
def test_lmms_numbers(text, value):
    assert parse_number_lmms(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3.5 meters", 3.5),
        ("There are a few", 1.0),  # the official `a` → 1 quirk
        ("It is an 8", 1.0),
        ("twenty-one", 1.0),  # dict order: `one` is searched before `twenty`, and `-` is a word boundary
        ("two or 3", 2.0),
        ("-4.2", 4.2),  # unsigned regex
        ("nothing", None),
    ],
)
def test_spatialladder_numbers(text, value):
    assert parse_number_spatialladder(text) == value


def test_unknown_profile_lists_choices():
    with pytest.raises(UnknownNameError, match="lmms-eval, spatialladder, vsibench-2024"):
        parse_number("1", "lmms")


def test_vsi_na_scores_with_profiles():
    assert vsi_sample_score("5 meters", "4", "na", "vsibench-2024") == (0.6, True)
    assert vsi_sample_score("about 5", "4", "na", "vsibench-2024") == (0.0, False)
    assert vsi_sample_score("about 5", "4", "na", "lmms-eval") == (0.6, True)
    assert vsi_sample_score("a 5", "4", "na", "spatialladder") == (0.0, True)  # `a` → 1


def test_extract_eval_answer_takes_first_block():
    assert extract_eval_answer("<think>x</think><answer> B </answer><answer>C</answer>") == "B"
    assert extract_eval_answer("<answer>B") == "None"
    assert extract_eval_answer("B. chair") == "B. chair"


def test_box_iou_values():
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert box_iou([0, 0, 10, 10], [10, 0, 20, 10]) == 0.0
    assert box_iou([0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(1 / 7)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsers_never_raise(text):
    for profile in ("vsibench-2024", "lmms-eval", "spatialladder"):
        value = parse_number(text, profile)
        assert value is None or isinstance(value, float)
        score, _ = vsi_sample_score(text, "A", "mca", profile)
        assert score in (0.0, 1.0)
        score, _ = vsi_sample_score(text, "2.5", "na", profile)
        assert 0.0 <= score <= 1.0
    bracketed_option(text)
    extract_eval_answer(text)
