"""The official reward table (official-spatialladder.md §5.4) plus the documented fixes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialladder.errors import UnknownNameError
from spatialladder.rewards import REWARDS, accuracy_reward, clean_text, format_reward, get_reward, iou_reward
from spatialladder.rewards.iou import parse_boxes


@pytest.mark.parametrize(
    "completion",
    [
        "<think>hmm</think><answer>B</answer>",
        "  <think>a\nb</think>\n\n<answer>3.5</answer>\n",
        "<think></think> <answer></answer>",
    ],
)
def test_format_accepts(completion):
    assert format_reward(completion) == 1.0


@pytest.mark.parametrize(
    "completion",
    [
        "<think><think>x</think><answer>B</answer>",  # nested think
        "<think>x</think><answer>B</answer><answer>C</answer>",  # two answers
        "<think>x</think><answer>B</answer> extra",  # text after the answer
        "so <think>x</think><answer>B</answer>",  # text before the think
        "<think>x</think>then<answer>B</answer>",  # text between the blocks
        "<answer>B</answer>",
        "<think>x</think>",
        "",
    ],
)
def test_format_rejects(completion):
    assert format_reward(completion) == 0.0


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("<answer>A</answer>", "a"),
        ("<answer>A</answer><answer>B.</answer>", "b"),  # last block
        ("B.", "b"),
        ("  B. chair ", "b. chair"),
        ("3\n5", "3 5"),  # newline without whitespace before → space
        ("3 \n5", "3 5"),  # newline after whitespace → deleted
        ("A\r\n", "a"),
        ("no tags", "no tags"),
    ],
)
def test_clean_text(text, cleaned):
    assert clean_text(text) == cleaned


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>x</think><answer>B</answer>", 1.0),
        ("<think>x</think><answer>B.</answer>", 1.0),
        ("<think>x</think><answer>b</answer>", 1.0),
        ("<think>x</think><answer>B. chair</answer>", 0.0),
        ("<answer>A</answer> <answer>B</answer>", 1.0),  # the last block counts
        ("<answer>B</answer> <answer>A</answer>", 0.0),
        ("B", 1.0),  # no tags: the whole cleaned text
        ("", 0.0),
    ],
)
def test_accuracy_multiple_choice(completion, expected):
    assert accuracy_reward(completion, "B", "mca") == expected


@pytest.mark.parametrize(
    ("completion", "solution", "expected"),
    [
        ("<answer>9</answer>", "10", 0.9),
        ("<answer>5</answer>", "4", 0.6),
        ("<answer>3.5 m</answer>", "3.5", 0.0),  # units are unparsable under float()
        ("<answer>3.5.</answer>", "3.5", 1.0),  # trailing period stripped by clean_text
        ("<answer>0</answer>", "0", 1.0),  # zero target: no ZeroDivisionError
        ("<answer>2</answer>", "0", 0.0),
        ("<answer>abc</answer>", "2", 0.0),
        ("", "2", 0.0),
    ],
)
def test_accuracy_numeric_uses_mra(completion, solution, expected):
    assert accuracy_reward(completion, solution, "na") == pytest.approx(expected)
    assert accuracy_reward(completion, solution, "number") == pytest.approx(expected)


def test_accuracy_unknown_kind_is_loud():
    with pytest.raises(UnknownNameError, match="answer kind"):
        accuracy_reward("A", "A", "letter")


BOX_SOLUTION = '```json\n[\n    {\n        "bbox_2d": [0, 0, 10, 10],\n        "label": "chair"\n    }\n]\n```'


def test_parse_boxes_json_and_bare():
    assert parse_boxes(BOX_SOLUTION) == [[0.0, 0.0, 10.0, 10.0]]
    assert parse_boxes('<answer>[{"bbox_2d": [1, 2, 3, 4]}]</answer>') == [[1.0, 2.0, 3.0, 4.0]]
    assert parse_boxes("box at [5, 0, 15, 10] ok") == [[5.0, 0.0, 15.0, 10.0]]
    assert parse_boxes("[3, 3, 1, 1]") == []  # inverted
    assert parse_boxes("nothing") == []


def test_iou_reward_values():
    assert iou_reward('[{"bbox_2d": [5, 0, 15, 10], "label": "chair"}]', BOX_SOLUTION) == pytest.approx(1 / 3)
    assert iou_reward(BOX_SOLUTION, BOX_SOLUTION) == 1.0
    assert iou_reward("no box", BOX_SOLUTION) == 0.0
    assert iou_reward(BOX_SOLUTION, BOX_SOLUTION, "mca") == 0.0
    two = '[{"bbox_2d": [0, 0, 10, 10]}, {"bbox_2d": [20, 20, 30, 30]}]'
    assert iou_reward('[{"bbox_2d": [0, 0, 10, 10]}]', two) == pytest.approx(0.5)  # mean over reference boxes
    assert accuracy_reward(BOX_SOLUTION, BOX_SOLUTION, "box") == 1.0


@pytest.mark.parametrize("family", ["qwen3-vl", "qwen3.5"])
def test_iou_reward_in_thousandths_compares_like_with_like(family):
    """A grounding solution in a relative family's coordinates (built as the stage-1 target, ``train/boxes.py``) is
    scored against an answer in the same thousandths: a perfect answer is 1.0, an overlap its hand value, and the
    value equals the IoU of both boxes mapped back to pixels (IoU ignores per-axis scaling)."""
    from spatialladder.metrics import box_iou
    from spatialladder.models.families import FAMILIES
    from spatialladder.train.boxes import grounding_json

    fam = FAMILIES[family]
    frame = (1296, 968)
    target = fam.box_to_model([100, 200, 700, 900], frame)  # [77, 207, 540, 930]
    solution = grounding_json([{"bbox_2d": target, "label": "chair"}])
    assert iou_reward(solution, solution) == 1.0
    assert iou_reward('[{"bbox_2d": [77, 207, 540, 930], "label": "chair"}]', solution) == 1.0
    # prediction [200, 300, 600, 930]: intersection 340 × 630 = 214,200; areas 463 × 723 = 334,749 and
    # 400 × 630 = 252,000; union 372,549
    pred = '```json\n[\n\t{"bbox_2d": [200, 300, 600, 930], "label": "chair"}\n]\n```'
    assert iou_reward(pred, solution) == pytest.approx(214200 / 372549, abs=1e-12)
    in_pixels = box_iou(fam.box_to_pixels([200, 300, 600, 930], frame), fam.box_to_pixels(target, frame))
    assert iou_reward(pred, solution) == pytest.approx(in_pixels, abs=1e-12)


def test_registry():
    assert sorted(REWARDS) == ["accuracy", "format", "iou"]
    assert get_reward("format") is format_reward
    with pytest.raises(UnknownNameError, match="valid names: accuracy, format, iou"):
        get_reward("acuracy")


PROPERTY_EXAMPLES = 10_000
"""Issue 6: at least 10k examples in CI that the rewards never raise and stay in range on arbitrary unicode."""

answer_text = st.text().map(lambda t: f"<answer>{t}</answer>")
tagged_text = st.tuples(st.text(max_size=40), st.text(max_size=40), st.text(max_size=10)).map(
    lambda p: f"<think>{p[0]}</think>{p[2]}<answer>{p[1]}</answer>"
)
completions = st.one_of(st.text(), answer_text, tagged_text)
"""Arbitrary unicode, bare or inside the tags, so the answer-parsing paths are reached too."""
solutions = st.one_of(
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0", "0.0", "A", "B", '[{"bbox_2d": [0, 0, 10, 10], "label": "x"}]']),
)


@settings(max_examples=PROPERTY_EXAMPLES, deadline=None)
@given(completions)
def test_format_reward_never_raises_and_is_binary(completion):
    assert format_reward(completion) in (0.0, 1.0)


@settings(max_examples=PROPERTY_EXAMPLES, deadline=None)
@given(completions, solutions, st.sampled_from(["mca", "na", "box"]))
def test_accuracy_reward_never_raises_and_stays_in_range(completion, solution, kind):
    assert 0.0 <= accuracy_reward(completion, solution, kind) <= 1.0


@settings(max_examples=2000, deadline=None)
@given(completions, solutions, st.sampled_from(["mca", "na", "box"]))
def test_every_registered_reward_never_raises_and_stays_in_range(completion, solution, kind):
    for name, fn in REWARDS.items():
        value = fn(completion, solution, kind)
        assert 0.0 <= value <= 1.0, name


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="<>/thinkaswer 0123456789.AB\n", max_size=60))
def test_format_reward_binary_on_tag_soup(completion):
    assert format_reward(completion) in (0.0, 1.0)
