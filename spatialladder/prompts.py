"""Every prompt text the pipeline sends to a model, in one place.

Why one module: the official SpatialLadder code carries five near-copies of these strings that drifted apart
(``Question: {q} \\n`` vs ``Question: {q}\\n``, ``Please Think`` vs ``Please think``, a missing newline before
``Options:`` in stage 2, a blank line before the post prompt only at eval, a system prompt without a period in
SFT only). Training and evaluation here build their text from the functions below, so a drift is either
reproduced on purpose (``fidelity="official"``) or removed (``fidelity="fixed"``, the default), never by accident.

Sources (see ``docs/fidelity.md``, section "Prompts"):

- stage 1 / stage 2 / cold start SFT: ``official-spatialladder.md`` §3-§4
  (``sft_spld_stage{1,2}.py``, ``sft_spld_cs.py``);
- stage 3 GRPO: §5.2 (``grpo_spld_stage3.py get_question_prompt``);
- SpatialLadder eval ``direct``/``thinking``: §6.2 (``eval_spld/data_utils/*_utils.py PROMPT_TEMPLATES``);
- lmms-eval VSI-Bench: ``vsibench-spbench-scannet.md`` §1.4 (``vsibench_doc_to_text``).

``fixed`` means: the training texts equal the evaluation texts of the same style, so a model is evaluated on
exactly the prompt it was trained on. Stage 2 ``fixed`` = eval ``direct`` (non-VSI wording); stage 3 / cold start
``fixed`` = eval ``thinking``.

The texts are the same for every model family. Qwen3.5's own ``<think>`` block is a matter of rendering, not of
text: its prompts end with the template's empty think block (``ModelFamily.chat_template_kwargs``), and the
``<think> </think>`` / ``<answer> </answer>`` asked for below follow it (docs/fidelity.md, "Qwen3.5").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from spatialladder.errors import UnknownNameError
from spatialladder.vocab import (
    PROMPT_FIDELITIES,
    PROMPT_KINDS,
    PROMPT_STYLES,
    VSI_ANSWER_KINDS,
    PromptFidelity,
    PromptKind,
    PromptStyle,
)

# --- system prompt --------------------------------------------------------------------------------------------

SFT_SYSTEM_TEXT_OFFICIAL = "You are a helpful assistant"
"""The official SFT scripts send this system message; note the missing period (the Qwen template default has one)."""

# --- stage 1: localization SFT (§4.1) -------------------------------------------------------------------------

LOCALIZATION_TEMPLATE = (
    "Question: {question}\n"
    "Please carefully observe the image first to identify the object(s) referred to in the question. "
    "Note that each object type appears only once in the image. "
    "Please provide the 2D bounding box coordinates and labels of the related objects in JSON format. "
)
"""Exact, including the trailing space; identical under both fidelities (there is no drift to fix)."""

# --- "direct" answers: stage 2 SFT and eval default mode (§4.2, §6.2) ----------------------------------------

QUESTION_PRE = "Question: {question}\n"
MCA_DIRECT_POST = "Please answer with the option's letter from the given choices directly."
"""Stage 2 and the non-VSI eval scripts (CV-Bench, SPAR, ViewSpatial)."""
MCA_DIRECT_POST_WITH_EXAMPLES = (
    "Please answer with the option's letter from the given choices (e.g., A, B, etc.) directly."
)
"""The VSI-Bench / SPBench eval script (``vsi_utils.py``) adds ``(e.g., A, B, etc.)``."""
NA_DIRECT_POST = "Please answer the question using a numerical value (e.g., 42 or 3.1) directly."
FREE_DIRECT_POST = "Please output the answer directly."
"""SPAR-Bench ``view_change_infer`` in default mode."""

# --- "thinking" answers: stage 3 GRPO, cold start, eval thinking mode (§5.2, §6.2) ----------------------------

_THINK_SENTENCES = (
    "about this question as if you were a human pondering deeply. "
    "Engage in an internal dialogue using expressions such as 'let me think', 'wait', 'Hmm', 'oh, I see', "
    "'let's break it down', etc, or other natural language thought expressions "
    "It's encouraged to include self-reflection or verification in the reasoning process. \n"
)
GRPO_PRE_OFFICIAL = "Question: {question} \nPlease Think " + _THINK_SENTENCES
"""Stage-3 training text: a space before the first newline and a capital ``Think``."""
THINKING_PRE = "Question: {question}\nPlease think " + _THINK_SENTENCES
"""Eval ``thinking`` text (``THINKING_TEMPLATE``): no space, lowercase ``think``."""
MCA_THINK_POST = (
    "Please provide your detailed reasoning between the <think> </think> tags, "
    "and then answer the question with the option's letter from the given choices (e.g., A, B, etc.) "
    "within the <answer> </answer> tags."
)
NA_THINK_POST = (
    "Please provide your detailed reasoning between the <think> </think> tags, "
    "and then answer the question with a numerical value (e.g., 42 or 3.1) within the <answer> </answer> tags."
)
FREE_THINK_POST = (
    "Please provide your detailed reasoning between the <think> </think> tags, "
    "and then answer the question simply within the <answer> </answer> tags."
)

# --- lmms-eval VSI-Bench protocol (vsibench-spbench-scannet.md §1.4) --------------------------------------------

LMMS_PRE = "These are frames of a video."
"""The task yaml sets ``pre_prompt: ""`` but the code falls back to this string, so it is always sent."""
LMMS_NA_POST = "Please answer the question using a single word or phrase."
LMMS_MCA_POST = "Answer with the option's letter from the given choices directly."

# --- benchmark-specific extras ----------------------------------------------------------------------------------

SPAR_BOX_NOTE = (
    "The values represent the bounding box coordinates normalized to a 0-1000 scale, "
    "with the top-left corner as the origin of the image."
)
"""SPAR-Bench inserts this before the MC post prompt for ``position_matching`` and ``camera_motion_infer``."""


MMSI_POST = "\nAnswer with the option's letter from the given choices directly. Enclose the option's letter within ``."
"""MMSI-Bench's official post prompt (InternRobotics/MMSI-Bench README), appended to the question (options inside)."""

MINDCUBE_RAW_QA_INSTRUCTION = (
    "[Task]\n"
    "Your task is to analyze the spatial arrangement of objects in the scene by examining the provided images, "
    "which show the scene from different viewpoints.\n"
    "[Answer Instruction]\n"
    "You only need to provide *ONE* correct answer selecting from the options listed below. For example, if you "
    "think the correct answer is 'A. Above' from 'A. Above B. Under C. Front D. Behind', your response should "
    "**only** be '<answer>A. Above</answer>'.\n"
)
"""MindCube ``raw_qa`` background instruction (mll-lab-nu/MindCube ``src/prompt_generation/templates.py``)."""
MINDCUBE_QUESTION_HEADER = "[Question]\n"


def mmsi_user_text(question: str) -> str:
    """MMSI-Bench official text: the question (options embedded) followed by ``MMSI_POST``."""
    return question + MMSI_POST


def mindcube_raw_qa_text(question: str) -> str:
    """MindCube ``raw_qa`` text: instruction and ``[Question]`` block joined by a newline, as ``RawQATemplate``."""
    return MINDCUBE_RAW_QA_INSTRUCTION + "\n" + MINDCUBE_QUESTION_HEADER + question


def _check(kind: str, name: str, choices: Sequence[str]) -> None:
    if name not in choices:
        raise UnknownNameError(kind, name, list(choices))


def with_options(question: str, options: Sequence[str] | None, *, newline_before: bool = True) -> str:
    """Append ``Options:`` and one option per line; stage 2 official omits the newline before ``Options:``.

    Example:
        >>> with_options("Which?", ["A. x", "B. y"])
        'Which?\\nOptions:\\nA. x\\nB. y'
    """
    if not options:
        return question
    return question + ("\n" if newline_before else "") + "Options:\n" + "\n".join(options)


def _post(kind: str, *, thinking: bool, letter_examples: bool = False) -> str:
    _check("prompt kind", kind, PROMPT_KINDS)
    if thinking:
        return {"mca": MCA_THINK_POST, "na": NA_THINK_POST, "free": FREE_THINK_POST}[kind]
    mca = MCA_DIRECT_POST_WITH_EXAMPLES if letter_examples else MCA_DIRECT_POST
    return {"mca": mca, "na": NA_DIRECT_POST, "free": FREE_DIRECT_POST}[kind]


def sft_system_text(fidelity: PromptFidelity = "fixed") -> str | None:
    """System message for SFT rows: the official period-less text, or None to let the template add its default."""
    _check("fidelity", fidelity, PROMPT_FIDELITIES)
    return SFT_SYSTEM_TEXT_OFFICIAL if fidelity == "official" else None


def localization_user_text(question: str) -> str:
    """Stage 1 user text (the referring question followed by the box/JSON instruction)."""
    return LOCALIZATION_TEMPLATE.format(question=question)


def direct_user_text(
    question: str, options: Sequence[str] | None, kind: PromptKind, *, fidelity: PromptFidelity = "fixed"
) -> str:
    """Stage 2 user text: ``Question: …\\n`` + blank line + the direct post prompt."""
    _check("fidelity", fidelity, PROMPT_FIDELITIES)
    full = with_options(question, options, newline_before=fidelity == "fixed")
    return QUESTION_PRE.format(question=full) + "\n" + _post(kind, thinking=False)


def grpo_user_text(
    question: str, options: Sequence[str] | None, kind: PromptKind, *, fidelity: PromptFidelity = "fixed"
) -> str:
    """Stage 3 (and cold-start) user text.

    ``official``: ``pre + post`` with the training-only spelling (``Question: q \\n``, ``Please Think``).
    ``fixed``: the eval ``thinking`` text, so the RL prompt is the prompt the model is scored on.
    """
    _check("fidelity", fidelity, PROMPT_FIDELITIES)
    full = with_options(question, options)
    if fidelity == "official":
        return GRPO_PRE_OFFICIAL.format(question=full) + _post(kind, thinking=True)
    return thinking_user_text(question, options, kind)


def coldstart_user_text(
    question: str, options: Sequence[str] | None, kind: PromptKind, *, fidelity: PromptFidelity = "fixed"
) -> str:
    """Cold-start SFT user text. The official data stores it verbatim; it teaches the stage-3 format, so it is
    the stage-3 prompt (the reference marks the exact match as unverified)."""
    return grpo_user_text(question, options, kind, fidelity=fidelity)


def sft_user_text(
    stage: Literal[1, 2, "cs"],
    question: str,
    options: Sequence[str] | None = None,
    kind: PromptKind = "mca",
    *,
    fidelity: PromptFidelity = "fixed",
) -> str:
    """User text of an SFT row for stage 1 (localization), 2 (direct answer) or ``"cs"`` (cold start)."""
    if stage == 1:
        return localization_user_text(question)
    if stage == 2:
        return direct_user_text(question, options, kind, fidelity=fidelity)
    if stage == "cs":
        return coldstart_user_text(question, options, kind, fidelity=fidelity)
    raise UnknownNameError("SFT stage", str(stage), ["1", "2", "cs"])


def thinking_user_text(
    question: str, options: Sequence[str] | None, kind: PromptKind, *, extra: str | None = None
) -> str:
    """SpatialLadder eval ``thinking`` text: ``THINKING_PRE`` + ``\\n`` + post (a blank line before the post)."""
    full = with_options(question, options)
    middle = "\n" if extra is None else "\n" + extra + "\n"
    return THINKING_PRE.format(question=full) + middle + _post(kind, thinking=True)


def lmms_user_text(question: str, options: Sequence[str] | None, kind: PromptKind) -> str:
    """lmms-eval VSI-Bench text: pre-prompt, question, (options,) post-prompt, joined by newlines."""
    _check("prompt kind", kind, VSI_ANSWER_KINDS)
    if kind == "na":
        return LMMS_PRE + "\n" + question + "\n" + LMMS_NA_POST
    return "\n".join([LMMS_PRE, question, "Options:\n" + "\n".join(options or []), LMMS_MCA_POST])


def eval_user_text(
    style: PromptStyle,
    question: str,
    options: Sequence[str] | None,
    kind: PromptKind,
    *,
    letter_examples: bool = False,
    extra: str | None = None,
) -> str:
    """User text of one benchmark question.

    Args:
        style: ``lmms`` (lmms-eval VSI-Bench protocol), ``direct`` or ``thinking`` (SpatialLadder eval).
        options: appended as ``\\nOptions:\\n…``; pass None when the benchmark embeds them in the question.
        kind: ``mca``/``na``/``free`` picks the post prompt.
        letter_examples: ``direct`` MC wording with ``(e.g., A, B, etc.)`` (VSI-Bench and SPBench scripts).
        extra: SPAR-Bench MC only: a line between the question and the post prompt (``""`` keeps the official
            empty line, ``SPAR_BOX_NOTE`` for box tasks); None for every other benchmark.
    """
    _check("prompt style", style, PROMPT_STYLES)
    if style == "lmms":
        return lmms_user_text(question, options, kind)
    if style == "thinking":
        return thinking_user_text(question, options, kind, extra=extra)
    full = with_options(question, options)
    middle = "\n" if extra is None else "\n" + extra + "\n"
    return QUESTION_PRE.format(question=full) + middle + _post(kind, thinking=False, letter_examples=letter_examples)


def grpo_text_before_video(fidelity: PromptFidelity = "fixed") -> bool:
    """The official GRPO trainer puts the text before the video (every other phase puts vision first)."""
    _check("fidelity", fidelity, PROMPT_FIDELITIES)
    return fidelity == "official"
