"""On-disk records: the three SpatialLadder-26k JSONL schemas (official-spatialladder.md §2.3), read and written
in one place, and the one JSONL reader that build-data's tests, SFT, GRPO and the demo share.

Two modes, because two kinds of file meet here:

- **strict** (``GroundingRecord``, ``SpatialRecord``, ``ColdStartRecord`` with :func:`read_records`): what
  build-data writes. Every field, exact types, nothing extra. Official fields come first and keep their official
  names and types, so tools that read the released files read ours; our extra fields (``scene_id``,
  ``vsi_question_type``, ``modality``, ``frame_indices``, ``fps``, ``image_size``, ``generator``) follow.
  ``frame_indices`` (each listed image's index in the scene's video) and ``fps`` (that video's frame rate, the
  scene's clock) give every frame its capture time, ``frame_indices[i] / fps``: the time a Qwen3-VL prompt stamps.
- **lenient** (``TrainingRecord`` with :func:`read_training_records`): what the trainers accept, the released
  files as they are and ours alike. The kind is read off the keys; ``image`` may be one path or a list;
  ``data_type`` may be missing (one image: single image, more: multi-view), spelt as an alias, or given as
  ``modality``; ``options`` may be null or ``[]``; answers are read as text; ``frame_indices`` and ``fps`` are
  read when present (the released files have neither); other extra fields are ignored.

Image paths are relative to ``<out>/images`` (the official ``--image_folders`` root). Every error is one line
naming the file and line (``where``) and the key at fault.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spatialladder.errors import DataFormatError
from spatialladder.vocab import (
    DATA_TYPE_ALIASES,
    DATA_TYPES,
    RECORD_FILES,
    DataType,
    Modality,
    RecordKind,
    SpldQuestionType,
    VsiAnswerKind,
    answer_kind_of_options,
    is_frame_dependent,
)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- strict: what build-data writes ------------------------------------------------------------------------------


class BoxLabel(_Record):
    """One Qwen2.5-VL grounding answer entry, in the stored image's pixels."""

    bbox_2d: list[int] = Field(min_length=4, max_length=4)
    label: str


class GroundingRecord(_Record):
    """``spld_grounding_data.jsonl`` (stage 1)."""

    question_id: int
    question: str
    answer: list[BoxLabel] = Field(min_length=1)
    image: list[str] = Field(min_length=1, max_length=1)
    data_type: Literal["single_image"] = "single_image"
    scene_id: str
    vsi_question_type: Literal["localization"] = "localization"
    modality: Literal["localization"] = "localization"
    frame_indices: list[int]
    fps: float = Field(gt=0)  # frame rate of the scene's video the indices count in
    image_size: list[int] | None = Field(None, min_length=2, max_length=2)  # [width, height] of the stored image
    generator: str


class SpatialRecord(_Record):
    """``spld_spatial_data.jsonl`` (stages 2 and 3). ``options`` is null for numeric answers."""

    question_id: int
    question: str
    options: list[str] | None
    answer: str
    image: list[str] = Field(min_length=1)
    question_type: SpldQuestionType
    data_type: DataType
    scene_id: str
    vsi_question_type: str
    modality: Modality
    frame_indices: list[int]
    fps: float = Field(gt=0)
    image_size: list[int] | None = Field(None, min_length=2, max_length=2)
    generator: str


class ColdStartRecord(_Record):
    """``spld_coldstart_data.jsonl``: verbatim user ``prompt`` and ``<think>…</think><answer>…</answer>`` target."""

    question_id: int
    prompt: str
    solution: str
    image: list[str] = Field(min_length=1)
    data_type: DataType
    scene_id: str
    vsi_question_type: str
    question_type: SpldQuestionType
    answer: str
    modality: Modality
    frame_indices: list[int]
    fps: float = Field(gt=0)
    image_size: list[int] | None = Field(None, min_length=2, max_length=2)
    generator: str


_MODELS: dict[str, type[_Record]] = {
    "grounding": GroundingRecord,
    "spatial": SpatialRecord,
    "coldstart": ColdStartRecord,
}
FILES: dict[str, tuple[str, type[_Record]]] = {kind: (RECORD_FILES[kind], model) for kind, model in _MODELS.items()}

R = TypeVar("R", bound=_Record)


def record_line(record: BaseModel) -> str:
    """One JSONL line: field order as declared, UTF-8 kept, no trailing spaces (byte-stable)."""
    return json.dumps(record.model_dump(mode="json"), ensure_ascii=False)


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write via a temp file and rename, so a killed run never leaves a half-written file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    if isinstance(text, bytes):
        tmp.write_bytes(text)
    else:
        tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl(path: Path | str, records: Iterable[BaseModel]) -> Path:
    path = Path(path)
    write_atomic(path, "".join(record_line(r) + "\n" for r in records))
    return path


# --- the one JSONL reader ----------------------------------------------------------------------------------------


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a missing file or a bad line is an error naming both."""
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


def read_records(path: Path | str, model: type[R]) -> list[R]:
    """Every line of a file build-data wrote, validated strictly; a bad line names file, line and field."""
    out = []
    for lineno, obj in read_jsonl(path):
        try:
            out.append(model.model_validate(obj))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<line>'}: {e['msg']}" for e in exc.errors())
            raise DataFormatError(f"{path}:{lineno}: not a {model.__name__}: {problems}") from None
    return out


# --- lenient: what the trainers read ------------------------------------------------------------------------------


class TrainingRecord(_Record):
    """A record as the trainers read it, from the released SpatialLadder-26k files or ours (see the module doc).

    ``boxes`` are a grounding record's answer items as stored (each has ``bbox_2d`` and ``label``; other keys are
    kept, since the official stage-1 target serialises whole items); ``answer`` is a spatial record's answer as
    text. ``image_size`` is the (W, H) frame a grounding record's boxes are in, when it says so. ``frame_indices``
    (one per listed image) and ``fps`` say when each image was captured in its source video, when the record says so
    (:meth:`capture_times`).
    """

    kind: RecordKind
    image: tuple[str, ...] = Field(min_length=1)
    data_type: DataType
    question: str | None = None
    options: tuple[str, ...] | None = None
    answer: str | None = None
    boxes: tuple[dict[str, Any], ...] = ()
    prompt: str | None = None
    solution: str | None = None
    question_type: str | None = None
    vsi_question_type: str | None = None
    image_size: tuple[int, int] | None = None
    question_id: str = ""
    frame_indices: tuple[int, ...] | None = None
    fps: float | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str) -> TrainingRecord:
        """One JSONL object as a TrainingRecord; anything malformed is a DataFormatError naming ``where``."""
        kind = record_kind(raw, where)
        image = record_images(raw, where)
        fields: dict[str, Any] = {
            "kind": kind,
            "image": tuple(image),
            "data_type": record_data_type(raw, len(image), where),
            "question_type": _text_or_none(raw.get("question_type")),
            "vsi_question_type": _text_or_none(raw.get("vsi_question_type")),
            "question_id": str(raw.get("question_id", "")),
            "frame_indices": _frame_indices(raw, len(image), where),
            "fps": _fps(raw, where),
        }
        if "question" in raw:
            fields["question"] = str(raw["question"])
        if kind == "grounding":
            fields.update(boxes=_boxes(raw, where), image_size=_image_size(raw, where))
        else:
            fields["options"] = _options(raw, where)
        if kind == "spatial":
            fields["answer"] = str(raw["answer"])
        if kind == "coldstart":
            fields.update(prompt=str(raw["prompt"]), solution=str(raw["solution"]))
        return cls(**fields)

    @property
    def answer_kind(self) -> VsiAnswerKind:
        """``mca`` when the record lists options, else ``na`` (the released files carry no answer-kind field)."""
        return answer_kind_of_options(self.options)

    def capture_times(self, positions: Sequence[int]) -> tuple[tuple[int, ...], float] | None:
        """(frame indices, fps) of the listed images at ``positions``, or None when the record lacks either."""
        if self.frame_indices is None or self.fps is None:
            return None
        return tuple(self.frame_indices[p] for p in positions), self.fps

    @property
    def frame_dependent(self) -> bool:
        """Whether the answer depends on which of the listed frames are shown (``vocab.is_frame_dependent``)."""
        return is_frame_dependent(self.question_type, self.vsi_question_type)


def read_training_records(path: str | Path) -> Iterator[tuple[str, TrainingRecord]]:
    """(``file:line``, record) for each line of a grounding, spatial or cold-start file, read leniently."""
    for lineno, obj in read_jsonl(path):
        where = f"{path}:{lineno}"
        yield where, TrainingRecord.parse(obj, where)


def record_kind(rec: dict[str, Any], where: str) -> RecordKind:
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


def record_data_type(rec: dict[str, Any], n_images: int, where: str) -> DataType:
    """``single_image``, ``multi_view`` or ``video`` from ``data_type``/``modality`` (aliases accepted); records
    without either are single-image with one image, multi-view with more (the official files' convention)."""
    raw = rec.get("data_type") or rec.get("modality")
    if raw is None:
        return "single_image" if n_images == 1 else "multi_view"
    key = str(raw).strip().lower()
    data_type = key if key in DATA_TYPES else DATA_TYPE_ALIASES.get(key)
    if data_type is None:
        raise DataFormatError(f"{where}: data_type {raw!r} not one of {', '.join(DATA_TYPES)}")
    return data_type  # type: ignore[return-value]


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _options(rec: dict[str, Any], where: str) -> tuple[str, ...] | None:
    """``options`` as a tuple of strings; null, missing or ``[]`` is None (a numeric question)."""
    options = rec.get("options") or None
    if options is not None and not (isinstance(options, list) and all(isinstance(o, str) for o in options)):
        raise DataFormatError(f"{where}: options must be a list of strings or null (got {options!r:.80})")
    return tuple(options) if options else None


def _frame_indices(rec: dict[str, Any], n_images: int, where: str) -> tuple[int, ...] | None:
    """``frame_indices`` as a tuple, one per listed image; missing, null or ``[]`` (a record pointing at a video
    file) is None."""
    indices = rec.get("frame_indices") or None
    if indices is None:
        return None
    if not (
        isinstance(indices, list) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices)
    ):
        raise DataFormatError(f"{where}: frame_indices must be a list of frame numbers ≥ 0 (got {indices!r:.80})")
    if len(indices) != n_images:
        raise DataFormatError(
            f"{where}: frame_indices has {len(indices)} entries for {n_images} images (one per image)"
        )
    return tuple(indices)


def _fps(rec: dict[str, Any], where: str) -> float | None:
    """``fps``, the frame rate ``frame_indices`` count in; None when absent."""
    fps = rec.get("fps")
    if fps is None:
        return None
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0:
        raise DataFormatError(f"{where}: fps must be a positive number of frames per second (got {fps!r})")
    return float(fps)


def _boxes(rec: dict[str, Any], where: str) -> tuple[dict[str, Any], ...]:
    if not rec["answer"]:
        raise DataFormatError(f"{where}: a grounding record's answer is an empty list (expected [{{bbox_2d, label}}])")
    for obj in rec["answer"]:
        box = obj.get("bbox_2d") if isinstance(obj, dict) else None
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
            raise DataFormatError(f"{where}: each answer item needs bbox_2d [x1, y1, x2, y2] (got {obj!r})")
        if "label" not in obj:
            raise DataFormatError(f"{where}: answer item {obj!r} has no 'label'")
    return tuple(rec["answer"])


def _image_size(rec: dict[str, Any], where: str) -> tuple[int, int] | None:
    """``image_size`` as (width, height): ``[w, h]`` or ``{"width", "height"}``; None when absent."""
    size = rec.get("image_size")
    if size is None:
        return None
    if isinstance(size, dict):
        size = [size.get("width"), size.get("height")]
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise DataFormatError(f"{where}: image_size must be [width, height] in pixels (got {size!r})")
    return int(size[0]), int(size[1])
