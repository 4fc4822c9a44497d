"""The one uniform frame sampler: the official floor rule, and every place that samples frames uses it."""

from __future__ import annotations

import numpy as np
import pytest

from spatialladder.sampling import uniform_indices, uniform_sample

FLOOR_16_OF_32 = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 31]
"""floor(31·j/15): position 8 is 16.53, so frame 16 (rounding would give 17, and 19, 21, … after it)."""


def test_16_of_32_is_the_official_floor() -> None:
    assert uniform_indices(32, 16).tolist() == FLOOR_16_OF_32
    assert uniform_sample(list(range(32)), 16) == FLOOR_16_OF_32


@pytest.mark.parametrize(("n", "k"), [(40, 32), (39, 32), (6, 4), (1000, 32), (5, 5), (3, 8)])
def test_indices_are_numpys_linspace_to_int(n: int, k: int) -> None:
    """The rule as lmms-eval, SpatialLadder's load_video_frames and VLM-3R's frame export write it."""
    assert uniform_indices(n, k).tolist() == np.linspace(0, n - 1, k, dtype=int).tolist()


def test_short_inputs_repeat_indices_but_samples_keep_everything_once() -> None:
    assert uniform_indices(3, 5).tolist() == [0, 0, 1, 1, 2]  # the official video loaders repeat frames
    assert uniform_sample(["a", "b", "c"], 5) == ["a", "b", "c"]
    assert uniform_sample(["a", "b", "c"], None) == ["a", "b", "c"]
    picked = uniform_sample(list(range(33)), 32)  # one more item than asked: still 32 distinct, ends kept
    assert len(set(picked)) == 32 and picked[0] == 0 and picked[-1] == 32


def test_every_former_sampler_picks_the_same_frames(tmp_path) -> None:
    """build-data's frame choice and video records, the trainers' data.video_frames and eval's video decoding."""
    from spatialladder.data.modalities import uniform_frames
    from spatialladder.eval.video import frame_indices
    from spatialladder.media import CaptureTimes
    from spatialladder.records import TrainingRecord
    from spatialladder.scannet.frames import choose_frames
    from spatialladder.scannet.types import FrameInfo
    from spatialladder.train.media import shown_video

    assert (choose_frames(np.arange(100, 132), "uniform", 16) - 100).tolist() == FLOOR_16_OF_32
    frames = tuple(FrameInfo(i, i / 24, None, (64, 48)) for i in range(32))
    assert [f.frame_index for f in uniform_frames(frames, 16)] == FLOOR_16_OF_32
    assert frame_indices(32, 16) == FLOOR_16_OF_32
    record = TrainingRecord.parse(
        {"question": "How many chairs?", "answer": "2", "image": [f"{i}.jpg" for i in range(32)],
         "question_type": "object count", "data_type": "video", "frame_indices": [10 * i for i in range(32)],
         "fps": 24}, "r"
    )  # fmt: skip
    shown, times = shown_video(record, 16, "error", "r")
    assert shown == [f"{i}.jpg" for i in FLOOR_16_OF_32]
    assert times == CaptureTimes(tuple(10 * i for i in FLOOR_16_OF_32), 24.0)  # the shown frames' own indices
