"""The one uniform frame sampler: ``k`` of ``n`` frames, first and last kept, with the official rounding.

Every place that picks frames evenly calls it: build-data's frame choice over a scan's valid frames
(``scannet.frames.choose_frames``) and its video records (``data.modalities.uniform_frames``), the trainers'
``data.video_frames`` (``train.media``) and evaluation's video decoding (``eval.video.frame_indices``).

The rule is ``np.linspace(0, n - 1, k, dtype=int)``: the float positions are truncated, which for these
non-negative values is the floor (16 of 32 frames keeps frame 16, not the rounded 17). It is the rule of the code
we reproduce:

- VSI-Bench's frame export, as ported by VLM-3R (``vlm_3r_data_process/src/metadata_generation/ScanNet/preprocess/
  export_sampled_frames.py``: ``np.linspace(0, num_candidates - 1, num_frames_to_sample, dtype=int)`` over the
  valid frames, then ``np.unique``);
- lmms-eval as used for VSI-Bench (``thinking-in-space/lmms_eval/models/llava_onevision.py`` ``load_video``);
- SpatialLadder's evaluation (``eval_spld/utils.py`` ``load_video_frames``).

Only numpy is imported, so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def uniform_indices(n: int, k: int) -> np.ndarray:
    """``k`` indices into ``range(n)`` (``n`` ≥ 1), evenly spread, first and last included: the official
    ``np.linspace(0, n - 1, k, dtype=int)``. When ``n < k`` indices repeat, as in the official video loaders."""
    return np.linspace(0, n - 1, k, dtype=int)


def uniform_sample(items: Sequence[T], k: int | None) -> list[T]:
    """``k`` of ``items`` at :func:`uniform_indices`; all of them when there are ``k`` or fewer, or ``k`` is None.

    With more than ``k`` items the indices are distinct (the step is at least 1), so nothing repeats.
    """
    if k is None or len(items) <= k:
        return list(items)
    return [items[i] for i in uniform_indices(len(items), k)]
