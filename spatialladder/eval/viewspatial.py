"""ViewSpatial-Bench (``lidingm/ViewSpatial-Bench``): camera/human-perspective MC questions; sample-weighted.

Layout: ``<data>/ViewSpatial-Bench.json`` (a list, or JSON lines) with ``question, choices, answer, question_type,
image_path`` (a list); image paths start with ``ViewSpatial-Bench/`` and are resolved under ``<data>``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.eval.base import BenchmarkSpec, EvalSample, require_files
from spatialladder.metrics.aggregate import sample_weighted_aggregate
from spatialladder.metrics.core import spatialladder_letter

FILE = "ViewSpatial-Bench.json"
LAYOUT = f"  <data>/{FILE}\n  <data>/<image paths listed in image_path, with the leading 'ViewSpatial-Bench/' removed>"
KEYS = ("question", "choices", "answer", "question_type", "image_path")
SCANNET_TASKS = frozenset(
    {"Camera perspective - Relative Direction", "Person perspective - Scene Simulation Relative Direction"}
)
COCO_TASKS = frozenset(
    {
        "Camera perspective - Object View Orientation",
        "Person perspective - Object View Orientation",
        "Person perspective - Relative Direction",
    }
)
PERSON_TASKS = frozenset(
    {
        "Person perspective - Scene Simulation Relative Direction",
        "Person perspective - Object View Orientation",
        "Person perspective - Relative Direction",
    }
)
CAMERA_TASKS = frozenset({"Camera perspective - Relative Direction", "Camera perspective - Object View Orientation"})
SUBGROUPS = {"scannet": SCANNET_TASKS, "coco": COCO_TASKS, "person": PERSON_TASKS, "camera": CAMERA_TASKS}
"""The official ``viewspatial_bench.py`` task groups, each reported sample-weighted as ``<group>_accuracy``."""


def _records(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"viewspatial: {path} is neither JSON nor JSON lines: {exc}") from None
    if not isinstance(data, list):
        raise DataFormatError(f"viewspatial: {path} must hold a list of records")
    return data


def _resolve(data_dir: Path, raw: str) -> Path:
    parts = Path(raw).parts
    if "ViewSpatial-Bench" in parts:
        parts = parts[parts.index("ViewSpatial-Bench") + 1 :]
    return data_dir.joinpath(*parts)


def load(data_dir: Path, media: bool = True) -> list[EvalSample]:
    (path,) = require_files(data_dir, [FILE], "viewspatial", LAYOUT)
    samples = []
    for i, rec in enumerate(_records(path)):
        where = f"{path} record {i}"
        missing = [k for k in KEYS if k not in rec]
        if missing:
            raise DataFormatError(f"{where}: missing keys {missing}")
        choices = rec["choices"]
        if isinstance(choices, str):  # official: ``choices.split('\n')``, skipped when empty
            options = tuple(choices.split("\n")) if choices else ()
        else:
            options = tuple(str(c) for c in choices)
        images = tuple(_resolve(data_dir, p) for p in rec["image_path"])
        absent = [str(p) for p in images if not p.is_file()] if media else []
        if absent:
            raise DataFormatError(f"{where}: image files not found: {absent[:3]}; expected layout:\n{LAYOUT}")
        samples.append(
            EvalSample(
                id=str(rec.get("id", i)),
                question_type=str(rec["question_type"]),
                question=str(rec["question"]),
                ground_truth=str(rec["answer"])[:1],
                kind="mca",
                options=options,
                images=images,
            )
        )
    return samples


def score(pred: str, sample: EvalSample, profile: str) -> tuple[float, bool]:
    """Official ``fuzzy_matching(pred) == fuzzy_matching(answer[0])``: case-sensitive, and unlike the VSI scorer
    no ``Answer:`` removal (``"a"`` and ``"Answer: A"`` score 0)."""
    option = spatialladder_letter(pred)
    return (1.0 if option == spatialladder_letter(sample.ground_truth) else 0.0), len(option) == 1


def aggregate(samples: Sequence[EvalSample], scores: Sequence[float], direction_merge: str) -> dict[str, Any]:
    """Sample-weighted overall and per task, plus the official scannet/coco/person/camera groups (None if empty)."""
    result = sample_weighted_aggregate([s.question_type for s in samples], scores)
    for name, tasks in SUBGROUPS.items():
        picked = [v for s, v in zip(samples, scores, strict=True) if s.question_type in tasks]
        result[name] = 100.0 * sum(picked) / len(picked) if picked else None
    return result


SPEC = BenchmarkSpec(
    name="viewspatial",
    description="ViewSpatial-Bench: perspective-taking MC questions; overall = mean over samples.",
    layout=LAYOUT,
    load=load,
    score=score,
    aggregate=aggregate,
)
