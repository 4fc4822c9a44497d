"""Scalar metrics and answer parsers shared by the GRPO rewards and the benchmark scorers.

One function per official rule, so a reward and the benchmark it targets score an answer identically.
Every parser takes arbitrary text and never raises; "cannot parse" is ``None``, which scores 0.
Sources: ``vsibench-spbench-scannet.md`` §1.4, §1.4b, §4 and ``official-spatialladder.md`` §5.4, §6.4.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from spatialladder.errors import UnknownNameError
from spatialladder.vocab import VSI_ANSWER_KINDS, ScoringProfile, VsiAnswerKind

MRA_START, MRA_END, MRA_INTERVAL = 0.5, 0.95, 0.05


def mra_confidences(start: float = MRA_START, end: float = MRA_END, interval: float = MRA_INTERVAL) -> np.ndarray:
    """The official confidence grid ``np.linspace(start, end, int((end - start) / interval + 2))``.

    In float64 ``(.95 - .5) / .05 + 2`` is 10.999…, so ``int`` gives 10 points 0.50 … 0.95 (not 11).
    """
    return np.linspace(start, end, int((end - start) / interval + 2))


MRA_CONFIDENCES = mra_confidences()
"""(10,) float64: 0.50, 0.55, …, 0.95. A sample passes confidence C when ``relative error <= 1 - C``."""


def mean_relative_accuracy(pred: float | None, target: float | None) -> float:
    """Mean relative accuracy (VSI-Bench): the fraction of the 10 confidences C with ``|p - t| / t <= 1 - C``.

    Bit-for-bit the official ``<=`` rule in float64 (pred 5 / target 4 → 0.6; pred 3 / target 2 → 0.1).
    Differences from the official code, which only matter where it would crash or misbehave:
    ``None`` (unparsable) → 0.0; target 0 uses the absolute error ``|p|`` (SPAR-Bench's convention; the official
    VSI code raises ZeroDivisionError); a negative target divides by ``|t|`` (the official code's negative ratio
    would pass every threshold). NaN or infinite inputs → 0.0.

    Example:
        >>> mean_relative_accuracy(5.0, 4.0)
        0.6
    """
    if pred is None or target is None:
        return 0.0
    pred, target = float(pred), float(target)
    if not (math.isfinite(pred) and math.isfinite(target)):
        return 0.0
    error = abs(pred - target) / abs(target) if target != 0 else abs(pred)
    return float(np.mean(error <= 1 - MRA_CONFIDENCES))


def exact_match(pred: str | None, target: str | None) -> float:
    """Case-insensitive string equality (VSI-Bench ``exact_match``); None → 0.0."""
    if pred is None or target is None:
        return 0.0
    return 1.0 if pred.lower() == target.lower() else 0.0


def to_float(text: str | float | None) -> float | None:
    """Python ``float()`` or None, as the official ``to_float`` (so ``"1_0"`` → 10.0 and ``"nan"`` → nan)."""
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError, OverflowError):
        return None


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x1, y1, x2, y2]`` boxes (pixel corners, any unit); degenerate or disjoint → 0.0."""
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    inter_w = min(ax2, bx2) - max(ax1, bx1)
    inter_h = min(ay2, by2) - max(ay1, by1)
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = max(ax2 - ax1, 0.0) * max(ay2 - ay1, 0.0) + max(bx2 - bx1, 0.0) * max(by2 - by1, 0.0) - inter
    if not math.isfinite(union) or union <= 0:
        return 0.0
    return inter / union


# --- answer extraction ------------------------------------------------------------------------------------------

_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def answer_blocks(text: str) -> list[str]:
    """Contents of every ``<answer>…</answer>`` block, in order (non-greedy, DOTALL as the official regex)."""
    return _ANSWER_BLOCK.findall(text)


def extract_eval_answer(text: str) -> str:
    """SpatialLadder eval ``extract_answer_text`` (thinking mode): the first block, stripped, when ``<answer>``
    occurs; ``"None"`` when it occurs without a closing tag; the raw output otherwise. Training uses the last block.
    """
    if "<answer>" not in text:
        return text
    blocks = answer_blocks(text)
    return blocks[0].strip() if blocks else "None"


# --- multiple choice --------------------------------------------------------------------------------------------


def first_token(text: str) -> str:
    """lmms-eval / VSI-Bench ``fuzzy_matching``: first space-separated token, trailing ``.`` stripped.

    So ``"A."`` and ``"A. left"`` → ``"A"`` and ``"The answer is A"`` → ``"The"``.
    """
    return text.split(" ")[0].rstrip(".").strip()


_SL_LETTER = re.compile(r"^[A-D]\.?$")


def spatialladder_letter(text: str) -> str:
    """SpatialLadder eval ``fuzzy_matching``: a first space-separated token ``A``-``D`` (optionally ``.``, upper
    case only) becomes the letter, anything else the whole stripped text."""
    match = _SL_LETTER.search(text.split(" ")[0].strip())
    if match:
        return match.group(0).rstrip(".").upper().strip()
    return text.strip()


def spatialladder_option(text: str) -> str:
    """SpatialLadder VSI/SPBench MC normaliser: drop ``Answer:``, then ``spatialladder_letter`` (the VSI scorer
    then compares case-insensitively, so a bare ``"a"`` still matches ``"A"``)."""
    return spatialladder_letter(text.replace("Answer:", ""))


_BRACKETED_LETTER = re.compile(r"^[\(\[\{]?[A-D][\)\]\}]?\.?$", re.IGNORECASE)
_NOT_LETTER = re.compile(r"[^A-D]")


def bracketed_option(text: str) -> str:
    """CV-Bench / ViewSpatial MC normaliser: a first token like ``(C)``, ``[b]`` or ``D.`` becomes its upper-case
    letter; anything else the whole stripped text. Applied to the ground truth too (``"(C)"`` → ``"C"``)."""
    match = _BRACKETED_LETTER.search(text.split(" ")[0].strip())
    if match:
        return _NOT_LETTER.sub("", match.group(0).upper())
    return text.strip()


# --- numbers ----------------------------------------------------------------------------------------------------


def parse_number_first_token(text: str) -> float | None:
    """``vsibench-2024``: ``float(text.split(' ')[0].rstrip('.'))``; ``"3.5 meters"`` → 3.5, ``"3.5m"`` → None."""
    return to_float(first_token(text))


_SL_NUMBER_WORDS = {
    **{w: str(i) for i, w in enumerate("one two three four five six seven eight nine ten".split(), start=1)},
    **{w: str(i) for i, w in enumerate("eleven twelve thirteen fourteen fifteen".split(), start=11)},
    **{w: str(i) for i, w in enumerate("sixteen seventeen eighteen nineteen twenty".split(), start=16)},
    **{w: str(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), start=3)},
    "zero": "0",
    "a": "1",
    "an": "1",
}
"""Insertion order matters: the official loop returns the first word of this dict found anywhere in the text."""
_SL_DIGITS = re.compile(r"(\d+(\.\d+)?)")


def spatialladder_number_text(text: str) -> str:
    """SpatialLadder ``fuzzy_matching_num``: number words searched first in dict order (``a``/``an`` → 1),
    else the first unsigned ``\\d+(\\.\\d+)?``, else ``"None"``."""
    lowered = text.strip().lower()
    for word, digits in _SL_NUMBER_WORDS.items():
        if re.search(r"\b" + word + r"\b", lowered):
            return digits
    match = _SL_DIGITS.search(lowered)
    return match.group(1) if match else "None"


def parse_number_spatialladder(text: str) -> float | None:
    """``spatialladder`` profile: ``to_float(fuzzy_matching_num(text))`` (``"There are a few"`` → 1.0)."""
    return to_float(spatialladder_number_text(text))


_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen".split()
    )
}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"hundred": 100, "thousand": 1000}
_WORD = "(?:" + "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True)) + ")"
_WORD_RUN = re.compile(rf"\b{_WORD}\b(?:[\s-]+(?:and[\s-]+)?{_WORD}\b)*")
_SIGNED_DIGITS = re.compile(r"-?\d+(?:\.\d+)?")


def _words_value(run: str) -> float:
    total, current = 0, 0
    for word in re.findall(r"[a-z]+", run):
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
    return float(total + current)


def parse_number_lmms(text: str) -> float | None:
    """``lmms-eval`` (current upstream ``extract_number``): the first number in the text, digits
    (``-?\\d+(\\.\\d+)?``) or a run of English number words (``and`` skipped), whichever starts first.

    ``"There are 3 boxes"`` → 3, ``"twenty-one"`` → 21, ``"three hundred and twenty-one"`` → 321.
    """
    lowered = text.lower()
    digits = _SIGNED_DIGITS.search(lowered)
    words = _WORD_RUN.search(lowered)
    if words and (digits is None or words.start() < digits.start()):
        return _words_value(words.group(0))
    return to_float(digits.group(0)) if digits else None


NUMBER_PARSERS = {  # keys: spatialladder.vocab.SCORING_PROFILES
    "vsibench-2024": parse_number_first_token,
    "lmms-eval": parse_number_lmms,
    "spatialladder": parse_number_spatialladder,
}


def parse_number(text: str, profile: ScoringProfile) -> float | None:
    """Parse a numeric answer with one of the three harness rules (they give different scores; record which)."""
    if profile not in NUMBER_PARSERS:
        raise UnknownNameError("number profile", profile, list(NUMBER_PARSERS))
    return NUMBER_PARSERS[profile](text)


# --- one VSI-Bench / SPBench sample -----------------------------------------------------------------------------


def vsi_sample_score(pred: str, ground_truth: str, kind: VsiAnswerKind, profile: ScoringProfile) -> tuple[float, bool]:
    """Score one VSI-Bench-style answer; returns ``(score in [0, 1], parsed)``.

    ``vsibench-2024`` and ``lmms-eval`` match MC answers on the first token (``fuzzy_matching``) and differ only
    in the number parser; ``spatialladder`` uses its own MC normaliser (``Answer:`` removed) and number parser.
    ``parsed`` is False when no letter (MC) or no number (NA) could be read, for the unparsed counts.
    """
    if profile not in NUMBER_PARSERS:
        raise UnknownNameError("scoring profile", profile, list(NUMBER_PARSERS))
    if kind == "mca":
        option = spatialladder_option(pred) if profile == "spatialladder" else first_token(pred)
        return exact_match(option, ground_truth), len(option) == 1 and option.isalpha()
    if kind == "na":
        number = parse_number(pred, profile)
        return mean_relative_accuracy(number, to_float(ground_truth)), number is not None
    raise UnknownNameError("answer kind", kind, VSI_ANSWER_KINDS)
