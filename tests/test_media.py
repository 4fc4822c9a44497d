"""Video time, the one rule (``spatialladder/media.py``): what each family's processor is told about a frame list, the
stamps Qwen3-VL writes, and vLLM's placeholder replacement, on hand-computed cases."""

from __future__ import annotations

import pytest
from PIL import Image

from spatialladder.errors import DataFormatError
from spatialladder.media import (
    CaptureTimes,
    expand_placeholders,
    frame_list_metadata,
    frame_stamps,
    stamp_text,
    timestamped_video_ids,
    video_processor_kwargs,
    vllm_video,
)

TIMES = CaptureTimes((0, 10, 20, 35, 40), 30.0)


def test_qwen2_5_vl_frames_are_declared_at_the_configured_rate_whatever_the_record_says() -> None:
    """``mrope``: indices 0..n-1 at ``data.video_fps`` (2 / 2 fps = second_per_grid_ts 1.0, the official scale), so
    Qwen2.5-VL's inputs do not change when records gain capture times."""
    declared = {"fps": 2.0, "total_num_frames": 5, "frames_indices": [0, 1, 2, 3, 4]}
    assert frame_list_metadata("mrope", 5, 2.0, TIMES) == declared
    assert frame_list_metadata("mrope", 5, 2.0, None) == declared


def test_timestamp_families_get_the_capture_times() -> None:
    assert frame_list_metadata("timestamps", 5, 2.0, TIMES) == {
        "fps": 30.0,
        "total_num_frames": 41,  # the source spans at least to the last shown frame
        "frames_indices": [0, 10, 20, 35, 40],
    }
    # a record without times (the released files): qwen-vl-utils' frame-list declaration at data.video_fps
    assert frame_list_metadata("timestamps", 3, 2.0, None) == {
        "fps": 2.0,
        "total_num_frames": 3,
        "frames_indices": [0, 1, 2],
    }
    first = frame_list_metadata("timestamps", 5, 2.0, TIMES)
    first["frames_indices"].append(40)  # the Qwen3-VL processor pads an odd list in place
    assert frame_list_metadata("timestamps", 5, 2.0, TIMES)["frames_indices"] == [0, 10, 20, 35, 40]


def test_times_that_do_not_fit_the_frames_are_refused() -> None:
    with pytest.raises(DataFormatError, match=r"^a video of 4 frames carries 5 frame indices; expected one per frame$"):
        frame_list_metadata("timestamps", 4, 2.0, TIMES)
    with pytest.raises(ValueError, match=r"video_time 'text': expected one of mrope, timestamps"):
        frame_list_metadata("text", 4, 2.0, None)


def test_processor_kwargs_per_family() -> None:
    """Qwen2.5-VL gets exactly what it always got (no ``do_sample_frames``); Qwen3-VL / Qwen3.5 get their times and
    no resampling, one metadata entry per video in batch order."""
    frames = [Image.new("RGB", (8, 8))] * 5
    timed = {"type": "video", "video": frames, **TIMES.part_keys()}
    bare = {"type": "video", "video": frames[:2]}
    assert video_processor_kwargs("mrope", [timed], 2.0) == {
        "video_metadata": [{"fps": 2.0, "total_num_frames": 5, "frames_indices": [0, 1, 2, 3, 4]}]
    }
    assert video_processor_kwargs("timestamps", [timed, bare], 2.0) == {
        "video_metadata": [
            {"fps": 30.0, "total_num_frames": 41, "frames_indices": [0, 10, 20, 35, 40]},
            {"fps": 2.0, "total_num_frames": 2, "frames_indices": [0, 1]},
        ],
        "do_sample_frames": False,
    }
    assert video_processor_kwargs("timestamps", [], 2.0) == {}
    assert CaptureTimes.of_part(timed) == TIMES and CaptureTimes.of_part(bare) is None


def test_stamps_are_the_processors_own() -> None:
    """Mean of each 2-frame patch's capture times, an odd list padded with its last frame: (0+10)/2/30, (20+35)/2/30,
    (40+40)/2/30 — the same as transformers' ``Qwen3VLProcessor._calculate_timestamps``."""
    from transformers import Qwen3VLProcessor

    meta = frame_list_metadata("timestamps", 5, 2.0, TIMES)
    stamps = frame_stamps(meta, 2)
    assert stamps == pytest.approx([5 / 30, 27.5 / 30, 40 / 30])
    assert stamps == Qwen3VLProcessor._calculate_timestamps(None, [0, 10, 20, 35, 40], 30.0, 2)
    assert [stamp_text(t) for t in stamps] == ["<0.2 seconds>", "<0.9 seconds>", "<1.3 seconds>"]


def test_a_timestamped_video_is_one_group_per_patch() -> None:
    encode = {"<0.2 seconds>": [101, 102], "<0.9 seconds>": [103]}.__getitem__
    assert timestamped_video_ids([5 / 30, 27.5 / 30], 2, encode, 7, 8, 9) == [101, 102, 7, 8, 8, 9, 103, 7, 8, 8, 9]


def test_placeholders_are_replaced_in_order_one_item_per_match() -> None:
    updates = [([8], [[4, 4], [4]]), ([7, 8, 9], [[5, 6]])]
    assert expand_placeholders([1, 7, 8, 9, 2, 8, 3, 8], updates) == [1, 5, 6, 2, 4, 4, 3, 4]
    with pytest.raises(RuntimeError, match=r"placeholders \[1, 1\] do not match the items \[2, 1\]"):
        expand_placeholders([1, 7, 8, 9, 8], updates)
    with pytest.raises(RuntimeError, match=r"more placeholders \[7, 8, 9\] in the prompt than the 1 items"):
        expand_placeholders([7, 8, 9, 7, 8, 9], [([7, 8, 9], [[5]])])


def test_vllm_video_carries_the_metadata_it_is_given() -> None:
    frames = [Image.new("RGB", (56, 28), (1, 2, 3))] * 3
    meta = frame_list_metadata("timestamps", 3, 2.0, CaptureTimes((0, 15, 30), 30.0))
    array, sent = vllm_video(frames, metadata=meta)
    assert array.shape == (3, 28, 56, 3)
    assert sent == {
        "fps": 30.0,
        "total_num_frames": 31,
        "frames_indices": [0, 15, 30],
        "duration": 31 / 30,
        "do_sample_frames": False,
    }
    assert vllm_video(frames, 2.0)[1] == {
        "fps": 2.0,
        "total_num_frames": 3,
        "frames_indices": [0, 1, 2],
        "duration": 1.5,
        "do_sample_frames": False,
    }
    with pytest.raises(DataFormatError, match=r"^3 frame indices for a video of 2 frames$"):
        vllm_video(frames[:2], metadata=meta)
