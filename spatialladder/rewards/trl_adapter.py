"""Turn a pure reward into trl's batch reward signature, keeping the name trl logs under.

trl calls ``f(prompts=…, completions=…, completion_ids=…, **dataset_columns, trainer_state=…, …)`` and logs
``rewards/<f.__name__>/mean``. Completions are conversational (``[[{"role": "assistant", "content": str}], …]``)
or plain strings; content may also be a list of ``{"type": "text", "text": …}`` parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.rewards import REWARDS_WITHOUT_ANSWER, RewardFn, get_reward

TrlRewardFn = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """The assistant text of one trl completion (string, message list, or content-part list)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return completion_text(completion.get("content", ""))
    if isinstance(completion, Sequence):
        parts = []
        for item in completion:
            if isinstance(item, dict) and "role" in item:
                if item["role"] == "assistant":
                    parts.append(completion_text(item.get("content", "")))
            elif isinstance(item, dict):
                if item.get("type", "text") == "text":
                    parts.append(str(item.get("text", "")))
            else:
                parts.append(completion_text(item))
        return "".join(parts)
    raise DataFormatError(f"cannot read a completion of type {type(completion).__name__}: {completion!r:.80}")


def as_trl_reward(name: str, fn: RewardFn | None = None, weight: float = 1.0) -> TrlRewardFn:
    """trl reward function for ``fn`` (default: the registered ``name``), scaled by ``weight``.

    Leave ``weight`` at 1.0 when passing weights through ``GRPOConfig.reward_weights`` instead (do not do both).
    The result's ``__name__`` is ``name``, so trl logs ``rewards/<name>/mean``.
    """
    reward_fn = fn if fn is not None else get_reward(name)
    needs_answer = name not in REWARDS_WITHOUT_ANSWER

    def reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
        n = len(completions)
        solutions, kinds = kwargs.get("solution"), kwargs.get("answer_kind")
        if needs_answer and (solutions is None or kinds is None):
            raise DataFormatError(
                f"reward {name!r} needs dataset columns 'solution' and 'answer_kind'; "
                f"got columns {sorted(k for k in kwargs if k not in ('trainer_state', 'log_extra', 'log_metric'))}"
            )
        solutions = [""] * n if solutions is None else list(solutions)
        kinds = [""] * n if kinds is None else list(kinds)
        if len(solutions) != n or len(kinds) != n:
            raise DataFormatError(f"reward {name!r}: {n} completions but {len(solutions)} solutions/{len(kinds)} kinds")
        return [
            weight * float(reward_fn(completion_text(c), str(s), str(k)))
            for c, s, k in zip(completions, solutions, kinds, strict=True)
        ]

    reward.__name__ = name
    reward.__qualname__ = name
    reward.__doc__ = f"trl wrapper of the {name!r} reward (weight {weight})."
    return reward
