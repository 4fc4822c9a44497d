"""Eval inputs as the official SpatialLadder harness builds them (``eval_spld/utils.py load_video_frames``, then
qwen-vl-utils, then the processor), and the vision grids recorded with every prediction."""

import io
import json
from pathlib import Path

import numpy as np
import pytest

from spatialladder.config.base import ModelSettings
from spatialladder.errors import ConfigError, DataFormatError
from spatialladder.eval import get_benchmark
from spatialladder.eval.generation import HFGenerator
from spatialladder.eval.inputs import (
    VisionInputs,
    compact_video,
    grids_of,
    official_target_size,
    predicted_grid,
    processor_video,
)
from spatialladder.eval.messages import build_message
from spatialladder.eval.runner import run_eval
from spatialladder.eval.sharding import PREDICTIONS
from spatialladder.eval.video import FrameCache, read_frames
from spatialladder.testing.synthetic_benchmarks import BenchItem, write_spbench, write_vsibench

from .test_runner import make_cfg

OFFICIAL_PIXELS = {"min_pixels": 12_544, "max_pixels": 401_408}  # run_eval.sh: 16·28·28 and 512·28·28


def textured(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth colour ramps plus noise: resampling differences show, and the mp4/png stay small."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], axis=-1)
    return np.clip(base + rng.integers(-20, 21, (height, width, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def scannet_video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One VSI-Bench question on a 32-frame 640×480 video, a ScanNet video's size."""
    frames = [textured(480, 640, seed) for seed in range(32)]
    item = BenchItem("object_counting", "How many chair(s) are in this room?", "2", "scene0000_00", frames)
    return write_vsibench([item], tmp_path_factory.mktemp("vsi640"))


def official_cfg(model_dir: Path, data_dir: Path, out: Path, **kw):
    model = ModelSettings(name_or_path=str(model_dir), dtype="float32", **OFFICIAL_PIXELS)
    return make_cfg(model_dir, data_dir, out, model=model, frames=32, batch_size=1, **kw)


def test_official_pre_resize_size_by_hand():
    # 640/480 = 4/3: sqrt(401408·4/3) = 731.58…, sqrt(401408·3/4) = 548.69…, truncated
    assert official_target_size(640, 480, 401_408) == (731, 548)
    assert official_target_size(480, 640, 401_408) == (548, 731)
    assert official_target_size(56, 56, 3_136) == (56, 56)


def test_640x480_video_reaches_the_model_as_the_official_grid(tiny_model_dir: Path, scannet_video_dir, tmp_path):
    """731×548 (pre-resize) → 728×560 (qwen-vl-utils, multiples of 28) → 700×532 (processor, ≤ 401,408 px):
    grid [16, 38, 50]. Frames straight to the processor: 640×480 → 644×476, grid [16, 34, 46]."""
    official = run_eval(official_cfg(tiny_model_dir, scannet_video_dir, tmp_path / "official"))
    (line,) = (tmp_path / "official" / PREDICTIONS).read_text().splitlines()
    record = json.loads(line)
    assert record["video_grid_thw"] == [[16, 38, 50]] and record["image_grid_thw"] == []
    assert official.results["vision_grids"] == {
        "image_grid_thw": {},
        "video_grid_thw": {"16x38x50": 1},
        "n_without_grids": 0,
    }
    protocol = json.loads((tmp_path / "official" / "results.json").read_text())["settings"]["input_protocol"]
    assert protocol["name"] == "official" and protocol["frames"] == 32 and protocol["pre_resize"] is True
    assert (protocol["min_pixels"], protocol["max_pixels"]) == (12_544, 401_408)
    assert protocol["video_pre_resize"].endswith("P = 401408") and protocol["qwen_vl_utils"]
    assert (protocol["video_fps"], protocol["second_per_grid_ts"]) == (2.0, 1.0)

    direct = run_eval(official_cfg(tiny_model_dir, scannet_video_dir, tmp_path / "direct", input_protocol="direct"))
    record = json.loads((tmp_path / "direct" / PREDICTIONS).read_text())
    assert record["video_grid_thw"] == [[16, 34, 46]]
    assert direct.results["settings"]["input_protocol"]["pre_resize"] is False
    assert direct.results["settings"]["input_protocol"]["video_pre_resize"] is None
    assert direct.results["settings"]["run_key"] != official.results["settings"]["run_key"]
    with pytest.raises(ConfigError, match="different model/prompt/generation/input settings"):
        run_eval(official_cfg(tiny_model_dir, scannet_video_dir, tmp_path / "official", input_protocol="direct"))


def test_official_video_is_what_qwen_vl_utils_hands_the_processor(tiny_model_dir: Path, scannet_video_dir, tmp_path):
    """The reference is built here the official way: decoded frames, ``Image.resize((731, 548), LANCZOS)``,
    ``process_vision_info`` on a message holding the frame list, then the processor."""
    import torch
    from PIL import Image
    from qwen_vl_utils import process_vision_info

    spec = get_benchmark("vsibench")
    (sample,) = spec.load(scannet_video_dir)
    inputs = VisionInputs("official", 401_408)
    _, _, (ours,) = build_message(sample, spec, "direct", 32, FrameCache(), inputs)

    pil = [Image.fromarray(f).resize((731, 548), Image.Resampling.LANCZOS) for f in read_frames(sample.video, 32)]
    message = [{"role": "user", "content": [{"type": "video", "video": pil}, {"type": "text", "text": "q"}]}]
    _, (reference,) = process_vision_info([message])
    assert reference.shape == (32, 3, 560, 728) and reference.dtype == torch.float32
    assert torch.equal(ours, reference)

    generator = HFGenerator(official_cfg(tiny_model_dir, scannet_video_dir, tmp_path))
    encoded = generator.encode([build_message(sample, spec, "direct", 32, None, inputs)])
    text = generator.processor.apply_chat_template(message, tokenize=False, add_generation_prompt=True)
    meta = [{"fps": 2.0, "total_num_frames": 32, "frames_indices": list(range(32))}]
    direct = generator.processor(
        text=[text],
        videos=[reference],
        return_tensors="pt",
        do_sample_frames=False,
        cap_pixels_per_frame=True,
        video_metadata=meta,
    )
    assert encoded["video_grid_thw"].tolist() == direct["video_grid_thw"].tolist() == [[16, 38, 50]]
    assert torch.equal(encoded["pixel_values_videos"], direct["pixel_values_videos"])


def test_odd_frame_counts_are_padded_to_even_as_qwen_vl_utils_does(scannet_video_dir: Path):
    (sample,) = get_benchmark("vsibench").load(scannet_video_dir)
    frames = read_frames(sample.video, 5)
    prepared = VisionInputs("official", 401_408).prepare_video(frames)
    assert prepared.shape == (6, 560, 728, 3) and prepared.dtype == np.uint8  # integral values: stored as uint8
    np.testing.assert_array_equal(prepared[5], prepared[4])  # the last frame repeated


def test_frame_cache_prepares_once_per_protocol(scannet_video_dir: Path):
    (sample,) = get_benchmark("vsibench").load(scannet_video_dir)
    official, direct = VisionInputs("official", 401_408), VisionInputs("direct")
    cache = FrameCache()
    first = cache.get(sample.video, 4, official.prepare_video)
    again = cache.get(sample.video, 4, VisionInputs("official", 401_408).prepare_video)  # equal settings, same entry
    raw = cache.get(sample.video, 4, direct.prepare_video)
    smaller = cache.get(sample.video, 4, VisionInputs("official", 3_136).prepare_video)
    assert (cache.decodes, cache.hits, len(cache)) == (3, 1, 3)
    assert again is first and first.shape == (4, 560, 728, 3)
    np.testing.assert_array_equal(raw, read_frames(sample.video, 4))
    np.testing.assert_array_equal(first, official.prepare_video(read_frames(sample.video, 4)))
    assert smaller.shape[1:3] != first.shape[1:3]


def test_compact_form_restores_the_exact_tensor():
    import torch

    integral = torch.randint(0, 256, (2, 3, 4, 6)).float()
    stored = compact_video(integral)
    assert isinstance(stored, np.ndarray) and stored.dtype == np.uint8 and stored.shape == (2, 4, 6, 3)
    assert torch.equal(processor_video(stored), integral)
    fractional = integral + 0.25
    assert compact_video(fractional) is fractional and processor_video(fractional) is fractional
    overshoot = integral.clone()
    overshoot[0, 0, 0, 0] = 256.0  # bicubic overshoot is not clipped by qwen-vl-utils; uint8 would lose it
    assert compact_video(overshoot) is overshoot


@pytest.fixture(scope="module")
def scannet_image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SPBench-SI question on a full-size 1296×968 ScanNet colour frame."""
    item = BenchItem("object_abs_distance", "How far apart?", "2.5", "scene0100_00", [textured(968, 1296, 7)])
    return write_spbench([item], tmp_path_factory.mktemp("spbench1296"), split="SI")


def test_full_size_image_grids_official_and_direct(tiny_model_dir: Path, scannet_image_dir: Path, tmp_path: Path):
    """Official: fetch_image rounds 1296×968 to 1288×980, the processor then fits ≤ 401,408 px → 700×532, grid
    [1, 38, 50]. Direct: the processor alone fits 1296×968 → 728×532, grid [1, 38, 52]."""
    from qwen_vl_utils import fetch_image

    spec = get_benchmark("spbench-si")
    (sample,) = spec.load(scannet_image_dir)
    official = VisionInputs("official", 401_408)
    _, (image,), _ = build_message(sample, spec, "direct", 32, None, official)
    reference = fetch_image({"image": read_image(sample.images[0])})
    assert image.size == reference.size == (1288, 980)
    np.testing.assert_array_equal(np.asarray(image), np.asarray(reference))

    generator = HFGenerator(official_cfg(tiny_model_dir, scannet_image_dir, tmp_path))
    for inputs, grid in ((official, [1, 38, 50]), (VisionInputs("direct"), [1, 38, 52])):
        encoded = generator.encode([build_message(sample, spec, "direct", 32, None, inputs)])
        assert encoded["image_grid_thw"].tolist() == [grid]
        assert predicted_grid(*reversed(inputs.image(sample.images[0]).size), None, **OFFICIAL_PIXELS) == grid


def read_image(path: Path):
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


def test_image_bytes_with_alpha_go_onto_white_as_in_fetch_image():
    """CV-Bench and SPAR hand ``Image.open(bytes)`` to qwen-vl-utils, whose ``to_rgb`` pastes RGBA onto white;
    ``convert('RGB')`` (direct) drops the alpha and keeps the hidden colour."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (56, 56), (200, 10, 10, 0)).save(buf, format="PNG")
    official = np.asarray(VisionInputs("official", 401_408).image(buf.getvalue()))
    direct = np.asarray(VisionInputs("direct").image(buf.getvalue()))
    assert official.shape == direct.shape == (56, 56, 3)
    assert (official == 255).all() and (direct == [200, 10, 10]).all()


def test_grids_are_split_per_sample_in_message_order():
    import torch

    encoded = {
        "image_grid_thw": torch.tensor([[1, 2, 2], [1, 4, 2], [1, 2, 4]]),
        "video_grid_thw": torch.tensor([[3, 2, 2]]),
    }
    assert grids_of(encoded, [2, 0, 1], [0, 1, 0]) == [
        {"image_grid_thw": [[1, 2, 2], [1, 4, 2]], "video_grid_thw": []},
        {"image_grid_thw": [], "video_grid_thw": [[3, 2, 2]]},
        {"image_grid_thw": [[1, 2, 4]], "video_grid_thw": []},
    ]
    with pytest.raises(DataFormatError, match="3 image_grid_thw rows for 2 inputs"):
        grids_of(encoded, [1, 1], [0, 1])


def test_multi_image_batch_records_each_samples_grids(tiny_model_dir: Path, tmp_path: Path):
    """Two samples with 2 and 1 images of different sizes in one batch: each prediction line gets its own grids."""
    items = [
        BenchItem("object_rel_direction", "Where?", "A", "s0", [textured(56, 112, 1), textured(112, 56, 2)]),
        BenchItem("object_abs_distance", "How far?", "2", "s1", [textured(84, 84, 3)]),
    ]
    data = write_spbench(items, tmp_path / "mv", split="MV")
    model = ModelSettings(name_or_path=str(tiny_model_dir), dtype="float32", min_pixels=784, max_pixels=12_544)
    cfg = make_cfg(tiny_model_dir, data, tmp_path / "out", bench="spbench-mv", batch_size=2, model=model)
    run_eval(cfg)
    lines = [json.loads(x) for x in (tmp_path / "out" / PREDICTIONS).read_text().splitlines()]
    # every size is a multiple of 28 within [784, 12544] px, kept by both resizes: grid = (1, h/14, w/14)
    assert {r["id"]: r["image_grid_thw"] for r in lines} == {"0": [[1, 4, 8], [1, 8, 4]], "1": [[1, 6, 6]]}
    assert all(r["video_grid_thw"] == [] for r in lines)


def test_official_inputs_need_max_pixels():
    from spatialladder.config.eval import EvalConfig

    model = {"name_or_path": "m", "max_pixels": None}
    with pytest.raises(ConfigError, match="model.max_pixels"):
        EvalConfig(kind="eval", bench="vsi", data_dir="d", output_dir="o", model=model)
    assert EvalConfig(kind="eval", bench="vsi", data_dir="d", output_dir="o", model=model, input_protocol="direct")
