"""Spatial records (``official-spatialladder.md`` §2.3) → stage-3 GRPO rows for trl.

A row carries:

- ``prompt``: one user turn with the stage-3 text (``prompts.grpo_user_text``), string content; trl puts the
  images before the text, and ``VideoGRPOTrainer`` puts the video before it too (after it under
  ``prompt_fidelity: official``, the official trainer's order);
- ``images``: image paths for ``single_image``/``multi_view`` rows, ``[]`` otherwise (trl's native column);
- ``video``: frame paths for ``video`` rows, ``[]`` otherwise;
- ``frame_indices``, ``capture_fps``: when the shown frames were captured (``spatialladder.media.CaptureTimes``),
  ``[]`` / None for images and for records that do not say (the released files);
- ``solution``, ``answer_kind`` (what the rewards read), plus ``question_type``, ``data_type``, ``question_id``
  (every column reaches the reward functions as a keyword argument).

Paths are decoded to PIL images on access by ``datasets.Image``, so a 9,000-video dataset is not held in memory.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.media import CaptureTimes
from spatialladder.prompts import grpo_user_text
from spatialladder.records import TrainingRecord, read_training_records
from spatialladder.train.media import (
    log_frames_kept_whole,
    log_missing_capture_times,
    resolve_image_root,
    resolve_media,
    shown_video,
)
from spatialladder.vocab import OFFICIAL_SPLD_ANSWER_KINDS, PromptFidelity


@dataclass
class GRPORows:
    rows: list[dict[str, Any]]
    skipped: Counter = field(default_factory=Counter)
    """Records left out, per reason (only ``beyond data.max_samples``: bad records are errors, as in SFT)."""

    def count(self, data_type: str) -> int:
        return sum(1 for r in self.rows if r["data_type"] == data_type)


def answer_kind(record: TrainingRecord, where: str) -> str:
    """``mca`` when the record has options, else ``na`` (``vocab.answer_kind_of_options``); checked against the
    official table for its type (``vocab.OFFICIAL_SPLD_ANSWER_KINDS``: the official ``accu_reward_method``; other
    types follow their options)."""
    kind = record.answer_kind
    expected = OFFICIAL_SPLD_ANSWER_KINDS.get(str(record.question_type))
    if expected is not None and expected != kind:
        raise DataFormatError(
            f"{where}: question_type {record.question_type!r} is {expected.upper()} but the record "
            f"{'has' if kind == 'mca' else 'lacks'} options"
        )
    return kind


def record_to_row(
    record: TrainingRecord | dict[str, Any],
    image_root: Path,
    *,
    fidelity: PromptFidelity = "fixed",
    video_frames: int | None = None,
    frame_dependent: str = "keep_all",
    where: str = "<record>",
) -> dict[str, Any]:
    """One GRPO row from one spatial record (a JSONL object is parsed first); a record of another kind or a
    missing image is a DataFormatError naming ``where``. Records are read as in SFT (``spatialladder.records``,
    lenient), and video frames are chosen as in SFT: an appearance-order video keeps all its frames or is refused
    (``frame_dependent``), never subsampled."""
    if not isinstance(record, TrainingRecord):
        record = TrainingRecord.parse(record, where)
    if record.kind != "spatial":
        raise DataFormatError(f"{where}: stage 3 needs spatial records (question, answer, options, question_type)")
    if record.question_type is None:
        raise DataFormatError(f"{where}: missing key 'question_type'")
    images, times = list(record.image), None
    if record.data_type == "video":
        images, times = shown_video(record, video_frames, frame_dependent, where)
        if len(images) < 2:
            raise DataFormatError(f"{where}: a video record needs at least 2 frames (got {len(images)})")
    files = [str(p) for p in resolve_media(images, image_root, where)]
    kind = answer_kind(record, where)
    question = str(record.question).replace("<image>", "")
    return {
        "prompt": [{"role": "user", "content": grpo_user_text(question, record.options, kind, fidelity=fidelity)}],
        "images": [] if record.data_type == "video" else files,
        "video": files if record.data_type == "video" else [],
        "frame_indices": list(times.frame_indices) if times is not None else [],
        "capture_fps": times.fps if times is not None else None,
        "solution": str(record.answer),
        "answer_kind": kind,
        "question_type": record.question_type,
        "data_type": record.data_type,
        "question_id": record.question_id,
    }


def load_grpo_rows(
    files: Sequence[str | Path],
    image_root: str | Path | None = None,
    *,
    fidelity: PromptFidelity = "fixed",
    video_frames: int | None = None,
    frame_dependent: str = "keep_all",
    max_samples: int | None = None,
    shuffle_seed: int = 42,
    video_fps: float = 2.0,
) -> GRPORows:
    """Rows from spatial JSONL files; relative image paths resolve as in SFT (``image_root``, else
    ``<file folder>/images``, else the file's folder). ``max_samples`` keeps a seeded random subset, in file order.
    ``video_frames``/``frame_dependent``: as the stage config's ``data`` fields (every listed frame by default);
    ``video_fps`` only names the rate the log gives rows without capture times."""
    out = GRPORows(rows=[])
    for file in files:
        root = resolve_image_root(file, image_root)
        for where, record in read_training_records(file):
            row = record_to_row(
                record, root, fidelity=fidelity, video_frames=video_frames, frame_dependent=frame_dependent, where=where
            )
            out.rows.append(row)
    if not out.rows:
        raise DataFormatError(f"data.files {list(map(str, files))}: no records")
    videos = [r for r in out.rows if r.get("video")]
    log_frames_kept_whole((len(r["video"]) for r in videos), video_frames, "rows")
    log_missing_capture_times((row_capture_times(r) for r in videos), video_fps, "rows")
    if max_samples is not None and len(out.rows) > max_samples:
        keep = sorted(random.Random(shuffle_seed).sample(range(len(out.rows)), max_samples))
        out.skipped["beyond data.max_samples"] += len(out.rows) - max_samples
        out.rows = [out.rows[i] for i in keep]
    return out


def row_capture_times(row: dict[str, Any]) -> CaptureTimes | None:
    """The capture times of a row's video (``frame_indices`` + ``capture_fps``), or None."""
    if not row.get("frame_indices") or row.get("capture_fps") is None:
        return None
    return CaptureTimes(tuple(int(i) for i in row["frame_indices"]), float(row["capture_fps"]))


def rows_to_dataset(rows: Sequence[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` whose ``images``/``video`` columns decode paths to PIL images on access."""
    from datasets import Dataset, Features, Image, Sequence, Value

    features = Features(
        {
            "prompt": [{"role": Value("string"), "content": Value("string")}],
            "images": Sequence(Image()),
            "video": Sequence(Image()),
            "frame_indices": Sequence(Value("int64")),
            "capture_fps": Value("float64"),
            **{k: Value("string") for k in ("solution", "answer_kind", "question_type", "data_type", "question_id")},
        }
    )
    return Dataset.from_list(list(rows), features=features)
