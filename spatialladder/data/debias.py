"""Debiasing as an option: TsT's Iterative Bias Pruning (IBP) over our generated spatial records.

TsT (vision-x-nyu/test-set-training ``src/TsT/debiasing/ibp.py`` @472257c, ``docs/ibp.md``; paper Sec. 4,
Algorithm 1): each round runs the non-visual diagnostic on the remaining questions, takes every question's
held-out bias score s(x) (P(gold) for MC, the MRA of the prediction for numbers), removes the top-scoring batch
(ties by position: TsT's stable ``(-score, id)`` order, scores compared at 12 decimals), and repeats until the
budget is spent or the scores fall to a threshold, re-fitting between rounds. Ours, per (modality, question type)
as TsT's ``per_type`` allocation: the threshold is the audit's own criterion (best non-visual score within
``margin_pp`` of chance) and the budget ``max_removed_fraction`` of the type; s(x) is that of the better of the
audit's two predictors (TsT ranks by its forest's; a majority answer that beats the forest is the shortcut to cut).
A type is never pruned below ``min_per_type`` records (TsT's VSI floor: 10).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import Any

from spatialladder.config.data import AuditSettings, DebiasSettings
from spatialladder.data.audit import Item, cross_validate, group_items, items_from_records

logger = logging.getLogger(__name__)


def prune_group(
    items: list[Item], settings: DebiasSettings, audit: AuditSettings, seed: int
) -> tuple[list[int], dict[str, Any]]:
    """Positions (into ``items``) IBP removes from one group, and the group's summary."""
    n0 = len(items)
    budget, floor = int(settings.max_removed_fraction * n0), max(n0 - settings.min_per_type, 0)
    cap = min(budget, floor)
    cap_reason = "removal cap" if budget <= floor else f"min_per_type ({settings.min_per_type})"
    batch = max(1, math.ceil(settings.batch_fraction * n0))
    alive = list(range(n0))
    removed: list[int] = []
    rounds, stop, gap = 0, "budget", None
    while True:
        scores = cross_validate([items[p] for p in alive], audit.folds, seed, audit.trees)
        if scores.reason is not None:
            stop = scores.reason
            break
        gap = round(scores.gap_pp(), 2)
        if gap <= settings.margin_pp:
            stop = "within margin"
            break
        take = min(batch, cap - len(removed))
        if take <= 0:
            stop = cap_reason
            break
        _, bias = scores.best
        order = sorted(range(len(alive)), key=lambda r: (-round(float(bias[r]), 12), alive[r]))
        cut = {alive[r] for r in order[:take]}
        removed += sorted(cut)
        alive = [p for p in alive if p not in cut]
        rounds += 1
    return removed, {"n_before": n0, "n_after": len(alive), "rounds": rounds, "stop": stop, "gap_pp": gap}


def prune_records(
    records: dict[str, list], settings: DebiasSettings, audit: AuditSettings, seed: int
) -> tuple[dict[str, list], dict[str, Any]]:
    """The records without IBP's removals, question ids renumbered 0..n-1 per file, and the manifest's ``debias``.

    Only spatial records are pruned. A cold-start record restates one spatial record (``to_records.
    coldstart_records``: same scene, images, type and answer, its question inside the prompt) and goes with it."""
    spatial = records["spatial"]
    items = items_from_records("spatial", spatial)
    skipped: Counter[str] = Counter()
    groups = group_items(items, skipped)
    dropped: set[int] = set()
    summary = []
    for key in sorted(groups):
        members = groups[key]
        cut, info = prune_group([items[p] for p in members], settings, audit, seed)
        dropped.update(members[c] for c in cut)
        summary.append({"modality": key[1], "question_type": key[2], "kind": key[3], **info})
        logger.info("debias %s/%s: %d → %d records (%s)", key[1], key[2], info["n_before"], info["n_after"],
                    info["stop"])  # fmt: skip
    gone = [spatial[p] for p in sorted(dropped)]
    gone_keys: dict[tuple, list[str]] = {}
    for r in gone:
        gone_keys.setdefault((r.scene_id, tuple(r.image), r.vsi_question_type, r.answer), []).append(r.question)
    coldstart = [
        c
        for c in records.get("coldstart", [])
        if not any(
            q in c.prompt for q in gone_keys.get((c.scene_id, tuple(c.image), c.vsi_question_type, c.answer), [])
        )
    ]
    kept = {**records, "spatial": [r for p, r in enumerate(spatial) if p not in dropped], "coldstart": coldstart}
    kept = {kind: [r.model_copy(update={"question_id": i}) for i, r in enumerate(rows)] for kind, rows in kept.items()}
    report = {
        "margin_pp": settings.margin_pp,
        "max_removed_fraction": settings.max_removed_fraction,
        "before": _counts(spatial),
        "after": _counts(kept["spatial"]),
        "rounds": max((g["rounds"] for g in summary), default=0),
        "coldstart_removed": len(records.get("coldstart", [])) - len(coldstart),
        "groups": summary,
    }
    return kept, report


def _counts(rows: list) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r.modality, {})
        out[r.modality][r.vsi_question_type] = out[r.modality].get(r.vsi_question_type, 0) + 1
    return {m: dict(sorted(t.items())) for m, t in sorted(out.items())}
