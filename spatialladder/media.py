"""Vision-media facts shared by training and evaluation (base layer: no torch, no trainer, no benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def video_metadata(frame_counts: Sequence[int], fps: float) -> list[dict[str, Any]]:
    """Processor ``video_metadata`` declaring each frame list (of the given lengths) as sampled at ``fps``.

    Without it transformers 5 assumes 24 fps for a frame list: Qwen2.5-VL's ``second_per_grid_ts`` becomes
    2/24 = 0.083 instead of 2/fps (1.0 at the official 2 fps), squeezing the video's temporal positions 12-fold.
    """
    return [{"fps": fps, "total_num_frames": n, "frames_indices": list(range(n))} for n in frame_counts]
