"""Frame decoding: pixel-identical to PyAV's own conversion, one decode per file, a bounded cache per run."""

from pathlib import Path

import numpy as np
import pytest

from spatialladder.errors import DataFormatError
from spatialladder.eval import get_benchmark
from spatialladder.eval.messages import build_message
from spatialladder.eval.video import FrameCache, count_frames, frame_indices, read_frames
from spatialladder.testing.writers import write_video


def noisy_video(tmp_path: Path, name: str, n: int = 7, seed: int = 0) -> Path:
    """Random pixels, so a frame off by one index or a colour-conversion change would show."""
    rng = np.random.default_rng(seed)
    return write_video(tmp_path / name, [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(n)])


def reference_frames(path: Path, n: int) -> np.ndarray:
    """The decoder as it was before: exact count by a full decode, then ``frame.to_image()`` at the indices."""
    import av

    wanted = frame_indices(count_frames(path), n)
    with av.open(str(path)) as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    return np.stack([np.asarray(frames[i]) for i in wanted])


@pytest.mark.parametrize("n", [1, 3, 7, 10])
def test_read_frames_equals_reference_decode(tmp_path: Path, n: int):
    path = noisy_video(tmp_path, "v.mp4")
    frames = read_frames(path, n)
    assert frames.shape == (n, 48, 64, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, reference_frames(path, n))


def test_undecodable_file_names_itself(tmp_path: Path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 10)
    with pytest.raises(DataFormatError, match="bad.mp4"):
        read_frames(bad, 4)


def test_cache_returns_uncached_frames_and_decodes_each_video_once(tmp_path: Path):
    a, b = noisy_video(tmp_path, "a.mp4", seed=1), noisy_video(tmp_path, "b.mp4", seed=2)
    cache = FrameCache()
    order = [a, a, b, a, b, a]
    got = [cache.get(path, 4) for path in order]
    assert (cache.decodes, cache.hits, len(cache)) == (2, 4, 2)
    for path, frames in zip(order, got, strict=True):
        np.testing.assert_array_equal(frames, read_frames(path, 4))
    np.testing.assert_array_equal(cache.get(a, 5), reference_frames(a, 5))  # another frame count is another entry
    assert (cache.decodes, cache.hits, len(cache)) == (3, 4, 3)


def test_cache_evicts_least_recently_used_past_its_budget(tmp_path: Path):
    a, b, c = (noisy_video(tmp_path, f"{name}.mp4", seed=i) for i, name in enumerate("abc"))
    cache = FrameCache(max_bytes=2 * read_frames(a, 4).nbytes)
    for path in (a, b, a, c):  # c evicts b, the least recently used
        cache.get(path, 4)
    assert (cache.decodes, cache.hits, len(cache)) == (3, 1, 2)
    cache.get(a, 4)
    cache.get(b, 4)
    assert (cache.decodes, cache.hits, len(cache)) == (4, 2, 2)


def test_cache_converts_the_latest_video_once(tmp_path: Path):
    """The processor form (e.g. the official float tensor) is made once for questions asked one after another."""
    a, b = noisy_video(tmp_path, "a.mp4", seed=1), noisy_video(tmp_path, "b.mp4", seed=2)
    cache = FrameCache()
    calls = []

    def convert(frames: np.ndarray) -> np.ndarray:
        calls.append(frames.shape)
        return frames.astype(np.float32)

    first, again = cache.get(a, 4, None, convert), cache.get(a, 4, None, convert)
    assert first is again and len(calls) == 1
    np.testing.assert_array_equal(first, read_frames(a, 4).astype(np.float32))
    other = cache.get(b, 4, None, convert)
    back = cache.get(a, 4, None, convert)  # only the latest video's form is kept
    assert len(calls) == 3 and back is not first
    np.testing.assert_array_equal(back, first)
    assert cache.get(a, 4) is not back and cache.get(a, 4).dtype == np.uint8  # the cached frames are unchanged
    assert (cache.decodes, cache.hits) == (2, 4) and other.dtype == np.float32


def test_questions_on_one_video_decode_it_once(vsi_dir: Path):
    spec = get_benchmark("vsibench")
    samples = spec.load(vsi_dir)  # 3 questions on scene0000_00, then 3 on scene0001_00
    cache = FrameCache()
    messages = [build_message(s, spec, "direct", 4, cache) for s in samples]
    assert (cache.decodes, cache.hits) == (2, 4)
    for sample, (_, _, videos) in zip(samples, messages, strict=True):
        np.testing.assert_array_equal(videos[0], read_frames(sample.video, 4))


def test_processor_sees_the_same_tensors_for_arrays_and_pil_frames(tiny_model_dir: Path, vsi_dir: Path, tmp_path):
    """read_frames returns one uint8 array per video (faster to process); the model inputs must not change."""
    import torch
    from PIL import Image

    from spatialladder.eval.generation import HFGenerator

    from .test_runner import make_cfg

    spec = get_benchmark("vsibench")
    batch = [build_message(s, spec, "direct", 4) for s in spec.load(vsi_dir)[1:4]]
    as_pil = [(m, imgs, [[Image.fromarray(f) for f in v] for v in vids]) for m, imgs, vids in batch]
    generator = HFGenerator(make_cfg(tiny_model_dir, vsi_dir, tmp_path))
    arrays, pil = generator.encode(batch), generator.encode(as_pil)
    assert arrays.keys() == pil.keys() and "pixel_values_videos" in arrays
    for key in arrays:
        assert torch.equal(arrays[key], pil[key]), key
