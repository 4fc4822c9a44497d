"""From per-sample scores to benchmark numbers, with each benchmark's official averaging rule.

VSI-Bench and SPBench average *task types* (macro), CV-Bench averages *sources*, SPAR-Bench and ViewSpatial
average *samples*. Scores come in as fractions in [0, 1] and leave as percentages (×100, as the official tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from spatialladder.errors import DataFormatError, UnknownNameError
from spatialladder.vocab import (
    DIRECTION_MERGES,
    VSI_ANSWER_KINDS,
    VSI_DIRECTION_SUBTYPES,
    VSI_DIRECTION_TYPE,
    DirectionMerge,
)


def per_type_means(question_types: Sequence[str], scores: Sequence[float]) -> dict[str, float]:
    """Unweighted mean score per question type, in first-seen order."""
    if len(question_types) != len(scores):
        raise DataFormatError(f"{len(question_types)} question types but {len(scores)} scores")
    sums: dict[str, list[float]] = {}
    for question_type, score in zip(question_types, scores, strict=True):
        sums.setdefault(question_type, []).append(float(score))
    return {t: sum(v) / len(v) for t, v in sums.items()}


def merge_rel_direction(per_type: Mapping[str, float], mode: DirectionMerge = "present") -> dict[str, float]:
    """Replace the easy/medium/hard direction means by their unweighted mean under ``object_rel_direction``.

    Modes (they agree whenever all three subtypes are present, e.g. on the full VSI-Bench):
      - ``present`` (default, fixed): mean of the subtypes present; none present → unchanged (SPBench's own
        ``object_rel_direction`` type is kept).
      - ``official`` (SpatialLadder ``vsibench_aggregate_results``): only when ``object_rel_direction`` is not
        already a type (SPBench's own type is kept as is), ``try`` pop all three, ``except`` set the key to 0, so a
        VSI-Bench subset missing one subtype scores 0 on direction (a subtype popped before the miss is lost).
      - ``tis`` (VSI-Bench authors): merge only if ``easy`` is present; a missing medium/hard is an error.
    """
    if mode not in DIRECTION_MERGES:
        raise UnknownNameError("direction merge", mode, list(DIRECTION_MERGES))
    out = dict(per_type)
    present = [t for t in VSI_DIRECTION_SUBTYPES if t in out]
    if mode == "official":
        if VSI_DIRECTION_TYPE in out:  # the official ``if 'object_rel_direction_accuracy' not in output`` guard
            return out
        if len(present) == 3:
            out[VSI_DIRECTION_TYPE] = sum(out.pop(t) for t in VSI_DIRECTION_SUBTYPES) / 3.0
        else:
            # The official pops in order and stops at the first missing key; the popped ones are lost.
            for t in VSI_DIRECTION_SUBTYPES:
                if t not in out:
                    break
                out.pop(t)
            out[VSI_DIRECTION_TYPE] = 0.0
        return out
    if mode == "tis":
        if VSI_DIRECTION_SUBTYPES[0] not in out:
            return out
        missing = [t for t in VSI_DIRECTION_SUBTYPES if t not in out]
        if missing:
            raise DataFormatError(f"direction merge 'tis' needs all three subtypes; missing {missing}")
        out[VSI_DIRECTION_TYPE] = sum(out.pop(t) for t in VSI_DIRECTION_SUBTYPES) / 3.0
        return out
    if present:
        out[VSI_DIRECTION_TYPE] = sum(out.pop(t) for t in present) / len(present)
    return out


def vsi_aggregate(
    question_types: Sequence[str],
    scores: Sequence[float],
    kind_of_type: Mapping[str, str],
    direction_merge: DirectionMerge = "present",
) -> dict[str, object]:
    """VSI-Bench / SPBench numbers: per-type means, direction merge, ``overall`` = mean over task types ×100.

    ``mca``/``na`` are the means over the MC / numeric task entries. Returns
    ``{"overall": float, "per_type": {type: float}, "mca": float | None, "na": float | None}`` in percent.
    """
    per_type = merge_rel_direction(per_type_means(question_types, scores), direction_merge)
    if not per_type:
        raise DataFormatError("no scored samples to aggregate")
    kinds = {t: ("mca" if t == VSI_DIRECTION_TYPE else kind_of_type.get(t)) for t in per_type}
    unknown = [t for t, k in kinds.items() if k not in VSI_ANSWER_KINDS]
    if unknown:
        raise DataFormatError(f"no answer kind for question types {unknown}")
    mca = [v for t, v in per_type.items() if kinds[t] == "mca"]
    na = [v for t, v in per_type.items() if kinds[t] == "na"]
    return {
        "overall": 100.0 * sum(per_type.values()) / len(per_type),
        "per_type": {t: 100.0 * v for t, v in per_type.items()},
        "mca": 100.0 * sum(mca) / len(mca) if mca else None,
        "na": 100.0 * sum(na) / len(na) if na else None,
    }


def per_source_aggregate(
    sources: Sequence[str],
    question_types: Sequence[str],
    scores: Sequence[float],
    kind_of_type: Mapping[str, str],
    direction_merge: DirectionMerge = "present",
) -> dict[str, dict[str, object]]:
    """VSI-Bench per source (``dataset``: arkitscenes, scannet, scannetpp): :func:`vsi_aggregate` over each source's
    samples alone, so a column is what the official overall would be on that source.

    Returns ``{source: {"overall": pct, "per_type": {type: pct}, "n": int}}`` for the sources present, sorted."""
    if not len(sources) == len(question_types) == len(scores):
        raise DataFormatError(f"{len(sources)} sources, {len(question_types)} question types, {len(scores)} scores")
    out: dict[str, dict[str, object]] = {}
    for source in sorted(set(sources)):
        keep = [i for i, s in enumerate(sources) if s == source]
        agg = vsi_aggregate([question_types[i] for i in keep], [scores[i] for i in keep], kind_of_type, direction_merge)
        out[source] = {"overall": agg["overall"], "per_type": agg["per_type"], "n": len(keep)}
    return out


def cvbench_aggregate(sources: Sequence[str], scores: Sequence[float]) -> dict[str, float | None]:
    """CV-Bench: ``overall = mean(mean(ADE20K, COCO), Omni3D)``; absent sources are skipped (official nan rule)."""
    by_source = per_type_means(sources, scores)
    unknown = sorted(set(by_source) - {"ADE20K", "COCO", "Omni3D"})
    if unknown:
        raise DataFormatError(f"CV-Bench source must be ADE20K, COCO or Omni3D; got {unknown}")
    two_d = [by_source[s] for s in ("ADE20K", "COCO") if s in by_source]
    acc_2d = sum(two_d) / len(two_d) if two_d else None
    acc_3d = by_source.get("Omni3D")
    parts = [a for a in (acc_2d, acc_3d) if a is not None]
    if not parts:
        raise DataFormatError("no scored samples to aggregate")

    def pct(x: float | None) -> float | None:
        return None if x is None else 100.0 * x

    return {
        "overall": 100.0 * sum(parts) / len(parts),
        "2d": pct(acc_2d),
        "3d": pct(acc_3d),
        "ADE20K": pct(by_source.get("ADE20K")),
        "COCO": pct(by_source.get("COCO")),
        "Omni3D": pct(acc_3d),
    }


def sample_weighted_aggregate(question_types: Sequence[str], scores: Sequence[float]) -> dict[str, object]:
    """SPAR-Bench / ViewSpatial / MMSI / MindCube: ``overall`` = mean over samples ×100, plus per-type means."""
    if not scores:
        raise DataFormatError("no scored samples to aggregate")
    per_type = per_type_means(question_types, scores)
    return {
        "overall": 100.0 * sum(float(s) for s in scores) / len(scores),
        "per_type": {t: 100.0 * v for t, v in per_type.items()},
    }
