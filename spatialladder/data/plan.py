"""Top-down scene plans for the build report: a compact per-scene summary stored in the shard, and its drawing.

Why in the shard: the report is written after the merge, when the scans are no longer read; the scene worker
already holds the instances' boxes and the poses of the frames its records show, so it keeps just what a plan
draws (each object's footprint rectangle and height range, each used frame's camera centre and viewing direction,
and the instances each record's question names) — a few kB a scene, rounded to millimetres.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialladder.figures import new_figure
from spatialladder.scannet.geometry import min_area_rectangle
from spatialladder.scannet.types import FrameInfo, Instance, SceneMeta

DECIMALS = 3
"""Millimetres: plenty for a drawing, and keeps the shard small."""

_UNIT_SQUARE = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])


def _rounded(values: Any) -> Any:
    return np.round(np.asarray(values, dtype=float), DECIMALS).tolist()


def footprint(instance: Instance) -> dict[str, Any]:
    """The object's box seen from above: the minimum-area rectangle of its 8 corners' (x, y) (the box's own
    footprint for the upright ``gravity_aligned`` boxes; the tightest cover for a tilted ``minimal`` box), as 4
    corners in order, and its z range."""
    corners = instance.box.corners
    centre, extents, axes = min_area_rectangle(corners[:, :2])
    xy = centre + (_UNIT_SQUARE * extents) @ axes.T
    return {
        "id": instance.instance_id,
        "category": instance.category,
        "xy": _rounded(xy),
        "z": _rounded([corners[:, 2].min(), corners[:, 2].max()]),
    }


def scene_plan(scene: SceneMeta, frames: list[FrameInfo], named: dict[str, list[list[int]]]) -> dict[str, Any]:
    """What the report's plan of this scene draws. ``frames``: those the scene's records show; ``named``: per
    record file, the instance ids each record's question depends on, in the shard's record order. ``cameras`` is
    None when the scene has no frames (``--from-meta``: a released meta-info file holds no poses)."""
    cameras = None
    if frames:
        cameras = {
            str(f.frame_index): {"position": _rounded(f.camera_position), "forward": _rounded(f.camera_forward)}
            for f in sorted({f.frame_index: f for f in frames}.values(), key=lambda f: f.frame_index)
            if f.camera_position is not None and f.camera_forward is not None
        }
    return {
        "dataset": scene.dataset,
        "objects": [footprint(i) for i in scene.instances],
        "cameras": cameras,
        "named": named,
    }


HIGHLIGHT = "#d62728"
OBJECT = "#9aa5b1"
CAMERA = "#1f77b4"


def draw_plan(plan: dict[str, Any], highlight: set[int], title: str, path: Path) -> Path:
    """The plan as a PNG: objects as labelled footprint rectangles (``highlight`` ids in red), cameras as dots with
    a short arrow along their viewing direction, x/y in metres in the axis-aligned world frame, equal scale."""
    from matplotlib.patches import Polygon

    cameras = plan.get("cameras") or {}
    pos = np.array([c["position"][:2] for c in cameras.values()], dtype=float).reshape(-1, 2)
    every = np.concatenate([pos, *(np.asarray(o["xy"], dtype=float) for o in plan["objects"])])
    lo, hi = (every.min(axis=0) - 0.3, every.max(axis=0) + 0.3) if len(every) else (np.zeros(2), np.ones(2))
    # the figure takes the room's aspect (within 1:2 and 2:1), so an equal-scale plan fills it; fixed margins
    # instead of tight_layout save a third of a plan's time
    aspect = float(np.clip((hi[1] - lo[1]) / (hi[0] - lo[0]), 0.5, 2.0))
    height = 0.8 + 4.2 * aspect
    fig = new_figure(5.0, height)
    ax = fig.add_axes((0.13, 0.45 / height, 0.84, 4.2 * aspect / height - 0.02))
    for obj in plan["objects"]:
        xy = np.asarray(obj["xy"], dtype=float)
        hot = obj["id"] in highlight
        ax.add_patch(
            Polygon(
                xy, closed=True, facecolor=HIGHLIGHT if hot else OBJECT, alpha=0.45 if hot else 0.3,
                edgecolor=HIGHLIGHT if hot else "#52606d", linewidth=1.6 if hot else 0.8,
            )
        )  # fmt: skip
        centre = xy.mean(axis=0)
        ax.annotate(
            obj["category"], centre, ha="center", va="center", fontsize=7 if hot else 5.5,
            color="#7f0000" if hot else "#323f4b", fontweight="bold" if hot else "normal",
        )  # fmt: skip
    if cameras:
        fwd = np.array([c["forward"][:2] for c in cameras.values()], dtype=float)
        norm = np.linalg.norm(fwd, axis=1, keepdims=True)
        fwd = np.divide(fwd, norm, out=np.zeros_like(fwd), where=norm > 1e-9) * 0.35
        ax.scatter(pos[:, 0], pos[:, 1], s=10, color=CAMERA, zorder=3, label=f"cameras ({len(pos)} frames)")
        ax.quiver(
            pos[:, 0], pos[:, 1], fwd[:, 0], fwd[:, 1], color=CAMERA, angles="xy", scale_units="xy", scale=1,
            width=0.004, zorder=3,
        )  # fmt: skip
        ax.legend(loc="upper right", fontsize=6)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, format="png")
    return path


def _draw_job(job: tuple[dict[str, Any], set[int], str, Path]) -> Path:
    return draw_plan(*job)


def draw_plans(jobs: list[tuple[dict[str, Any], set[int], str, Path]], workers: int) -> None:
    """``draw_plan`` for each job; over ``workers`` spawned processes when there are enough plans to repay their
    start-up (a plan is one per scene and ~0.1 s: a 1,201-scene build would otherwise wait minutes on one core)."""
    if workers <= 1 or len(jobs) < 8 * workers:
        for job in jobs:
            draw_plan(*job)
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for _ in pool.imap_unordered(_draw_job, jobs, chunksize=8):
            pass
