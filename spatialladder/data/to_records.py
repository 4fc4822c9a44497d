"""Drafts → record dicts in the official schemas (question ids are assigned when shards are merged)."""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialladder.config.data import ColdStartSettings
from spatialladder.data.cot import solution
from spatialladder.data.images import image_relpath
from spatialladder.data.select import Draft
from spatialladder.prompts import coldstart_user_text
from spatialladder.scannet.types import SceneMeta
from spatialladder.vocab import SPLD_QUESTION_TYPES


def scale_box(box: tuple[float, float, float, float], original: tuple[int, int], stored: tuple[int, int]) -> list[int]:
    """A colour-image box in stored-image pixels, rounded and clamped to the image."""
    sx, sy = stored[0] / original[0], stored[1] / original[1]
    x1, y1, x2, y2 = box
    clamp_x = lambda v: int(min(max(round(v * sx), 0), stored[0] - 1))  # noqa: E731
    clamp_y = lambda v: int(min(max(round(v * sy), 0), stored[1] - 1))  # noqa: E731
    return [clamp_x(x1), clamp_y(y1), clamp_x(x2), clamp_y(y2)]


def draft_record(scene: SceneMeta, draft: Draft, sizes: dict[int, tuple[int, int]]) -> tuple[str, dict[str, Any]]:
    """("grounding" | "spatial", record without ``question_id``) for one draft. ``fps`` is the scene's clock
    (``scannet.fps`` for a scan; a meta-info file's rate for ``--from-meta``), the rate ``frame_indices`` count in."""
    item = draft.item
    indices = [f.frame_index for f in draft.frames]
    if indices:
        image = [image_relpath(scene.scene_id, i) for i in indices]
        image_size = list(sizes[indices[0]])
    else:  # meta-only scene: the record points at the scene's video
        image = [scene.video_path or f"{scene.dataset}/{scene.scene_id}.mp4"]
        image_size = None
    if item.answer_kind == "grounding":
        frame = draft.frames[0]
        answer = [
            {"bbox_2d": scale_box(box, frame.image_size, sizes[frame.frame_index]), "label": label}
            for label, box in item.boxes_2d
        ]
        return "grounding", {
            "question": item.question, "answer": answer, "image": image, "data_type": "single_image",
            "scene_id": scene.scene_id, "vsi_question_type": "localization", "modality": "localization",
            "frame_indices": indices, "fps": scene.fps, "image_size": image_size, "generator": item.question_type,
        }  # fmt: skip
    return "spatial", {
        "question": item.question, "options": list(item.options) if item.options else None, "answer": item.answer,
        "image": image, "question_type": SPLD_QUESTION_TYPES[item.question_type], "data_type": draft.modality,
        "scene_id": scene.scene_id, "vsi_question_type": item.question_type, "modality": draft.modality,
        "frame_indices": indices, "fps": scene.fps, "image_size": image_size, "generator": item.question_type,
    }  # fmt: skip


def coldstart_records(
    drafts: list[Draft], spatial: list[dict[str, Any]], settings: ColdStartSettings, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """A seeded ``fraction`` of the eligible spatial records, with the stage-3 prompt and a geometric rationale."""
    spatial_drafts = [d for d in drafts if d.modality != "localization"]
    out = []
    for draft, record in zip(spatial_drafts, spatial, strict=True):
        item = draft.item
        eligible = settings.question_types is None or item.question_type in settings.question_types
        if not eligible or rng.random() >= settings.fraction:
            continue
        prompt = coldstart_user_text(item.question, item.options, item.answer_kind, fidelity=settings.prompt_fidelity)
        out.append(
            {
                "prompt": prompt,
                "solution": solution(item),
                "image": record["image"],
                "data_type": record["data_type"],
                "scene_id": record["scene_id"],
                "vsi_question_type": item.question_type,
                "question_type": record["question_type"],
                "answer": item.answer,
                "modality": record["modality"],
                "frame_indices": record["frame_indices"],
                "fps": record["fps"],
                "image_size": record["image_size"],
                "generator": item.question_type,
            }  # fmt: skip
        )
    return out
