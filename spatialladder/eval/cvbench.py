"""CV-Bench (``nyu-visionx/CV-Bench``): 2D (ADE20K, COCO) and 3D (Omni3D) MC questions on single images.

Layout: ``<data>/test_2d.parquet`` and ``<data>/test_3d.parquet`` with image bytes. The question is the dataset's
``prompt`` column (options embedded); answers like ``(C)``; both sides normalised by the bracketed-letter rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialladder.eval.base import BenchmarkSpec, EvalSample, image_bytes, read_parquet_rows, require_files
from spatialladder.metrics.aggregate import cvbench_aggregate, per_type_means
from spatialladder.metrics.core import bracketed_option

FILES = ("test_2d.parquet", "test_3d.parquet")
LAYOUT = "  <data>/test_2d.parquet\n  <data>/test_3d.parquet   (columns: prompt, image{bytes}, answer, task, source)"
COLUMNS = ("prompt", "image", "answer", "task", "source")


def load(data_dir: Path, media: bool = True) -> list[EvalSample]:
    """Images are bytes inside the question file, so ``media`` changes nothing here."""
    samples = []
    for path in require_files(data_dir, FILES, "cvbench", LAYOUT):
        for i, row in enumerate(read_parquet_rows(path, COLUMNS, "cvbench")):
            idx = row.get("idx", i)
            samples.append(
                EvalSample(
                    id=f"{path.stem}-{idx}",
                    question_type=str(row["task"]),
                    question=str(row["prompt"]),
                    ground_truth=str(row["answer"]),
                    kind="mca",
                    images=(image_bytes(row["image"], f"{path} row {i}"),),
                    group=str(row["source"]),
                )
            )
    return samples


def score(pred: str, sample: EvalSample, profile: str) -> tuple[float, bool]:
    option = bracketed_option(pred)
    return (1.0 if option == bracketed_option(sample.ground_truth) else 0.0), len(option) == 1


def aggregate(samples: Sequence[EvalSample], scores: Sequence[float], direction_merge: str) -> dict[str, Any]:
    result: dict[str, Any] = cvbench_aggregate([s.group or "" for s in samples], scores)
    result["per_type"] = {t: 100.0 * v for t, v in per_type_means([s.question_type for s in samples], scores).items()}
    return result


SPEC = BenchmarkSpec(
    name="cvbench",
    description="CV-Bench: 2,638 MC questions; overall = mean(mean(ADE20K, COCO), Omni3D).",
    layout=LAYOUT,
    load=load,
    score=score,
    aggregate=aggregate,
)
