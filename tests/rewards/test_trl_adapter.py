"""trl's batch signature: conversational and plain completions, column contract, names kept for logging."""

import pytest

from spatialladder.errors import DataFormatError, UnknownNameError
from spatialladder.rewards.trl_adapter import as_trl_reward, completion_text


def conv(text):
    return [{"role": "assistant", "content": text}]


def test_completion_text_shapes():
    assert completion_text("x") == "x"
    assert completion_text(conv("y")) == "y"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "z"}]}]) == "z"


def test_batch_rewards_and_names():
    accuracy = as_trl_reward("accuracy")
    fmt = as_trl_reward("format", weight=0.5)
    completions = [conv("<think>a</think><answer>B</answer>"), conv("<answer>4</answer>"), "<answer>9</answer>"]
    kwargs = {"solution": ["B", "4", "10"], "answer_kind": ["mca", "na", "na"], "trainer_state": None}
    assert accuracy(completions=completions, **kwargs) == [1.0, 1.0, pytest.approx(0.9)]
    assert fmt(completions=completions) == [0.5, 0.0, 0.0]
    assert accuracy.__name__ == "accuracy" and fmt.__name__ == "format"


def test_missing_columns_error_names_them():
    with pytest.raises(DataFormatError, match="'solution' and 'answer_kind'.*question_type"):
        as_trl_reward("accuracy")(completions=["x"], question_type=["object size"])


def test_unknown_reward_name():
    with pytest.raises(UnknownNameError):
        as_trl_reward("nope")


def test_custom_function_keeps_given_name():
    wrapped = as_trl_reward("length", fn=lambda c, s, k: float(len(c)))
    assert wrapped(completions=["abc"], solution=["x"], answer_kind=["mca"]) == [3.0]
    assert wrapped.__name__ == "length"
