"""Write small benchmarks in the exact Hub layouts, from QA items and frames you give (tests and the demo).

The demo turns held-out synthetic scenes into benchmarks with these writers; tests use them to run ``eval`` and
``score`` end to end. Each writer returns the data folder to pass as ``--data``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatialladder.errors import DataFormatError


@dataclass(frozen=True)
class BenchItem:
    """One question. ``options`` are full strings (``"A. chair"``); ``ground_truth`` a letter or a number text.

    ``scene`` names the video (VSI) or the image folder (SPBench); ``frames`` are RGB uint8 arrays or PIL images
    (the video's frames for VSI, the images for SPBench/CV-Bench).
    """

    question_type: str
    question: str
    ground_truth: str
    scene: str
    frames: Sequence[Any]
    options: Sequence[str] | None = None
    source: str = "Omni3D"
    dataset: str = "scannet"
    extra: dict[str, Any] = field(default_factory=dict)
    pruned: bool = False
    """VSI-Bench: listed in ``pruned_ids.txt`` (left out of VSI-Bench-Debiased)."""


def _png(frame: Any) -> bytes:
    from PIL import Image

    image = frame if hasattr(frame, "save") else Image.fromarray(np.asarray(frame, dtype=np.uint8))
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def solid_frames(n: int, size: tuple[int, int] = (56, 56), seed: int = 0) -> list[np.ndarray]:
    """``n`` distinct solid-colour HxWx3 frames (even sizes, as the mp4 encoder needs)."""
    rng = np.random.default_rng(seed)
    return [np.full((*size, 3), rng.integers(0, 256, 3), dtype=np.uint8) for _ in range(n)]


VSI_LAYOUTS = ("current", "original")


def write_vsibench(items: Sequence[BenchItem], out_dir: str | Path, fps: int = 24, layout: str = "current") -> Path:
    """A VSI-Bench folder; items sharing a scene share its ``<dataset>/<scene>.mp4``; ids are the item indices.

    ``layout="current"`` (the Hub's main branch): ``test.jsonl``, ``pruned_ids.txt`` (the ``pruned`` items) and
    ``test_debiased.parquet`` / ``test_pruned.parquet`` made as the card's ``create_pq.py`` makes them (pandas
    ``read_json(lines=True)``, a ``pruned`` column from ``id.astype(str).isin(pruned_ids)``,
    ``to_parquet(index=False)``), except that ``read_json`` keeps the JSON types (``dtype=False``): a tiny set whose
    answers are all numbers would otherwise come back as floats, which VSI-Bench's mixed letter/number column never
    does.
    ``layout="original"``: the 2024 release's ``test-00000-of-00001.parquet``.
    """
    from spatialladder.testing.writers import write_video

    if layout not in VSI_LAYOUTS:
        raise DataFormatError(f"VSI-Bench layout {layout!r}; expected one of {list(VSI_LAYOUTS)}")
    out = Path(out_dir)
    videos: dict[tuple[str, str], Sequence[Any]] = {}
    rows = []
    for i, item in enumerate(items):
        key = (item.dataset, item.scene)
        if key in videos and len(videos[key]) != len(item.frames):
            raise DataFormatError(f"item {i}: scene {item.scene} was given twice with different frames")
        videos.setdefault(key, item.frames)
        rows.append(
            {
                "id": i,
                "dataset": item.dataset,
                "scene_name": item.scene,
                "question_type": item.question_type,
                "question": item.question,
                "ground_truth": item.ground_truth,
                "options": list(item.options) if item.options else None,
            }
        )
    for (dataset, scene), frames in videos.items():
        write_video(out / dataset / f"{scene}.mp4", list(frames), fps=fps)
    if layout == "original":
        _write_parquet(rows, out / "test-00000-of-00001.parquet")
        return out
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / "test.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pruned_ids = [str(i) for i, item in enumerate(items) if item.pruned]
    (out / "pruned_ids.txt").write_text("".join(f"{i}\n" for i in pruned_ids), encoding="utf-8")
    df = pd.read_json(str(jsonl), lines=True, dtype=False)
    df["pruned"] = df["id"].astype(str).isin(pruned_ids)
    df[~df["pruned"]].to_parquet(out / "test_debiased.parquet", index=False)
    df[df["pruned"]].to_parquet(out / "test_pruned.parquet", index=False)
    return out


def write_spbench(items: Sequence[BenchItem], out_dir: str | Path, split: str = "SI") -> Path:
    """``SPBench-<split>.parquet`` + ``images/<scene>/<id>_<k>.png``."""
    if split not in ("SI", "MV"):
        raise DataFormatError(f"SPBench split must be SI or MV, got {split!r}")
    out = Path(out_dir)
    rows = []
    for i, item in enumerate(items):
        names = []
        for k, frame in enumerate(item.frames):
            name = f"{i}_{k}.png"
            target = out / "images" / item.scene / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_png(frame))
            names.append(name)
        rows.append(
            {
                "id": i,
                "dataset": item.dataset,
                "scene_name": item.scene,
                "question_type": item.question_type,
                "question": item.question,
                "options": list(item.options) if item.options else None,
                "ground_truth": item.ground_truth,
                "images": names,
            }
        )
    _write_parquet(rows, out / f"SPBench-{split}.parquet")
    return out


def write_cvbench(items: Sequence[BenchItem], out_dir: str | Path) -> Path:
    """``test_2d.parquet`` (ADE20K/COCO items) and ``test_3d.parquet`` (Omni3D items) with PNG bytes."""
    out = Path(out_dir)
    tables: dict[str, list[dict[str, Any]]] = {"test_2d.parquet": [], "test_3d.parquet": []}
    for i, item in enumerate(items):
        name = "test_3d.parquet" if item.source == "Omni3D" else "test_2d.parquet"
        tables[name].append(
            {
                "idx": i,
                "type": "3D" if item.source == "Omni3D" else "2D",
                "task": item.question_type,
                "image": {"bytes": _png(item.frames[0]), "path": None},
                "question": item.question,
                "prompt": item.question,
                "answer": item.ground_truth,
                "source": item.source,
            }
        )
    for name, rows in tables.items():
        _write_parquet(rows, out / name)
    return out


def write_sparbench(items: Sequence[BenchItem], out_dir: str | Path) -> Path:
    """``data/test-00000-of-00001.parquet`` (the Hub layout) with ``image`` = a list of ``{bytes}`` cells.

    ``question_type`` is the SPAR task; ``extra["img_type"]`` defaults to single_view for one frame, else multi_view.
    """
    out = Path(out_dir)
    rows = [
        {
            "id": f"spar-{i}",
            "img_type": item.extra.get("img_type", "single_view" if len(item.frames) == 1 else "multi_view"),
            "task": item.question_type,
            "image": [{"bytes": _png(f), "path": None} for f in item.frames],
            "question": item.question,
            "answer": item.ground_truth,
        }
        for i, item in enumerate(items)
    ]
    _write_parquet(rows, out / "data" / "test-00000-of-00001.parquet")
    return out


def write_mmsi(items: Sequence[BenchItem], out_dir: str | Path) -> Path:
    """``MMSI_Bench.parquet`` with ``images`` = a list of raw encoded bytes, as the released file."""
    out = Path(out_dir)
    rows = [
        {
            "id": i,
            "images": [_png(f) for f in item.frames],
            "question_type": item.question_type,
            "question": item.question,
            "answer": item.ground_truth,
            "thought": "",
        }
        for i, item in enumerate(items)
    ]
    _write_parquet(rows, out / "MMSI_Bench.parquet")
    return out


def write_mindcube(items: Sequence[BenchItem], out_dir: str | Path) -> Path:
    """``raw/MindCube_tinybench.jsonl`` + ``other_all_image/<scene>/<k>.png``; ``extra["id"]`` sets the record id
    (the setting is read from it), defaulting to ``<question_type>_<i>``."""
    out = Path(out_dir)
    lines = []
    for i, item in enumerate(items):
        paths = []
        for k, frame in enumerate(item.frames):
            rel = f"other_all_image/{item.scene}/{i}_{k}.png"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(_png(frame))
            paths.append(rel)
        record = {
            "id": item.extra.get("id", f"{item.question_type}_{i}"),
            "category": [item.question_type],
            "type": "raw_qa",
            "meta_info": [],
            "question": item.question,
            "images": paths,
            "gt_answer": item.ground_truth,
        }
        lines.append(json.dumps(record))
    target = out / "raw" / "MindCube_tinybench.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
