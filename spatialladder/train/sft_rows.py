"""SpatialLadder records → trl vision-language rows for the SFT stages (1, 2 and cold start).

Accepts the official released files (``spld_grounding_data.jsonl``, ``spld_spatial_data.jsonl``,
``spld_coldstart_data.jsonl`` + an image folder) and our build-data output (same fields plus extras such as
``image_size``) without conversion: both are read by ``spatialladder.records`` (lenient mode).

Row format (trl's own VLM format, so a plain ``trl.SFTTrainer`` can train on the same rows)::

    {"messages": [{"role": "system", ...}?,                        # only with prompt_fidelity=official
                  {"role": "user", "content": [{"type": "image"}, ..., {"type": "text", "text": USER}]},
                  {"role": "assistant", "content": [{"type": "text", "text": TARGET}]}],
     "images": [PIL.Image, ...]}                                   # one per {"type": "image"} placeholder
    # video records: one {"type": "video", "video": [PIL frame, ...]} item instead, and "images": []; a record that
    # says when its frames were captured (frame_indices + fps) has them on the item too (spatialladder.media)
    # Qwen3.5 (a template that thinks): the assistant turn also carries "reasoning_content": ""
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.media import CaptureTimes
from spatialladder.models.families import ModelFamily, qwen2_5_vl
from spatialladder.records import TrainingRecord, read_jsonl
from spatialladder.train.boxes import OFFICIAL_SCANNET_FRAME, localization_target
from spatialladder.train.media import (
    load_image,
    load_video_frames,
    log_frames_kept_whole,
    log_missing_capture_times,
    official_pre_resize,
    resolve_image_root,
    resolve_media,
    shown_video,
)
from spatialladder.vocab import RECORD_KIND_OF_STAGE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SFTSample:
    """One record reduced to what its row needs; media stay paths until the row is read."""

    where: str
    data_type: str
    media: tuple[Path, ...]
    user_text: str
    target: str = ""
    boxes: tuple[dict[str, Any], ...] = ()
    box_frame: tuple[int, int] | None = None
    times: CaptureTimes | None = None
    """When a video's frames were captured (``train.media.shown_video``); None for images and records without."""


def sft_sample(record: TrainingRecord, stage: str, root: Path, data: Any, fidelity: str, where: str) -> SFTSample:
    """One record → an SFTSample for ``stage``; a record of another stage's kind is an error naming ``where``."""
    from spatialladder import prompts

    expected = RECORD_KIND_OF_STAGE[stage]
    if record.kind != expected:
        raise DataFormatError(f"{where}: a {record.kind} record in the {stage} stage's data (expected {expected})")
    images, times = list(record.image), None
    if record.data_type == "video":
        images, times = shown_video(record, data.video_frames, data.frame_dependent, where)
    media = resolve_media(images, root, where)
    if record.kind == "grounding":
        user = prompts.sft_user_text(1, str(record.question), fidelity=fidelity)
        frame = tuple(data.bbox_source_size) if data.bbox_source_size is not None else record.image_size
        return SFTSample(where, record.data_type, media[:1], user, boxes=record.boxes, box_frame=frame)
    if record.kind == "spatial":
        user = prompts.sft_user_text(2, str(record.question), record.options, record.answer_kind, fidelity=fidelity)
        return SFTSample(where, record.data_type, media, user, target=str(record.answer), times=times)
    if fidelity == "fixed" and record.question is not None:
        user = prompts.sft_user_text("cs", record.question, record.options, record.answer_kind, fidelity=fidelity)
    else:
        user = str(record.prompt)
    return SFTSample(where, record.data_type, media, user, target=str(record.solution), times=times)


def load_samples(cfg: Any) -> tuple[list[SFTSample], Counter]:
    """All usable samples of an SFT stage config, and per-reason counts of what was skipped (none so far: bad
    records are errors, since a silently shrunken training set changes results)."""
    samples: list[SFTSample] = []
    skipped: Counter = Counter()
    for file in cfg.data.files:
        root = resolve_image_root(file, cfg.data.image_root)
        for lineno, obj in read_jsonl(file):
            if cfg.data.max_samples is not None and len(samples) >= cfg.data.max_samples:
                skipped["beyond data.max_samples"] += 1
                continue
            where = f"{file}:{lineno}"
            record = TrainingRecord.parse(obj, where)
            samples.append(sft_sample(record, cfg.stage, root, cfg.data, cfg.prompt_fidelity, where))
    if not samples:
        raise DataFormatError(f"data.files {cfg.data.files}: no records")
    counts = Counter(s.data_type for s in samples)
    logger.info("%s: %d samples (%s); skipped %s", cfg.stage, len(samples), dict(counts), dict(skipped) or "none")
    videos = [s for s in samples if s.data_type == "video"]
    log_frames_kept_whole((len(s.media) for s in videos), cfg.data.video_frames, "records")
    log_missing_capture_times((s.times for s in videos), cfg.data.video_fps, "records")
    return samples, skipped


@dataclass
class SFTRows:
    """Builds trl rows from samples; images are read when a row is requested (DataLoader workers parallelise it).

    ``family``: the loaded model's family (``LoadedModel.family``), whose box convention the stage-1 targets are
    written in; the paper's Qwen2.5-VL by default. A processor of another family's patch size is refused, so a
    Qwen3-VL processor never silently gets Qwen2.5-VL's absolute-pixel targets.
    """

    samples: list[SFTSample]
    processor: Any
    system_text: str | None = None
    bbox_target: str = "rescaled"
    image_resize: str = "once"
    family: ModelFamily = field(default=qwen2_5_vl.FAMILY)
    """The model's family: the box convention of stage-1 targets; a family whose template thinks gets assistant
    turns with ``reasoning_content: ""`` (:meth:`messages`)."""

    def __post_init__(self) -> None:
        patch = getattr(getattr(self.processor, "image_processor", None), "patch_size", None)
        if patch is not None and patch != self.family.patch_size:
            raise ValueError(
                f"SFTRows: the processor's patch size is {patch} but family {self.family.name} has "
                f"{self.family.patch_size}; pass the loaded model's family (LoadedModel.family)"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def row(self, index: int) -> dict[str, Any]:
        s = self.samples[index]
        if s.data_type == "video":
            times = s.times.part_keys() if s.times is not None else {}
            vision = [{"type": "video", "video": load_video_frames(s.media), **times}]  # frames chosen by sft_sample
            images: list[Any] = []
        else:
            images = [load_image(p) for p in s.media]
            if self.image_resize == "official":
                images = [official_pre_resize(im) for im in images]
            vision = [{"type": "image"} for _ in images]
        return {"messages": self.messages(s, vision, images[0].size if images else None), "images": images}

    def messages(self, s: SFTSample, vision: list[dict[str, Any]], image_size: tuple[int, int] | None) -> list[Any]:
        """The chat of sample ``s`` with the given vision items; ``image_size`` (W, H) is the size of the first
        image as the processor receives it (stage-1 boxes are mapped to its resize). Shared by :meth:`row` and the
        length estimate (``train/lengths.py``), which passes sizes read from the file headers instead of pixels."""
        target = s.target
        if s.boxes:
            if image_size is None:
                raise DataFormatError(f"{s.where}: a grounding record needs an image for its boxes")
            frame = s.box_frame or (OFFICIAL_SCANNET_FRAME if self.bbox_target == "official" else image_size)
            target = localization_target(s.boxes, image_size, frame, self.processor, self.bbox_target, self.family)
        messages = [] if self.system_text is None else [_text_message("system", self.system_text)]
        messages.append({"role": "user", "content": [*vision, {"type": "text", "text": s.user_text}]})
        messages.append(_text_message("assistant", target))
        if self.family is not None and self.family.thinks:
            # Qwen3.5's template would move a ``<think>…</think>`` found in the content (the cold-start CoT) into
            # its own think block (``qwen3_5_nothink.jinja`` lines 90-101); an explicit empty reasoning renders the
            # empty block the no-think generation prompt ends with and the target verbatim after it, as rollouts
            # and eval generate it (docs/fidelity.md, "Qwen3.5").
            messages[-1]["reasoning_content"] = ""
        return messages

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """``datasets`` transform: a batch of ``index`` values → a batch of rows."""
        rows = [self.row(i) for i in batch["index"]]
        return {"messages": [r["messages"] for r in rows], "images": [r["images"] for r in rows]}

    def as_dataset(self, lengths: list[int] | None = None, length_column: str = "length") -> Any:
        """A ``datasets.Dataset`` (what trl accepts) holding only indices; rows are built on access.

        ``lengths`` (one per sample, ``train/lengths.py``) become the column ``length_column``, where transformers'
        ``train_sampling_strategy: group_by_length`` looks for precomputed lengths; the row transform never reads it.
        """
        from datasets import Dataset

        columns: dict[str, list[int]] = {"index": list(range(len(self.samples)))}
        if lengths is not None:
            if len(lengths) != len(self.samples):
                raise ValueError(f"{len(lengths)} lengths for {len(self.samples)} samples")
            columns[length_column] = list(lengths)
        return Dataset.from_dict(columns).with_transform(self, columns=["index"])


def _text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}]}
