"""SpatialLadder records → trl vision-language rows, and the collator that tokenizes them.

Accepts the official released files (``spld_grounding_data.jsonl``, ``spld_spatial_data.jsonl``,
``spld_coldstart_data.jsonl`` + an image folder) and our build-data output (same fields plus extras such as
``image_size``) without conversion.

Row format (trl's own VLM format, so a plain ``trl.SFTTrainer`` can train on the same rows)::

    {"messages": [{"role": "system", ...}?,                        # only with prompt_fidelity=official
                  {"role": "user", "content": [{"type": "image"}, ..., {"type": "text", "text": USER}]},
                  {"role": "assistant", "content": [{"type": "text", "text": TARGET}]}],
     "images": [PIL.Image, ...]}                                   # one per {"type": "image"} placeholder
    # video records: one {"type": "video", "video": [PIL frame, ...]} item instead, and "images": []

Images stay at their stored size: the processor resizes them once, with the pixel budget of the config.
Media are read lazily, row by row, so a 26k-record set costs no memory up front.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.vocab import (
    DATA_TYPE_ALIASES,
    DATA_TYPES,
    FRAME_DEPENDENT_SPLD_TYPES,
    FRAME_DEPENDENT_VSI_TYPES,
    RECORD_KIND_OF_STAGE,
)

logger = logging.getLogger(__name__)

OFFICIAL_SCANNET_FRAME = (1296, 968)
"""(W, H) the official stage-1 script hard-codes for every grounding box."""


# --- media helpers (shared with GRPO and eval) ------------------------------------------------------------------


def resolve_image_root(data_file: str | Path, image_root: str | Path | None) -> Path:
    """The folder relative image paths start from: ``image_root`` if given, else ``<data file folder>/images``
    when it exists (the official ``data/images`` layout), else the data file's own folder."""
    if image_root is not None:
        root = Path(image_root).expanduser()
        if not root.is_dir():
            raise DataFormatError(f"data.image_root {image_root}: not a folder")
        return root
    folder = Path(data_file).parent
    return folder / "images" if (folder / "images").is_dir() else folder


def resolve_media(paths: Sequence[str], root: Path, where: str) -> tuple[Path, ...]:
    """Absolute paths of a record's images; a missing file is an error naming the record."""
    out = []
    for p in paths:
        path = Path(p) if Path(p).is_absolute() else root / p
        if not path.is_file():
            raise DataFormatError(f"{where}: image {p!r} not found (looked at {path}; set data.image_root?)")
        out.append(path)
    return tuple(out)


def load_image(path: str | Path) -> Any:
    """An RGB PIL image, fully read (so the file handle closes at once)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read image ({exc})") from None


def official_pre_resize(image: Any) -> Any:
    """What the official collator did before the processor: qwen-vl-utils' ``fetch_image`` at its default pixel
    bounds, which rounds each side to a multiple of 28 (968×1296 → 980×1288); the processor then resizes again."""
    from qwen_vl_utils import fetch_image

    return fetch_image({"image": image})


def sample_frame_paths(paths: Sequence[Any], num_frames: int | None) -> list[Any]:
    """``num_frames`` frames uniformly spread over the listed ones (first and last kept); all if fewer or None."""
    if num_frames is None or len(paths) <= num_frames:
        return list(paths)
    import numpy as np

    return [paths[i] for i in np.linspace(0, len(paths) - 1, num_frames).round().astype(int)]


def is_frame_dependent(rec: dict[str, Any]) -> bool:
    """Whether the record's answer depends on which of its frames the model sees (official or build-data names)."""
    if rec.get("vsi_question_type") in FRAME_DEPENDENT_VSI_TYPES:
        return True
    return str(rec.get("question_type")) in FRAME_DEPENDENT_SPLD_TYPES


def video_frame_paths(
    paths: Sequence[str], rec: dict[str, Any], num_frames: int | None, frame_dependent: str, where: str
) -> list[str]:
    """The frames a trainer shows for a video record: ``num_frames`` uniform over the listed ones (None = all).

    A frame-dependent record (:func:`is_frame_dependent`) that this would subsample keeps every listed frame
    (``frame_dependent: keep_all``), or is refused with an error naming ``where`` (``error``), so the SFT target and
    the GRPO reward never hold an answer computed on frames the model was not shown.
    """
    kept = sample_frame_paths(paths, num_frames)
    if len(kept) == len(paths) or not is_frame_dependent(rec):
        return kept
    if frame_dependent == "keep_all":
        return list(paths)
    raise DataFormatError(
        f"{where}: a {rec.get('question_type') or 'appearance order'!r} answer is computed from all {len(paths)} "
        f"listed frames, but data.video_frames: {num_frames} would show {len(kept)}; set data.video_frames: null "
        "(every listed frame) or data.frame_dependent: keep_all"
    )


def load_video_frames(paths: Sequence[str | Path]) -> list[Any]:
    """A video record's (already selected) frames as PIL images."""
    return [load_image(p) for p in paths]


def video_metadata(frame_counts: Sequence[int], fps: float) -> list[dict[str, Any]]:
    """Processor ``video_metadata`` declaring each frame list (of the given lengths) as sampled at ``fps``.

    Without it transformers 5 assumes 24 fps for a frame list: Qwen2.5-VL's ``second_per_grid_ts`` becomes
    2/24 = 0.083 instead of 2/fps (1.0 at the official 2 fps), squeezing the video's temporal positions 12-fold.
    """
    return [{"fps": fps, "total_num_frames": n, "frames_indices": list(range(n))} for n in frame_counts]


def resized_frame(processor: Any, width: int, height: int) -> tuple[int, int]:
    """(W', H') the processor resizes a ``width``×``height`` image to: 14·grid_w × 14·grid_h (qwen smart_resize)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    ip = processor.image_processor
    size = ip.size
    h, w = smart_resize(
        height,
        width,
        factor=ip.patch_size * ip.merge_size,
        min_pixels=size["shortest_edge"],
        max_pixels=size["longest_edge"],
    )
    return w, h


# --- localization targets ---------------------------------------------------------------------------------------


def rescale_box(box: Sequence[float], src: tuple[int, int], dst: tuple[int, int]) -> list[int]:
    """Map ``[x1, y1, x2, y2]`` from a ``src`` (W, H) frame to a ``dst`` (W', H') frame, rounded and clamped
    to ``[0, W'-1]`` / ``[0, H'-1]``.

    The arithmetic is the official ``convert_to_qwen25vl_format``'s, operation for operation: ``round(x * (W'/W))``
    with the scale computed first. ``x * W' / W`` lands on exact halves where the official product does not
    (1134·364/1296 = 318.5 → 318, but 1134·(364/1296) = 318.50000000000006 → 319), so targets would differ.
    """
    (sw, sh), (dw, dh) = src, dst
    scale_w, scale_h = dw / sw, dh / sh
    x1, y1, x2, y2 = box
    cx = lambda x: min(max(round(x * scale_w), 0), dw - 1)  # noqa: E731
    cy = lambda y: min(max(round(y * scale_h), 0), dh - 1)  # noqa: E731
    return [cx(x1), cy(y1), cx(x2), cy(y2)]


def grounding_json(objects: Sequence[dict[str, Any]]) -> str:
    """Qwen2.5-VL's native grounding answer: a fenced JSON list, one ``{"bbox_2d", "label"}`` object per line."""
    lines = ",\n".join("\t" + json.dumps({"bbox_2d": o["bbox_2d"], "label": o["label"]}) for o in objects)
    return "```json\n[\n" + lines + "\n]\n```"


def official_grounding_target(objects: Sequence[dict[str, Any]]) -> str:
    """sft_spld_stage1.py's target: the list is ``json.dumps``-ed, and that *string* is ``json.dumps``-ed again."""
    return "```json\n" + json.dumps(json.dumps(list(objects), indent=4), indent=4) + "\n```"


def localization_target(
    answer: Sequence[dict[str, Any]], image_size: tuple[int, int], box_frame: tuple[int, int], processor: Any, mode: str
) -> str:
    """The stage-1 assistant text for boxes stored in ``box_frame`` on an image of ``image_size`` (both W, H).

    ``rescaled``: boxes go to the frame the model actually sees (the processor's resize of the real image).
    ``official``: the frame is smart_resize of the 1296×968 box frame and the target is double-encoded.
    """
    if mode == "official":
        dst = resized_frame(processor, *box_frame)
        objs = [{**o, "bbox_2d": rescale_box(o["bbox_2d"], box_frame, dst)} for o in answer]
        return official_grounding_target(objs)
    dst = resized_frame(processor, *image_size)
    return grounding_json([{"bbox_2d": rescale_box(o["bbox_2d"], box_frame, dst), "label": o["label"]} for o in answer])


# --- records ----------------------------------------------------------------------------------------------------


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


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line is an error naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: data file not found")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataFormatError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def record_kind(rec: dict[str, Any], where: str) -> str:
    """``grounding`` (answer is a box list), ``coldstart`` (prompt + solution) or ``spatial`` (question + answer)."""
    if "prompt" in rec and "solution" in rec:
        return "coldstart"
    if "question" in rec and isinstance(rec.get("answer"), list):
        return "grounding"
    if "question" in rec and "answer" in rec:
        return "spatial"
    raise DataFormatError(
        f"{where}: unrecognised record (keys {sorted(rec)}); expected grounding "
        "(question, answer=[{bbox_2d, label}]), spatial (question, answer, options) or cold start (prompt, solution)"
    )


def record_images(rec: dict[str, Any], where: str) -> list[str]:
    """A record's ``image`` field as a non-empty list of paths (a single string is one image)."""
    images = rec.get("image")
    if isinstance(images, str):
        images = [images]
    if not isinstance(images, list) or not images or not all(isinstance(p, str) for p in images):
        raise DataFormatError(f"{where}: 'image' must be a non-empty list of paths (got {images!r})")
    return images


def record_data_type(rec: dict[str, Any], n_images: int, where: str) -> str:
    """``single_image``, ``multi_view`` or ``video`` from ``data_type``/``modality`` (aliases accepted); records
    without either are single-image with one image, multi-view with more (the official files' convention)."""
    raw = rec.get("data_type") or rec.get("modality")
    if raw is None:
        return "single_image" if n_images == 1 else "multi_view"
    key = str(raw).strip().lower()
    data_type = key if key in DATA_TYPES else DATA_TYPE_ALIASES.get(key)
    if data_type is None:
        raise DataFormatError(f"{where}: data_type {raw!r} not one of {', '.join(DATA_TYPES)}")
    return data_type


def _box_frame(rec: dict[str, Any], setting: tuple[int, int] | None, where: str) -> tuple[int, int] | None:
    if setting is not None:
        return tuple(setting)
    size = rec.get("image_size")
    if size is None:
        return None
    if isinstance(size, dict):
        size = [size.get("width"), size.get("height")]
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise DataFormatError(f"{where}: image_size must be [width, height] in pixels (got {size!r})")
    return int(size[0]), int(size[1])


def _boxes(rec: dict[str, Any], where: str) -> tuple[dict[str, Any], ...]:
    for obj in rec["answer"]:
        box = obj.get("bbox_2d") if isinstance(obj, dict) else None
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
            raise DataFormatError(f"{where}: each answer item needs bbox_2d [x1, y1, x2, y2] (got {obj!r})")
        if "label" not in obj:
            raise DataFormatError(f"{where}: answer item {obj!r} has no 'label'")
    return tuple(rec["answer"])


def parse_record(rec: dict[str, Any], stage: str, root: Path, data: Any, fidelity: str, where: str) -> SFTSample:
    """One JSONL object → an SFTSample for ``stage``; a record of another stage's kind is an error."""
    from spatialladder import prompts

    kind = record_kind(rec, where)
    if kind != RECORD_KIND_OF_STAGE[stage]:
        raise DataFormatError(
            f"{where}: a {kind} record in the {stage} stage's data (expected {RECORD_KIND_OF_STAGE[stage]})"
        )
    images = record_images(rec, where)
    data_type = record_data_type(rec, len(images), where)
    if data_type == "video":
        images = video_frame_paths(images, rec, data.video_frames, data.frame_dependent, where)
    media = resolve_media(images, root, where)
    if kind == "grounding":
        user = prompts.sft_user_text(1, str(rec["question"]), fidelity=fidelity)
        return SFTSample(
            where,
            data_type,
            media[:1],
            user,
            boxes=_boxes(rec, where),
            box_frame=_box_frame(rec, data.bbox_source_size, where),
        )
    if kind == "spatial":
        options = rec.get("options") or None
        user = prompts.sft_user_text(2, str(rec["question"]), options, "mca" if options else "na", fidelity=fidelity)
        return SFTSample(where, data_type, media, user, target=str(rec["answer"]))
    if fidelity == "fixed" and "question" in rec:
        options = rec.get("options") or None
        user = prompts.sft_user_text("cs", str(rec["question"]), options, "mca" if options else "na", fidelity=fidelity)
    else:
        user = str(rec["prompt"])
    return SFTSample(where, data_type, media, user, target=str(rec["solution"]))


def load_samples(cfg: Any) -> tuple[list[SFTSample], Counter]:
    """All usable samples of an SFT stage config, and per-reason counts of what was skipped (none so far: bad
    records are errors, since a silently shrunken training set changes results)."""
    samples: list[SFTSample] = []
    skipped: Counter = Counter()
    for file in cfg.data.files:
        root = resolve_image_root(file, cfg.data.image_root)
        for lineno, rec in read_jsonl(file):
            if cfg.data.max_samples is not None and len(samples) >= cfg.data.max_samples:
                skipped["beyond data.max_samples"] += 1
                continue
            samples.append(parse_record(rec, cfg.stage, root, cfg.data, cfg.prompt_fidelity, f"{file}:{lineno}"))
    if not samples:
        raise DataFormatError(f"data.files {cfg.data.files}: no records")
    counts = Counter(s.data_type for s in samples)
    logger.info("%s: %d samples (%s); skipped %s", cfg.stage, len(samples), dict(counts), dict(skipped) or "none")
    whole = cfg.data.video_frames is not None and sum(
        s.data_type == "video" and len(s.media) > cfg.data.video_frames for s in samples
    )
    if whole:
        logger.info("%d frame-dependent video records keep all their frames (data.frame_dependent: keep_all)", whole)
    return samples, skipped


# --- rows and collation -----------------------------------------------------------------------------------------


@dataclass
class SFTRows:
    """Builds trl rows from samples; images are read when a row is requested (DataLoader workers parallelise it)."""

    samples: list[SFTSample]
    processor: Any
    system_text: str | None = None
    bbox_target: str = "rescaled"
    image_resize: str = "once"

    def __len__(self) -> int:
        return len(self.samples)

    def row(self, index: int) -> dict[str, Any]:
        s = self.samples[index]
        if s.data_type == "video":
            vision = [{"type": "video", "video": load_video_frames(s.media)}]  # frames chosen by parse_record
            images: list[Any] = []
        else:
            images = [load_image(p) for p in s.media]
            if self.image_resize == "official":
                images = [official_pre_resize(im) for im in images]
            vision = [{"type": "image"} for _ in images]
        target = s.target
        if s.boxes:
            size = images[0].size
            frame = s.box_frame or (OFFICIAL_SCANNET_FRAME if self.bbox_target == "official" else size)
            target = localization_target(s.boxes, size, frame, self.processor, self.bbox_target)
        messages = [] if self.system_text is None else [_text_message("system", self.system_text)]
        messages.append({"role": "user", "content": [*vision, {"type": "text", "text": s.user_text}]})
        messages.append(_text_message("assistant", target))
        return {"messages": messages, "images": images}

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """``datasets`` transform: a batch of ``index`` values → a batch of rows."""
        rows = [self.row(i) for i in batch["index"]]
        return {"messages": [r["messages"] for r in rows], "images": [r["images"] for r in rows]}

    def as_dataset(self) -> Any:
        """A ``datasets.Dataset`` (what trl accepts) holding only indices; rows are built on access."""
        from datasets import Dataset

        return Dataset.from_dict({"index": list(range(len(self.samples)))}).with_transform(self)


def _text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}]}


@dataclass
class VisionSFTCollator:
    """Rows → model inputs and labels, through the processor's chat template (trl's collator plus what it lacks:
    the video frame rate, and the official ``loss_on: all`` masking).

    ``assistant``: only assistant tokens (text + ``<|im_end|>``) are supervised, via the template's
    ``{% generation %}`` markers, so no vision token ever is. ``all``: everything except padding (and any
    ``pad_token_id`` token) and ``<|image_pad|>`` — the official collator's mask, which does supervise
    ``<|video_pad|>`` and the prompt.
    """

    processor: Any
    loss_on: str = "assistant"
    chat_template: str | None = None
    video_fps: float = 2.0
    max_length: int | None = None
    image_token_id: int = field(init=False)
    pad_token_id: int | None = field(init=False)

    def __post_init__(self) -> None:
        self.image_token_id = self.processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
        self.pad_token_id = self.processor.tokenizer.pad_token_id

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        from trl.data_utils import prepare_multimodal_messages

        conversations = [prepare_multimodal_messages(ex["messages"], images=ex["images"]) for ex in examples]
        frames = [p["video"] for conv in conversations for m in conv for p in m["content"] if p["type"] == "video"]
        kwargs: dict[str, Any] = {"padding": True, "padding_side": "right", "add_special_tokens": False}
        if frames:
            kwargs.update(video_metadata=video_metadata([len(f) for f in frames], self.video_fps))
        if self.max_length is not None:
            kwargs.update(truncation=True, max_length=self.max_length)
        assistant_only = self.loss_on == "assistant"
        out = self.processor.apply_chat_template(
            conversations,
            chat_template=self.chat_template,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            return_assistant_tokens_mask=assistant_only,
            processor_kwargs=kwargs,
        )
        labels = out["input_ids"].clone()
        labels[out["attention_mask"] == 0] = -100
        if assistant_only:
            labels[out.pop("assistant_masks") == 0] = -100
        else:  # the official collator: ``labels == pad_token_id`` (wherever it occurs) and ``<|image_pad|>``
            if self.pad_token_id is not None:
                labels[out["input_ids"] == self.pad_token_id] = -100
            labels[out["input_ids"] == self.image_token_id] = -100
        out["labels"] = labels
        return out


def training_chat_template(processor: Any) -> str | None:
    """The chat template with ``{% generation %}`` markers that assistant-only masking needs (trl's copy)."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if has_generation_markers(processor.chat_template):
        return None
    return get_training_chat_template(processor)
