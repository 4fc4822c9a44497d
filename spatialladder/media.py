"""Vision-media facts shared by training and evaluation (base layer: no torch, no trainer, no benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spatialladder.errors import DataFormatError


def video_metadata(frame_counts: Sequence[int], fps: float) -> list[dict[str, Any]]:
    """Processor ``video_metadata`` declaring each frame list (of the given lengths) as sampled at ``fps``.

    Without it transformers 5 assumes 24 fps for a frame list: Qwen2.5-VL's ``second_per_grid_ts`` becomes
    2/24 = 0.083 instead of 2/fps (1.0 at the official 2 fps), squeezing the video's temporal positions 12-fold.
    """
    return [{"fps": fps, "total_num_frames": n, "frames_indices": list(range(n))} for n in frame_counts]


def vllm_video(frames: Sequence[Any], fps: float) -> tuple[Any, dict[str, Any]]:
    """One video as vLLM's Qwen2.5-VL takes it (``video_needs_metadata=True`` in vLLM 0.31): the frames as one
    ``(T, H, W, 3)`` uint8 array, and metadata declaring them sampled at ``fps`` (the fields of transformers'
    ``VideoMetadata``, which vLLM builds from it; ``do_sample_frames`` False: every frame is kept)."""
    import numpy as np

    if isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4:
        video = frames  # already one array (eval's cached frames): no copy per question
    else:
        arrays = [
            np.asarray(frame.convert("RGB") if hasattr(frame, "convert") else frame, dtype=np.uint8) for frame in frames
        ]
        shapes = sorted({a.shape for a in arrays})
        if len(shapes) != 1:
            raise DataFormatError(f"a video row's {len(arrays)} frames differ in size {shapes}; vLLM takes one array")
        video = np.stack(arrays)
    meta = video_metadata([len(video)], fps)[0]
    return video, {**meta, "duration": len(video) / fps, "do_sample_frames": False}
