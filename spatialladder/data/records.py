"""On-disk records: the three SpatialLadder-26k JSONL schemas (official-spatialladder.md §2.3) plus our fields.

Official fields come first and keep their official names and types, so tools that read the released files read
ours; the extra fields (``scene_id``, ``vsi_question_type``, ``modality``, ``frame_indices``, ``image_size``,
``generator``) follow. Image paths are relative to ``<out>/images`` (the official ``--image_folders`` root).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spatialladder.errors import DataFormatError
from spatialladder.vocab import RECORD_FILES, DataType, Modality, SpldQuestionType


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


def read_jsonl(path: Path | str, model: type[R]) -> list[R]:
    """Read and validate every line; a bad line is a DataFormatError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    out = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                out.append(model.model_validate_json(line))
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<line>'}: {e['msg']}" for e in exc.errors())
                raise DataFormatError(f"{path}:{number}: not a {model.__name__}: {problems}") from None
    return out
