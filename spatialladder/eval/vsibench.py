"""VSI-Bench (``nyu-visionx/VSI-Bench``) and the VSI scoring rules SPBench reuses (reference §1.2–§1.4b).

Two Hub layouts of the question file exist, with the videos at ``<data>/<dataset>/<scene_name>.mp4`` in both:

- original (the 2024 release, Hub commit 668dd47): ``test-00000-of-00001.parquet``;
- current (main since the VSI-Bench-Debiased upload, commit d7cb1a3): ``test.jsonl`` (every question),
  ``pruned_ids.txt`` (the ids Iterative Bias Pruning removed, one a line) and the two parquets made from them by
  the card's ``create_pq.py`` (https://huggingface.co/datasets/nyu-visionx/VSI-Bench/blob/main/create_pq.py):
  ``df["pruned"] = df["id"].astype(str).isin(pruned_ids)``, ``test_debiased.parquet`` = the rows not pruned,
  ``test_pruned.parquet`` = the pruned rows. lmms-eval scores the subsets as Hub configs ``debiased`` and ``full``
  (``EvolvingLMMs-Lab/lmms-eval`` ``lmms_eval/tasks/vsibench/vsibench_debiased.yaml`` / ``vsibench_pruned.yaml``
  @2bb5e98) with the template ``vsibench.yaml`` uses: same prompts, scoring and aggregation.

``vsibench`` (the full set) reads ``test.jsonl`` when present, else the original parquet: the current file is what
the Hub's main branch serves and what ``pruned_ids.txt`` refers to, and a folder holding both is an old download
refreshed in place. ``vsibench-debiased`` reads ``test_debiased.parquet``, or ``test.jsonl`` minus
``pruned_ids.txt`` when the parquet is absent; with both present their ids must agree.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.eval.base import BenchmarkSpec, EvalSample, read_parquet_rows
from spatialladder.metrics.aggregate import per_source_aggregate, vsi_aggregate
from spatialladder.metrics.core import vsi_sample_score
from spatialladder.records import read_jsonl
from spatialladder.vocab import ANSWER_KIND_OF_VSI_TYPE

logger = logging.getLogger(__name__)

PARQUET = "test-00000-of-00001.parquet"
"""The original release's question file."""
JSONL = "test.jsonl"
PRUNED_IDS = "pruned_ids.txt"
DEBIASED_PARQUET = "test_debiased.parquet"
PRUNED_PARQUET = "test_pruned.parquet"
VIDEOS = "  <data>/<dataset>/<scene_name>.mp4   (dataset = arkitscenes | scannet | scannetpp)"
LAYOUT = (
    f"  current (Hub main): <data>/{JSONL} + <data>/{PRUNED_IDS} (+ {DEBIASED_PARQUET}, {PRUNED_PARQUET})\n"
    f"  original (2024):    <data>/{PARQUET}\n{VIDEOS}"
)
DEBIASED_LAYOUT = (
    f"  <data>/{DEBIASED_PARQUET}, or <data>/{JSONL} + <data>/{PRUNED_IDS} (the current Hub layout)\n{VIDEOS}"
)
COLUMNS = ("id", "dataset", "scene_name", "question_type", "question", "ground_truth")
SUBSETS = ("full", "debiased")


@dataclass(frozen=True)
class QuestionFile:
    """The file ``load`` reads for a subset; ``pruned_ids`` is set when the debiased set is ``test.jsonl`` minus it."""

    path: Path
    subset: str
    pruned_ids: Path | None = None


def kind_of(question_type: str, where: str) -> str:
    if question_type not in ANSWER_KIND_OF_VSI_TYPE:
        raise DataFormatError(
            f"{where}: unknown question_type {question_type!r}; expected one of {sorted(ANSWER_KIND_OF_VSI_TYPE)}"
        )
    return ANSWER_KIND_OF_VSI_TYPE[question_type]


def options_of(row: dict[str, Any]) -> tuple[str, ...] | None:
    """The options, or None for a numeric question: null, ``[]`` and a pandas NaN all mean none."""
    options = row.get("options")
    if options is None or isinstance(options, (float, str)):
        return None
    return tuple(str(o) for o in options) if len(options) else None


def sample_of(row: dict[str, Any], where: str, **media: Any) -> EvalSample:
    """A row in VSI-Bench's columns (SPBench's too) as a sample; ``media``: its ``video`` or ``images``.

    ``source`` is the ``dataset`` column (arkitscenes / scannet / scannetpp) for the per-source breakdown."""
    question_type = str(row["question_type"])
    source = row.get("dataset")
    return EvalSample(
        id=str(row["id"]),
        question_type=question_type,
        question=str(row["question"]),
        ground_truth=str(row["ground_truth"]),
        kind=kind_of(question_type, where),
        options=options_of(row),
        source=None if source is None else str(source),
        **media,
    )


ONE_LINE = {
    "vsibench": f"{JSONL} (current Hub layout) or {PARQUET} (original 2024 layout)",
    "vsibench-debiased": f"{DEBIASED_PARQUET}, or {JSONL} + {PRUNED_IDS} (current Hub layout)",
}
"""The question files each subset accepts, for the one-line error of a folder that has none."""


def _neither(data_dir: Path, bench: str) -> DataFormatError:
    expected = f"expected {ONE_LINE[bench]}, videos at <dataset>/<scene_name>.mp4"
    if not data_dir.is_dir():
        return DataFormatError(f"{bench}: data folder {data_dir} does not exist; {expected}")
    present = sorted(p.name for p in data_dir.iterdir())[:20]
    return DataFormatError(f"{bench}: no question file in {data_dir}; {expected}; found {present}")


def question_file(data_dir: Path, subset: str = "full") -> QuestionFile:
    """Which file ``load`` reads for ``subset`` (precedence in the module docstring)."""
    if subset == "full":
        if (data_dir / JSONL).is_file():
            if (data_dir / PARQUET).is_file():
                logger.info("vsibench: %s and %s both present; reading %s (the current release)", JSONL, PARQUET, JSONL)
            return QuestionFile(data_dir / JSONL, "full")
        if (data_dir / PARQUET).is_file():
            return QuestionFile(data_dir / PARQUET, "full")
        raise _neither(data_dir, "vsibench")
    if subset != "debiased":
        raise DataFormatError(f"VSI-Bench subset {subset!r}; expected one of {list(SUBSETS)}")
    if (data_dir / DEBIASED_PARQUET).is_file():
        return QuestionFile(data_dir / DEBIASED_PARQUET, "debiased")
    if (data_dir / JSONL).is_file() and (data_dir / PRUNED_IDS).is_file():
        return QuestionFile(data_dir / JSONL, "debiased", pruned_ids=data_dir / PRUNED_IDS)
    raise _neither(data_dir, "vsibench-debiased")


def read_jsonl_rows(path: Path, required: Sequence[str], bench: str) -> list[dict[str, Any]]:
    """Every line of a JSONL question file as a dict (``records.read_jsonl``: a bad line names the file and line);
    a missing column names them too."""
    rows = []
    for n, row in read_jsonl(path):
        missing = [c for c in required if c not in row]
        if missing:
            raise DataFormatError(f"{bench}: {path} line {n} lacks {missing}; has {sorted(row)}")
        rows.append(row)
    return rows


def read_pruned_ids(path: Path) -> set[str]:
    """``pruned_ids.txt`` as ``create_pq.py`` reads it: ``f.read().splitlines()``, compared with ``str(id)``."""
    return {line for line in path.read_text(encoding="utf-8").splitlines() if line}


def question_rows(data_dir: Path, subset: str = "full") -> tuple[QuestionFile, list[dict[str, Any]]]:
    """The question file for ``subset`` and its rows; the debiased subset is checked against its other source."""
    source = question_file(data_dir, subset)
    bench = "vsibench" if subset == "full" else "vsibench-debiased"
    read = read_jsonl_rows if source.path.suffix == ".jsonl" else read_parquet_rows
    rows = read(source.path, COLUMNS, bench)
    if subset == "full":
        return source, rows
    if source.pruned_ids is not None:
        pruned = read_pruned_ids(source.pruned_ids)
        return source, [r for r in rows if str(r["id"]) not in pruned]
    flagged = [str(r["id"]) for r in rows if r.get("pruned") is True]
    if flagged:
        raise DataFormatError(f"{bench}: {source.path} has rows marked pruned: ids {flagged[:5]}")
    if (data_dir / JSONL).is_file() and (data_dir / PRUNED_IDS).is_file():
        pruned = read_pruned_ids(data_dir / PRUNED_IDS)
        expected = [
            str(r["id"]) for r in read_jsonl_rows(data_dir / JSONL, COLUMNS, bench) if str(r["id"]) not in pruned
        ]
        got = [str(r["id"]) for r in rows]
        if set(got) != set(expected) or len(got) != len(expected):
            extra, lacking = sorted(set(got) - set(expected)), sorted(set(expected) - set(got))
            raise DataFormatError(
                f"{bench}: {source.path} ({len(got)} questions) disagrees with {JSONL} minus {PRUNED_IDS} "
                f"({len(expected)}): only in the parquet {extra[:5]}, only in the jsonl {lacking[:5]}"
            )
    return source, rows


def _load(data_dir: Path, media: bool, subset: str) -> list[EvalSample]:
    source, rows = question_rows(data_dir, subset)
    samples = []
    for i, row in enumerate(rows):
        where = f"{source.path} row {i}"
        video = data_dir / str(row["dataset"]) / f"{row['scene_name']}.mp4"
        if media and not video.is_file():
            raise DataFormatError(f"{where}: video {video} not found; expected layout:\n{LAYOUT}")
        samples.append(sample_of(row, where, video=video))
    return samples


def load(data_dir: Path, media: bool = True) -> list[EvalSample]:
    """Every question (``test.jsonl`` or the original parquet); with ``media`` every video must exist."""
    return _load(data_dir, media, "full")


def load_debiased(data_dir: Path, media: bool = True) -> list[EvalSample]:
    """The questions Iterative Bias Pruning kept (VSI-Bench-Debiased)."""
    return _load(data_dir, media, "debiased")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_record(data_dir: Path, subset: str) -> dict[str, Any]:
    source = question_file(data_dir, subset)
    record: dict[str, Any] = {"path": str(source.path), "sha256": sha256_of(source.path), "subset": subset}
    if source.pruned_ids is not None:
        record["pruned_ids"] = {"path": str(source.pruned_ids), "sha256": sha256_of(source.pruned_ids)}
    return record


def full_file(data_dir: Path) -> dict[str, Any]:
    """``results.json`` ``settings.benchmark_file`` for ``vsibench``."""
    return _file_record(data_dir, "full")


def debiased_file(data_dir: Path) -> dict[str, Any]:
    """``results.json`` ``settings.benchmark_file`` for ``vsibench-debiased``."""
    return _file_record(data_dir, "debiased")


def score(pred: str, sample: EvalSample, profile: str) -> tuple[float, bool]:
    return vsi_sample_score(pred, sample.ground_truth, sample.kind, profile)


def aggregate(samples: Sequence[EvalSample], scores: Sequence[float], direction_merge: str) -> dict[str, Any]:
    """The official VSI aggregate (SPBench's too)."""
    return vsi_aggregate([s.question_type for s in samples], scores, ANSWER_KIND_OF_VSI_TYPE, direction_merge)


def aggregate_by_source(samples: Sequence[EvalSample], scores: Sequence[float], direction_merge: str) -> dict[str, Any]:
    """The official aggregate plus ``per_source``: the same rule over each source's samples (not an official
    number; VSI-Bench's paper reports the overall only)."""
    out = aggregate(samples, scores, direction_merge)
    out["per_source"] = per_source_aggregate(
        [s.source or "" for s in samples],
        [s.question_type for s in samples],
        scores,
        ANSWER_KIND_OF_VSI_TYPE,
        direction_merge,
    )
    return out


SPEC = BenchmarkSpec(
    name="vsibench",
    description="VSI-Bench: 8 spatial tasks on ScanNet/ScanNet++/ARKitScenes videos; macro mean over task types.",
    layout=LAYOUT,
    load=load,
    score=score,
    aggregate=aggregate_by_source,
    letter_examples=True,
    modalities=("video",),
    question_file=full_file,
)

DEBIASED_SPEC = BenchmarkSpec(
    name="vsibench-debiased",
    description="VSI-Bench-Debiased: VSI-Bench without the questions Iterative Bias Pruning found answerable blind.",
    layout=DEBIASED_LAYOUT,
    load=load_debiased,
    score=score,
    aggregate=aggregate_by_source,
    letter_examples=True,
    modalities=("video",),
    question_file=debiased_file,
)
