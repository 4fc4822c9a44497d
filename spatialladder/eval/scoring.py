"""Scoring: predictions → per-sample scores and the benchmark's aggregate, by the benchmark's official rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.eval.base import BenchmarkSpec, EvalSample
from spatialladder.metrics.core import extract_eval_answer


def score_predictions(
    spec: BenchmarkSpec,
    samples: Sequence[EvalSample],
    predictions: dict[str, dict[str, Any]],
    *,
    prompt: str,
    profile: str,
    direction_merge: str,
    official_quirks: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score every sample that has a prediction, exactly once; unknown prediction ids are an error.

    Returns the summary (what ``results.json`` holds, less ``settings``) and one row per scored sample
    (``scores.jsonl``). ``blind`` is what the predictions say (:func:`blind_predictions`); a blind run records no
    vision grids (``vision_grids`` empty: it saw none, which is not "grids unknown").
    """
    blind = blind_predictions(predictions)
    scorer = spec.scorer(official_quirks)
    by_id = {s.id: s for s in samples}
    unknown = [i for i in predictions if i not in by_id]
    if unknown:
        raise DataFormatError(f"{len(unknown)} predictions have ids not in {spec.name}: {unknown[:5]}")
    scored, scores, per_sample = [], [], []
    unparsed: dict[str, int] = {}
    counts: dict[str, int] = {}
    for sample in samples:
        if sample.id not in predictions:
            continue
        raw = str(predictions[sample.id]["prediction"])
        answer = extract_eval_answer(raw) if prompt == "thinking" else raw
        value, parsed = scorer(answer, sample, profile)
        scored.append(sample)
        scores.append(value)
        counts[sample.question_type] = counts.get(sample.question_type, 0) + 1
        if not parsed:
            unparsed[sample.question_type] = unparsed.get(sample.question_type, 0) + 1
        per_sample.append({"id": sample.id, "question_type": sample.question_type, "answer": answer, "score": value})
    if not scored:
        raise DataFormatError(f"no predictions match any {spec.name} id")
    aggregate = spec.aggregate(scored, scores, direction_merge)
    summary = {
        "bench": spec.name,
        "overall": aggregate["overall"],
        "aggregate": aggregate,
        "n": len(scored),
        "n_missing": len(samples) - len(scored),
        "n_unparsed": sum(unparsed.values()),
        "per_type_counts": {t: {"n": n, "n_unparsed": unparsed.get(t, 0)} for t, n in counts.items()},
        "scoring_profile": profile,
        "direction_merge": direction_merge,
        "official_quirks": official_quirks,
        "answer_extraction": "first <answer> block" if prompt == "thinking" else "none",
        "blind": blind,
        "vision_grids": {} if blind else grid_summary([predictions[s.id] for s in scored]),
    }
    return summary, per_sample


def blind_predictions(predictions: dict[str, dict[str, Any]]) -> bool:
    """Whether the predictions come from a blind run (``eval --blind`` flags every record ``"blind": true``); a file
    mixing blind and sighted records is an error, never scored as one run."""
    flags = {record.get("blind", False) is True for record in predictions.values()}
    if len(flags) > 1:
        n = sum(record.get("blind", False) is True for record in predictions.values())
        raise DataFormatError(
            f"{n} of {len(predictions)} predictions are flagged blind: a predictions file holds one run, blind "
            "(predictions.blind.jsonl) or sighted (predictions.jsonl)"
        )
    return flags == {True}


def grid_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How often each ``[t, h, w]`` grid occurs in the predictions' ``image_grid_thw`` / ``video_grid_thw``, and how
    many predictions carry no grids (another harness's file, or one written before grids were recorded)."""
    out: dict[str, Any] = {"image_grid_thw": {}, "video_grid_thw": {}, "n_without_grids": 0}
    for record in records:
        if "image_grid_thw" not in record and "video_grid_thw" not in record:
            out["n_without_grids"] += 1
            continue
        for key in ("image_grid_thw", "video_grid_thw"):
            rows = record.get(key) or []
            if not isinstance(rows, list) or not all(_is_grid(row) for row in rows):
                raise DataFormatError(
                    f"prediction {record.get('id')!r}: {key} must be a list of [t, h, w] integers; got {rows!r:.80}"
                )
            for row in rows:
                name = "x".join(str(v) for v in row)
                out[key][name] = out[key].get(name, 0) + 1
    return out


def _is_grid(row: Any) -> bool:
    return isinstance(row, list) and len(row) == 3 and all(isinstance(v, int) and not isinstance(v, bool) for v in row)
