"""Aggregation rules: VSI macro over task types, direction merge variants, CV-Bench and sample-weighted."""

import pytest

from spatialladder.errors import DataFormatError, UnknownNameError
from spatialladder.metrics.aggregate import (
    cvbench_aggregate,
    merge_rel_direction,
    per_source_aggregate,
    per_type_means,
    sample_weighted_aggregate,
    vsi_aggregate,
)

KINDS = {
    "object_counting": "na",
    "object_rel_distance": "mca",
    "object_rel_direction_easy": "mca",
    "object_rel_direction_medium": "mca",
    "object_rel_direction_hard": "mca",
    "object_rel_direction": "mca",
}


def test_per_type_means():
    assert per_type_means(["a", "b", "a"], [1.0, 0.5, 0.0]) == {"a": 0.5, "b": 0.5}


def test_direction_merge_is_mean_of_subtype_means_not_pooled():
    # easy has 4 samples (mean 1.0), medium 1 (0.0), hard 1 (0.5): merged = 0.5; a pooled mean would be 0.75.
    types = ["object_rel_direction_easy"] * 4 + ["object_rel_direction_medium", "object_rel_direction_hard"]
    scores = [1.0, 1.0, 1.0, 1.0, 0.0, 0.5]
    merged = merge_rel_direction(per_type_means(types, scores))
    assert merged == {"object_rel_direction": pytest.approx(0.5)}


def test_overall_is_mean_of_task_scores_not_of_samples():
    types = ["object_counting"] * 3 + ["object_rel_distance"]
    result = vsi_aggregate(types, [1.0, 1.0, 1.0, 0.0], KINDS)
    assert result["overall"] == pytest.approx(50.0)  # sample mean would be 75
    assert result["per_type"] == {"object_counting": 100.0, "object_rel_distance": 0.0}
    assert result["mca"] == 0.0 and result["na"] == 100.0


def test_full_vsi_style_aggregate():
    types = [
        "object_counting",
        "object_rel_distance",
        "object_rel_direction_easy",
        "object_rel_direction_medium",
        "object_rel_direction_hard",
    ]
    result = vsi_aggregate(types, [0.4, 1.0, 1.0, 0.0, 1.0], KINDS)
    assert result["per_type"]["object_rel_direction"] == pytest.approx(200 / 3)
    assert result["overall"] == pytest.approx((40 + 100 + 200 / 3) / 3)
    assert result["mca"] == pytest.approx((100 + 200 / 3) / 2)


def test_missing_direction_subtype_per_mode():
    per_type = {"object_counting": 0.5, "object_rel_direction_easy": 1.0, "object_rel_direction_hard": 0.0}
    assert merge_rel_direction(per_type, "present") == {"object_counting": 0.5, "object_rel_direction": 0.5}
    # official: easy is popped, medium missing → KeyError swallowed → key set to 0; hard is left behind
    assert merge_rel_direction(per_type, "official") == {
        "object_counting": 0.5,
        "object_rel_direction_hard": 0.0,
        "object_rel_direction": 0.0,
    }
    with pytest.raises(DataFormatError, match="object_rel_direction_medium"):
        merge_rel_direction(per_type, "tis")


def test_spbench_plain_direction_type():
    per_type = {"object_rel_direction": 0.8, "object_abs_distance": 0.4}
    assert merge_rel_direction(per_type, "present") == per_type
    assert merge_rel_direction(per_type, "tis") == per_type
    # official: `if 'object_rel_direction_accuracy' not in output` guards the merge, so SPBench's type is kept
    # (without the guard SpatialLadder-3B's published SPBench-SI 70.2 would need ~94 MRA on the other 3 types)
    assert merge_rel_direction(per_type, "official") == per_type
    with pytest.raises(UnknownNameError):
        merge_rel_direction(per_type, "bogus")


def test_unknown_type_kind_is_an_error():
    with pytest.raises(DataFormatError, match="route"):
        vsi_aggregate(["route"], [1.0], KINDS)


def test_cvbench_mean_of_2d_sources_and_3d():
    sources = ["ADE20K", "ADE20K", "COCO", "Omni3D", "Omni3D", "Omni3D", "Omni3D"]
    scores = [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    result = cvbench_aggregate(sources, scores)
    assert result["2d"] == pytest.approx(75.0)  # mean(50, 100)
    assert result["3d"] == pytest.approx(75.0)
    assert result["overall"] == pytest.approx(75.0)
    assert cvbench_aggregate(["COCO"], [1.0])["overall"] == 100.0


def test_sample_weighted():
    result = sample_weighted_aggregate(["a", "a", "a", "b"], [1.0, 1.0, 1.0, 0.0])
    assert result["overall"] == 75.0
    assert result["per_type"] == {"a": 100.0, "b": 0.0}


def test_official_merge_all_three_and_none():
    full = {"object_rel_direction_easy": 1.0, "object_rel_direction_medium": 0.5, "object_rel_direction_hard": 0.0}
    assert merge_rel_direction(full, "official") == {"object_rel_direction": 0.5}
    # a VSI subset without any direction question: the official except branch adds a 0 entry
    assert merge_rel_direction({"object_counting": 0.5}, "official") == {
        "object_counting": 0.5,
        "object_rel_direction": 0.0,
    }
    assert merge_rel_direction({"object_counting": 0.5}, "present") == {"object_counting": 0.5}


def test_per_source_applies_the_vsi_rule_to_each_source_alone():
    """Each source is macro-averaged over its own types, with the direction merge inside the source."""
    sources = ["scannet", "scannet", "scannet", "arkitscenes", "arkitscenes", "scannet"]
    types = [
        "object_rel_direction_easy",
        "object_rel_direction_hard",
        "object_counting",
        "object_counting",
        "object_counting",
        "object_counting",
    ]
    scores = [1.0, 0.0, 0.25, 0.5, 1.0, 0.75]
    out = per_source_aggregate(sources, types, scores, KINDS, "present")
    assert list(out) == ["arkitscenes", "scannet"]
    # arkitscenes: counting mean(0.5, 1.0) = 0.75
    assert out["arkitscenes"] == {"overall": 75.0, "per_type": {"object_counting": 75.0}, "n": 2}
    # scannet: direction = mean(easy 1, hard 0) = 0.5, counting mean(0.25, 0.75) = 0.5 → 50
    assert out["scannet"]["per_type"] == {"object_counting": 50.0, "object_rel_direction": 50.0}
    assert out["scannet"]["overall"] == 50.0 and out["scannet"]["n"] == 4
    # the official merge scores a source missing a direction subtype 0 on direction, as it would the whole set
    official = per_source_aggregate(sources, types, scores, KINDS, "official")
    assert official["scannet"]["per_type"]["object_rel_direction"] == 0.0
    with pytest.raises(DataFormatError, match="1 sources, 2 question types"):
        per_source_aggregate(["a"], ["object_counting"] * 2, [1.0, 1.0], KINDS)
