"""GRPO groups that carry no learning signal: which they are, how many per modality, which to keep.

A group is one prompt's ``num_generations`` completions. trl 1.16 normalises rewards within the group
(``A = (r - mean_g) / (std_g + 1e-4)``, ``GRPOTrainer._generate_and_score_completions``), so a group whose weighted
rewards are all equal (all right or all wrong under exact-match answers) gets advantage 0 on every completion: it
costs a rollout and log-prob passes and moves nothing but the KL term. :func:`zero_variance_groups` flags such groups
exactly as trl flags them for its own ``frac_reward_zero_std`` (``isclose(nanstd(group), 0)`` of the weighted sum,
completions no reward could score left out); :class:`GroupTally` turns the flags into per-modality shares for the
trainer log; :func:`choose_groups` is DAPO's dynamic sampling choice (arXiv 2503.14476 §3.2).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spatialladder.vocab import DATA_TYPES

ZERO_VARIANCE_KEY = "groups/zero_variance"
"""Logged share of the groups generated for one batch whose rewards have zero variance; ``<key>/<data_type>`` per
modality (only for modalities the batch holds)."""
PROMPTS_DRAWN_KEY = "dynamic_sampling/prompts_drawn"
"""Logged per batch under dynamic sampling: further prompts drawn (all processes)."""
DROPPED_KEY = "dynamic_sampling/zero_variance_dropped"
"""Zero-variance groups left out."""
KEPT_KEY = "dynamic_sampling/zero_variance_kept"
"""Zero-variance groups kept to fill a batch that hit the draw cap."""
HIT_CAP_KEY = "dynamic_sampling/hit_cap"
"""1.0 for a batch that hit the cap, else 0.0."""


def zero_variance_groups(rewards_per_func: Any, weights: Any, num_generations: int) -> list[bool]:
    """One flag per group of ``num_generations`` consecutive rows of ``rewards_per_func`` (rows × reward functions,
    NaN where a function gave None): True where the weighted rewards do not vary within the group."""
    import torch
    from trl.trainer.utils import nanstd

    rows = rewards_per_func.size(0)
    if rows % num_generations:
        raise RuntimeError(f"{rows} scored completions do not split into groups of {num_generations}")
    unscorable = torch.isnan(rewards_per_func).all(dim=1)
    rewards = (rewards_per_func * weights.to(rewards_per_func.device).unsqueeze(0)).nansum(dim=1)
    rewards[unscorable] = torch.nan
    if num_generations == 1:  # as trl: a single completion has no spread to learn from
        return [True] * rows
    std = nanstd(rewards.view(-1, num_generations), dim=1)
    return torch.isclose(std, torch.zeros_like(std)).tolist()


@dataclass
class GroupTally:
    """Groups and zero-variance groups per modality, gathered over one generation batch (every draw of it)."""

    groups: Counter = field(default_factory=Counter)
    zero: Counter = field(default_factory=Counter)

    def add(self, data_types: Sequence[str | None], zero_flags: Sequence[bool]) -> None:
        if len(data_types) != len(zero_flags):
            raise RuntimeError(f"{len(data_types)} group modalities for {len(zero_flags)} groups")
        for kind, flag in zip(data_types, zero_flags, strict=True):
            self.groups[kind] += 1
            self.zero[kind] += bool(flag)

    def shares(self) -> dict[str, float]:
        """``groups/zero_variance`` over all groups, and per modality of ``vocab.DATA_TYPES`` present."""
        total = sum(self.groups.values())
        if not total:
            return {}
        out = {ZERO_VARIANCE_KEY: sum(self.zero.values()) / total}
        for kind in DATA_TYPES:
            if self.groups[kind]:
                out[f"{ZERO_VARIANCE_KEY}/{kind}"] = self.zero[kind] / self.groups[kind]
        return out

    def flush(self, metrics: MutableMapping[str, list[float]]) -> None:
        """Append the shares to trl's per-step metric lists (averaged over a logging window) and start over."""
        for key, value in self.shares().items():
            metrics[key].append(value)
        self.groups.clear()
        self.zero.clear()


def choose_groups(zero_flags: Sequence[bool], quota: int) -> list[int]:
    """Indices (in draw order) of the ``quota`` groups a dynamically sampled batch keeps: informative groups first,
    in the order drawn (verl keeps the first ``train_batch_size`` prompts, dropping the surplus); when fewer exist
    (the draw cap was hit), zero-variance groups in draw order fill the rest."""
    informative = [i for i, zero in enumerate(zero_flags) if not zero][:quota]
    filler = [i for i, zero in enumerate(zero_flags) if zero][: quota - len(informative)]
    if len(informative) + len(filler) < quota:
        raise RuntimeError(f"{len(zero_flags)} groups drawn cannot fill a batch of {quota}")
    return sorted(informative + filler)
