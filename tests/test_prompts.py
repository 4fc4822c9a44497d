"""Prompt texts pinned verbatim to the reference (official-spatialladder.md §4, §5.2, §6.2; VSI §1.4)."""

import pytest

from spatialladder import prompts
from spatialladder.errors import UnknownNameError

OPTS = ["A. chair", "B. table"]
THINK_BODY = (
    "about this question as if you were a human pondering deeply. Engage in an internal dialogue using expressions "
    "such as 'let me think', 'wait', 'Hmm', 'oh, I see', 'let's break it down', etc, or other natural language "
    "thought expressions It's encouraged to include self-reflection or verification in the reasoning process. \n"
)
MCA_THINK = (
    "Please provide your detailed reasoning between the <think> </think> tags, and then answer the question with "
    "the option's letter from the given choices (e.g., A, B, etc.) within the <answer> </answer> tags."
)
NA_THINK = (
    "Please provide your detailed reasoning between the <think> </think> tags, and then answer the question with "
    "a numerical value (e.g., 42 or 3.1) within the <answer> </answer> tags."
)


def test_stage1_localization_text():
    assert prompts.sft_user_text(1, "Where is the chair?") == (
        "Question: Where is the chair?\n"
        "Please carefully observe the image first to identify the object(s) referred to in the question. "
        "Note that each object type appears only once in the image. "
        "Please provide the 2D bounding box coordinates and labels of the related objects in JSON format. "
    )


def test_stage2_official_drops_newline_before_options():
    assert prompts.sft_user_text(2, "Which?", OPTS, "mca", fidelity="official") == (
        "Question: Which?Options:\nA. chair\nB. table\n\n"
        "Please answer with the option's letter from the given choices directly."
    )
    assert prompts.sft_user_text(2, "Which?", OPTS, "mca") == (
        "Question: Which?\nOptions:\nA. chair\nB. table\n\n"
        "Please answer with the option's letter from the given choices directly."
    )


def test_stage2_numeric():
    assert prompts.sft_user_text(2, "How far?", None, "na", fidelity="official") == (
        "Question: How far?\n\nPlease answer the question using a numerical value (e.g., 42 or 3.1) directly."
    )


def test_stage3_official_text():
    assert prompts.grpo_user_text("Which?", OPTS, "mca", fidelity="official") == (
        "Question: Which?\nOptions:\nA. chair\nB. table \nPlease Think " + THINK_BODY + MCA_THINK
    )
    assert prompts.grpo_user_text("How far?", [], "na", fidelity="official") == (
        "Question: How far? \nPlease Think " + THINK_BODY + NA_THINK
    )


def test_stage3_fixed_equals_eval_thinking():
    fixed = prompts.grpo_user_text("How far?", None, "na")
    assert fixed == "Question: How far?\nPlease think " + THINK_BODY + "\n" + NA_THINK
    assert fixed == prompts.eval_user_text("thinking", "How far?", None, "na")
    assert prompts.sft_user_text("cs", "How far?", None, "na") == fixed


def test_eval_direct_texts():
    assert prompts.eval_user_text("direct", "Which?", OPTS, "mca", letter_examples=True) == (
        "Question: Which?\nOptions:\nA. chair\nB. table\n\n"
        "Please answer with the option's letter from the given choices (e.g., A, B, etc.) directly."
    )
    assert prompts.eval_user_text("direct", "Which? (A) x (B) y", None, "mca") == (
        "Question: Which? (A) x (B) y\n\nPlease answer with the option's letter from the given choices directly."
    )


def test_spar_extra_line():
    text = prompts.eval_user_text("direct", "Q", None, "mca", extra=prompts.SPAR_BOX_NOTE)
    assert text == (
        "Question: Q\n\nThe values represent the bounding box coordinates normalized to a 0-1000 scale, with the "
        "top-left corner as the origin of the image.\nPlease answer with the option's letter from the given "
        "choices directly."
    )
    assert prompts.eval_user_text("direct", "Q", None, "mca", extra="") == (
        "Question: Q\n\n\nPlease answer with the option's letter from the given choices directly."
    )
    assert prompts.eval_user_text("direct", "Q", None, "free") == "Question: Q\n\nPlease output the answer directly."


def test_lmms_protocol():
    assert prompts.eval_user_text("lmms", "How many chairs?", None, "na") == (
        "These are frames of a video.\nHow many chairs?\nPlease answer the question using a single word or phrase."
    )
    assert prompts.eval_user_text("lmms", "Which?", OPTS, "mca") == (
        "These are frames of a video.\nWhich?\nOptions:\nA. chair\nB. table\n"
        "Answer with the option's letter from the given choices directly."
    )


def test_system_text_and_video_order():
    assert prompts.sft_system_text("official") == "You are a helpful assistant"
    assert prompts.sft_system_text("fixed") is None
    assert prompts.grpo_text_before_video("official") is True
    assert prompts.grpo_text_before_video("fixed") is False


def test_unknown_names():
    with pytest.raises(UnknownNameError, match="prompt style"):
        prompts.eval_user_text("chat", "Q", None, "na")
    with pytest.raises(UnknownNameError, match="fidelity"):
        prompts.grpo_user_text("Q", None, "na", fidelity="paper")
    with pytest.raises(UnknownNameError, match="prompt kind"):
        prompts.sft_user_text(2, "Q", None, "box")
    with pytest.raises(UnknownNameError, match="SFT stage"):
        prompts.sft_user_text(3, "Q")
