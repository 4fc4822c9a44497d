"""The official stage-3 format reward (``official-spatialladder.md`` §5.4), the same for every model family.

Qwen3.5's chat template has its own ``<think>`` block; every stage renders its prompts with ``enable_thinking=False``
(``ModelFamily.chat_template_kwargs``), so that block is the empty ``<think>\\n\\n</think>\\n\\n`` at the end of the
prompt and a completion is ours alone: ``<think>…</think><answer>…</answer>``, as for Qwen2.5-VL (docs/fidelity.md,
"Qwen3.5"). A completion of the template's thinking mode (``…</think>\\n\\n<answer>…``, its ``<think>`` in the
prompt) scores 0.
"""

from __future__ import annotations

import re

FORMAT_PATTERN = re.compile(r"^<think>.*?</think>\s*<answer>.*?</answer>$", re.DOTALL)
"""The official regex, applied with ``fullmatch`` to the stripped completion."""
_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def format_reward(completion: str, solution: str = "", answer_kind: str = "") -> float:
    """1.0 when the stripped completion is exactly ``<think>…</think>`` then ``<answer>…</answer>``, else 0.0.

    Official checks, in order: full match of ``FORMAT_PATTERN``; no ``<think>`` inside the first think block;
    exactly one ``<think>`` and one ``<answer>`` tag overall. ``solution``/``answer_kind`` are unused (uniform
    reward signature).

    Example:
        >>> format_reward("<think>hmm</think> <answer>B</answer>")
        1.0
    """
    text = completion.strip()
    if not FORMAT_PATTERN.fullmatch(text):
        return 0.0
    think = _THINK_BLOCK.search(text)
    if think and "<think>" in think.group(1):
        return 0.0
    if text.count("<think>") != 1 or text.count("<answer>") != 1:
        return 0.0
    return 1.0
