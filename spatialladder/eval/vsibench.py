"""VSI-Bench (``nyu-visionx/VSI-Bench``) and the VSI scoring rules SPBench reuses (reference §1.2–§1.4b).

Layout: ``<data>/test-00000-of-00001.parquet`` + videos at ``<data>/<dataset>/<scene_name>.mp4``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.eval.base import BenchmarkSpec, EvalSample, read_parquet_rows, require_files
from spatialladder.metrics.aggregate import vsi_aggregate
from spatialladder.metrics.core import vsi_sample_score
from spatialladder.vocab import ANSWER_KIND_OF_VSI_TYPE

PARQUET = "test-00000-of-00001.parquet"
LAYOUT = f"  <data>/{PARQUET}\n  <data>/<dataset>/<scene_name>.mp4   (dataset = arkitscenes | scannet | scannetpp)"
COLUMNS = ("id", "dataset", "scene_name", "question_type", "question", "ground_truth")


def kind_of(question_type: str, where: str) -> str:
    if question_type not in ANSWER_KIND_OF_VSI_TYPE:
        raise DataFormatError(
            f"{where}: unknown question_type {question_type!r}; expected one of {sorted(ANSWER_KIND_OF_VSI_TYPE)}"
        )
    return ANSWER_KIND_OF_VSI_TYPE[question_type]


def options_of(row: dict[str, Any]) -> tuple[str, ...] | None:
    options = row.get("options")
    return tuple(str(o) for o in options) if options else None


def sample_of(row: dict[str, Any], where: str, **media: Any) -> EvalSample:
    """A row in VSI-Bench's columns (SPBench's too) as a sample; ``media``: its ``video`` or ``images``."""
    question_type = str(row["question_type"])
    return EvalSample(
        id=str(row["id"]),
        question_type=question_type,
        question=str(row["question"]),
        ground_truth=str(row["ground_truth"]),
        kind=kind_of(question_type, where),
        options=options_of(row),
        **media,
    )


def load(data_dir: Path, media: bool = True) -> list[EvalSample]:
    """The questions of the parquet; with ``media`` every video must exist (``score`` loads without them)."""
    (parquet,) = require_files(data_dir, [PARQUET], "vsibench", LAYOUT)
    samples = []
    for i, row in enumerate(read_parquet_rows(parquet, COLUMNS, "vsibench")):
        where = f"{parquet} row {i}"
        video = data_dir / str(row["dataset"]) / f"{row['scene_name']}.mp4"
        if media and not video.is_file():
            raise DataFormatError(f"{where}: video {video} not found; expected layout:\n{LAYOUT}")
        samples.append(sample_of(row, where, video=video))
    return samples


def score(pred: str, sample: EvalSample, profile: str) -> tuple[float, bool]:
    return vsi_sample_score(pred, sample.ground_truth, sample.kind, profile)


def aggregate(samples: Sequence[EvalSample], scores: Sequence[float], direction_merge: str) -> dict[str, Any]:
    return vsi_aggregate([s.question_type for s in samples], scores, ANSWER_KIND_OF_VSI_TYPE, direction_merge)


SPEC = BenchmarkSpec(
    name="vsibench",
    description="VSI-Bench: 8 spatial tasks on ScanNet/ScanNet++/ARKitScenes videos; macro mean over task types.",
    layout=LAYOUT,
    load=load,
    score=score,
    aggregate=aggregate,
    letter_examples=True,
    modalities=("video",),
)
