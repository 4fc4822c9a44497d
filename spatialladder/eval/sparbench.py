"""SPAR-Bench (``jasonzhango/SPAR-Bench``): 20 tasks on 1 or 3-5 images; MC, numeric and view-change answers.

Layout: one or more parquet files with image bytes, either directly in ``<data>/`` or in ``<data>/data/`` (the Hub
layout, e.g. ``data/test-00000-of-00001.parquet``). Columns: ``id, task, image`` (a list of ``{bytes}``),
``question`` (options embedded), ``answer``, and ``img_type`` (or ``image_type``: single-view / multi-view).

Scoring follows SpatialLadder ``spar_utils.py`` (``official-spatialladder.md`` §6.4; read in the lmms-eval task
``lmms_eval/tasks/sparbench/utils.py`` and the sample-weighted SpatialLadder variant of ``spar_utils.py``):

- MC: lower-cased ``pred == gt``, or ``pred in gt``, or ``pred[0] == gt`` (no first-token step);
- numbers: ``(?<!\\^)\\d+\\.\\d+|(?<!\\^)\\d+``, the first for single-view tasks, the last for ``*_mv`` tasks;
  MRA with ``|p - t| / |t|`` (``|p|`` when t = 0);
- ``view_change_infer``: ``"k:v,k:v"`` actions folded into 5 net axes, the mean of per-axis MRA;
- overall, Low / Middle / High and per-``img_type`` numbers weighted by sample count.

Quirks fixed by default (``official_quirks: true`` restores them, see ``docs/fidelity.md``): an empty MC answer
counts as correct (``"" in gt``); the view-change MRA is called as ``MRA(gt, pred)`` so the error is relative to the
prediction; ``"k: v, k: v"`` with spaces loses its keys (they keep the leading space and match no action).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.eval.base import BenchmarkSpec, EvalSample, image_bytes_list, read_parquet_rows
from spatialladder.metrics.aggregate import sample_weighted_aggregate
from spatialladder.metrics.core import mean_relative_accuracy, to_float
from spatialladder.prompts import SPAR_BOX_NOTE

MCA_TASKS = (
    "obj_spatial_relation_oo",
    "obj_spatial_relation_oc_mv",
    "obj_spatial_relation_oo_mv",
    "spatial_imagination_oc",
    "spatial_imagination_oo",
    "spatial_imagination_oc_mv",
    "spatial_imagination_oo_mv",
    "position_matching",
    "camera_motion_infer",
    "distance_infer_center_oo",
    "distance_infer_center_oo_mv",
)
NA_TASKS = (
    "depth_prediction_oc",
    "depth_prediction_oo",
    "distance_prediction_oc",
    "distance_prediction_oo",
    "depth_prediction_oc_mv",
    "depth_prediction_oo_mv",
    "distance_prediction_oo_mv",
    "distance_prediction_oc_mv",
)
VIEW_CHANGE = "view_change_infer"
LAST_NUMBER_TASKS = frozenset(
    {"depth_prediction_oc_mv", "depth_prediction_oo_mv", "distance_prediction_oc_mv", "distance_prediction_oo_mv"}
)
"""Multi-view numeric tasks whose answer is the *last* number in the output (the rest use the first)."""
BOX_NOTE_TASKS = frozenset({"position_matching", "camera_motion_infer"})
LEVELS = {
    "Low": frozenset(NA_TASKS),
    "Middle": frozenset({VIEW_CHANGE, "position_matching", "camera_motion_infer"}),
    "High": frozenset(MCA_TASKS) - {"position_matching", "camera_motion_infer"},
}
KIND_OF_TASK = {**{t: "mca" for t in MCA_TASKS}, **{t: "na" for t in NA_TASKS}, VIEW_CHANGE: "free"}

VIEW_AXES = (
    ("move_right", "move_left"),
    ("move_up", "move_down"),
    ("move_forward", "move_backward"),
    ("rotate_right", "rotate_left"),
    ("rotate_up", "rotate_down"),
)
"""The 5 net axes of a view change, in the official order (positive minus negative action)."""

LAYOUT = (
    "  <data>/*.parquet  or  <data>/data/*.parquet   (e.g. data/test-00000-of-00001.parquet)\n"
    "  columns: id, task, image (list of {bytes}), question, answer, img_type"
)
COLUMNS = ("id", "task", "image", "question", "answer")
_NUMBER = re.compile(r"(?<!\^)\d+\.\d+|(?<!\^)\d+")


def parquet_files(data_dir: Path) -> list[Path]:
    """The benchmark's parquet files: ``<data>/*.parquet``, else ``<data>/data/*.parquet``, sorted."""
    if not data_dir.is_dir():
        raise DataFormatError(f"sparbench: data folder {data_dir} does not exist; expected layout:\n{LAYOUT}")
    for folder in (data_dir, data_dir / "data"):
        files = sorted(folder.glob("*.parquet"))
        if files:
            return files
    present = sorted(p.name for p in data_dir.iterdir())[:20]
    raise DataFormatError(
        f"sparbench: no parquet file in {data_dir} or {data_dir / 'data'}; expected layout:\n"
        f"{LAYOUT}\nfound in {data_dir}: {present}"
    )


def load(data_dir: Path, media: bool = True) -> list[EvalSample]:
    """Images are bytes inside the question file, so ``media`` changes nothing here."""
    samples = []
    for path in parquet_files(data_dir):
        for i, row in enumerate(read_parquet_rows(path, COLUMNS, "sparbench")):
            where = f"{path} row {i}"
            task = str(row["task"])
            if task not in KIND_OF_TASK:
                raise DataFormatError(f"{where}: unknown task {task!r}; expected one of {sorted(KIND_OF_TASK)}")
            kind = KIND_OF_TASK[task]
            extra = None
            if kind == "mca":
                extra = SPAR_BOX_NOTE if task in BOX_NOTE_TASKS else ""
            img_type = row.get("img_type", row.get("image_type"))
            samples.append(
                EvalSample(
                    id=str(row["id"]),
                    question_type=task,
                    question=str(row["question"]),
                    ground_truth=str(row["answer"]),
                    kind=kind,
                    images=image_bytes_list(row["image"], where),
                    group=None if img_type is None else str(img_type),
                    extra=extra,
                )
            )
    return samples


# --- per-sample rules ----------------------------------------------------------------------------------------------


def mc_match(pred: str, target: str, *, empty_is_correct: bool = False) -> float:
    """SPAR lenient MC match on lower-cased text: equal, ``pred in target``, or ``pred[0] == target``.

    The official function scores an empty prediction 1 (``"" in target``); ``empty_is_correct=False`` scores it 0.
    """
    pred, target = pred.lower(), target.lower()
    if not pred:
        return 1.0 if empty_is_correct else 0.0
    return 1.0 if pred == target or pred in target or pred[0] == target else 0.0


def parse_spar_number(text: str, task: str) -> float | None:
    """``process_na``: the first number (last for ``*_mv`` depth/distance tasks); None when there is none."""
    numbers = _NUMBER.findall(text)
    if not numbers:
        return None
    return float(numbers[-1] if task in LAST_NUMBER_TASKS else numbers[0])


def parse_actions(text: str, *, strip_keys: bool = True) -> dict[str, float] | None:
    """``"move_right:0.5,rotate_left:30"`` → ``{action: value}``; None if any item is not ``key:number``.

    ``strip_keys=False`` keeps the official behaviour where ``", rotate_left"`` keeps its space and matches nothing.
    """
    actions: dict[str, float] = {}
    for item in text.split(","):
        parts = item.split(":")
        if len(parts) != 2:
            return None
        value = to_float(parts[1])
        if value is None:
            return None
        actions[parts[0].strip() if strip_keys else parts[0]] = value
    return actions


def net_axes(actions: dict[str, float]) -> list[float]:
    return [actions.get(pos, 0.0) - actions.get(neg, 0.0) for pos, neg in VIEW_AXES]


def view_change_score(pred: str, target: str, *, official: bool = False) -> tuple[float, bool]:
    """Mean per-axis MRA of the 5 net view-change axes; an unparsable prediction scores 0.

    ``official=True``: keys not stripped and ``MRA(gt, pred)`` (error relative to the prediction), as shipped.
    """
    pred_actions = parse_actions(pred, strip_keys=not official)
    gt_actions = parse_actions(target, strip_keys=not official)
    if pred_actions is None or gt_actions is None:
        return 0.0, pred_actions is not None
    pairs = zip(net_axes(pred_actions), net_axes(gt_actions), strict=True)
    if official:
        scores = [mean_relative_accuracy(g, p) for p, g in pairs]
    else:
        scores = [mean_relative_accuracy(p, g) for p, g in pairs]
    return sum(scores) / len(scores), True


def _score(pred: str, sample: EvalSample, official: bool) -> tuple[float, bool]:
    if sample.kind == "mca":
        return mc_match(pred, sample.ground_truth, empty_is_correct=official), bool(pred.strip())
    if sample.kind == "na":
        number = parse_spar_number(pred, sample.question_type)
        return mean_relative_accuracy(number, to_float(sample.ground_truth)), number is not None
    return view_change_score(pred, sample.ground_truth, official=official)


def score(pred: str, sample: EvalSample, profile: str) -> tuple[float, bool]:
    """SPAR-Bench rules with the three quirks fixed (``profile`` is unused: SPAR has one number parser)."""
    return _score(pred, sample, official=False)


def score_official(pred: str, sample: EvalSample, profile: str) -> tuple[float, bool]:
    """SPAR-Bench rules bug for bug (empty MC answer correct, swapped view-change MRA, unstripped keys)."""
    return _score(pred, sample, official=True)


def _weighted(samples: Sequence[EvalSample], scores: Sequence[float], keep) -> float | None:
    picked = [s for sample, s in zip(samples, scores, strict=True) if keep(sample)]
    return 100.0 * sum(picked) / len(picked) if picked else None


def aggregate(samples: Sequence[EvalSample], scores: Sequence[float], direction_merge: str) -> dict[str, Any]:
    """Sample-weighted overall, per task, Low/Middle/High, and per ``img_type`` (None where a group is empty)."""
    result: dict[str, Any] = sample_weighted_aggregate([s.question_type for s in samples], scores)
    for level, tasks in LEVELS.items():
        result[level] = _weighted(samples, scores, lambda s, tasks=tasks: s.question_type in tasks)
    groups = sorted({s.group for s in samples if s.group is not None})
    result["by_img_type"] = {g: _weighted(samples, scores, lambda s, g=g: s.group == g) for g in groups}
    return result


SPEC = BenchmarkSpec(
    name="sparbench",
    description="SPAR-Bench: 20 tasks (depth, distance, relation, imagination, view change); sample-weighted.",
    layout=LAYOUT,
    load=load,
    score=score,
    aggregate=aggregate,
    official_score=score_official,
)
