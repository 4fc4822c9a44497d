"""Box conventions (``spatialladder/models/boxes.py``): the Qwen team's rules, hand-checked values, the round-trip
bound, and every family answering with its own convention."""

from __future__ import annotations

import random

import pytest

from spatialladder.models.boxes import (
    RELATIVE_SCALE,
    from_relative1000,
    from_resized,
    rescale_box,
    to_frame_pixels,
    to_model_box,
    to_relative1000,
)
from spatialladder.models.families import FAMILIES


def test_relative1000_reproduces_the_qwen_notebook_example() -> None:
    """``convert_to_qwen2vl_format([146, 137, 615, 415], 428, 640)`` prints ``[228, 320, 961, 970]`` in QwenLM/Qwen3-VL
    ``qwen-vl-finetune/tools/process_bbox.ipynb`` (cell 3's stored output): 146/640·1000 = 228.1, 137/428·1000 =
    320.1, 615/640·1000 = 960.9, 415/428·1000 = 969.6."""
    assert to_relative1000([146, 137, 615, 415], (640, 428)) == [228, 320, 961, 970]


def test_relative1000_rounds_ties_to_even_divides_first_and_clamps() -> None:
    # Python's round: 1/2000·1000 = 0.5 → 0, 3/2000·1000 = 1.5 → 2, 5/2000·1000 = 2.5 → 2
    assert to_relative1000([1, 3, 5, 5], (2000, 2000)) == [0, 2, 2, 2]
    # divide first, as the notebook: 203/400·1000 = 507.49999999999994 → 507 (203·1000/400 = 507.5 would give 508)
    assert to_relative1000([203, 0, 400, 1], (400, 400)) == [507, 0, 1000, 2]
    # outside the frame → clamped to [0, 1000] (the notebook's max(0, min(v, 1000)))
    assert to_relative1000([-7, -0.4, 1300, 968], (1296, 968)) == [0, 0, 1000, 1000]
    assert all(isinstance(v, int) for v in to_relative1000([0.3, 1.7, 100.2, 50.5], (640, 480)))


def test_mapping_back_is_the_odinw_rule() -> None:
    """``pred / 1000 * [W, H, W, H]`` unrounded (``evaluation/ODinW-13/run_odinw.py`` line 240); the absolute branch
    ``pred / [W', H', W', H'] * [W, H, W, H]`` (line 243)."""
    assert from_relative1000([500, 250, 1000, 1000], (640, 480)) == [320.0, 120.0, 640.0, 480.0]
    assert from_relative1000([77, 207, 540, 930], (1296, 968)) == pytest.approx([99.792, 200.376, 699.84, 900.24])
    assert from_resized([182, 126, 364, 252], (1296, 968), (364, 252)) == [648.0, 484.0, 1296.0, 968.0]


def test_relative1000_round_trip_stays_within_half_a_thousandth_of_the_side() -> None:
    """The bound stated in ``models/boxes.py``: |back - x| ≤ W/2000 (x), H/2000 (y) for boxes inside the frame."""
    rng = random.Random(0)
    for _ in range(2000):
        w, h = rng.randint(28, 4000), rng.randint(28, 4000)
        box = sorted(rng.uniform(0, w) for _ in range(2)), sorted(rng.uniform(0, h) for _ in range(2))
        box = [box[0][0], box[1][0], box[0][1], box[1][1]]
        back = from_relative1000(to_relative1000(box, (w, h)), (w, h))
        bound = [w / 2000, h / 2000, w / 2000, h / 2000]
        assert all(abs(b - x) <= e + 1e-9 for b, x, e in zip(back, box, bound, strict=True)), (w, h, box, back)


@pytest.mark.parametrize("name", ["qwen3-vl", "qwen3.5"])
def test_relative_families_ignore_the_resize(name: str) -> None:
    family = FAMILIES[name]
    assert family.box_convention == "relative1000"
    box, src = [100, 200, 700, 900], (1296, 968)
    # 100/1296·1000 = 77.2, 200/968·1000 = 206.6, 700/1296·1000 = 540.1, 900/968·1000 = 929.8
    for seen in (None, (364, 252), (1312, 992)):
        assert family.box_to_model(box, src, seen) == [77, 207, 540, 930]
    assert family.box_to_pixels([77, 207, 540, 930], src) == from_relative1000([77, 207, 540, 930], src)


def test_qwen2_5_vl_keeps_absolute_resized_pixels() -> None:
    family = FAMILIES["qwen2.5-vl"]
    assert family.box_convention == "absolute"
    # the existing stage-1 arithmetic, unchanged: 700·(364/1296) = 196.6 → 197 (tests/train/test_sft_data.py)
    assert family.box_to_model([100, 200, 700, 900], (1296, 968), (364, 252)) == [28, 52, 197, 234]
    assert family.box_to_model([1134, 363, 162, 847], (1296, 968), (364, 252)) == rescale_box(
        [1134, 363, 162, 847], (1296, 968), (364, 252)
    )
    assert family.box_to_pixels([28, 52, 197, 234], (1296, 968), (364, 252)) == pytest.approx(
        [28 * 1296 / 364, 52 * 968 / 252, 197 * 1296 / 364, 234 * 968 / 252]
    )
    with pytest.raises(ValueError, match="absolute box coordinates need the resized frame"):
        family.box_to_model([1, 2, 3, 4], (10, 10))


def test_unknown_convention_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match="unknown box convention 'norm1'; expected absolute or relative1000"):
        to_model_box("norm1", [0, 0, 1, 1], (10, 10), None)
    with pytest.raises(ValueError, match="unknown box convention 'norm1'"):
        to_frame_pixels("norm1", [0, 0, 1, 1], (10, 10), None)
    assert RELATIVE_SCALE == 1000
