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
    fetch_frame_list,
    grids_of,
    official_target_size,
    predicted_grid,
    processor_video,
)
from spatialladder.eval.messages import build_message, resolve_protocol
from spatialladder.eval.runner import run_eval
from spatialladder.eval.sharding import PREDICTIONS
from spatialladder.eval.video import FrameCache, read_frames
from spatialladder.models.families import family_named
from spatialladder.testing.synthetic_benchmarks import BenchItem, write_spbench, write_vsibench

from .test_runner import make_cfg

OFFICIAL_PIXELS = {"min_pixels": 12_544, "max_pixels": 401_408}  # run_eval.sh: 16·28·28 and 512·28·28
QWEN2_5_VL_RUN_KEY = "a9feda6e847ddb7f"
"""``run_key`` of the default eval config (``Qwen/Qwen2.5-VL-3B-Instruct`` on VSI-Bench) at 84001f5, before the
protocol followed the model's family."""


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
    """Refused when the config names the official protocol, and when a Qwen2.5-VL model's family picks it (the
    config then leaves the protocol open, so the check runs as the protocol is filled in); the Qwen3-VL protocol
    brings its own bounds."""
    from spatialladder.config.eval import EvalConfig, GenerationSettings

    model = {"name_or_path": "m", "max_pixels": None}
    with pytest.raises(ConfigError, match="model.max_pixels"):
        EvalConfig(kind="eval", bench="vsi", data_dir="d", output_dir="o", model=model, input_protocol="official")
    open_protocol = EvalConfig(kind="eval", bench="vsi", data_dir="d", output_dir="o", model=model)
    with pytest.raises(ConfigError, match="model.max_pixels"):
        resolve_protocol(open_protocol, family_named("qwen2.5-vl"))
    pinned = open_protocol.model_copy(update={"generation": GenerationSettings(repetition_penalty=1.0)})
    assert resolve_protocol(pinned, family_named("qwen3-vl")).input_protocol == "lmms-eval-qwen3_vl"
    assert EvalConfig(kind="eval", bench="vsi", data_dir="d", output_dir="o", model=model, input_protocol="direct")


# --- per-family protocols: Qwen3-VL and Qwen3.5 as lmms-eval feeds them (a878850, models/simple/qwen3_vl.py) ---

TINY_BUDGET = {"min_pixels": 1024, "max_pixels": 16_384}  # the tiny Qwen3 processors' own: 1..16 tokens a frame


def qwen3_cfg(model_dir: Path, data_dir: Path, out: Path, **kw):
    model = ModelSettings(name_or_path=str(model_dir), dtype="float32", **TINY_BUDGET)
    return make_cfg(model_dir, data_dir, out, model=model, frames=None, batch_size=1, **kw)


def test_640x480_video_reaches_qwen3_vl_as_grid_16_30_40(tiny_family_dirs, scannet_video_dir, tmp_path):
    """The config names no protocol: the model's family picks ``lmms-eval-qwen3_vl`` and its 32 frames. By hand:
    qwen-vl-utils in factor 32 (patch 16 × merge 2) with the wrapper's element ``min_pixels`` 256·28² = 200,704,
    ``max_pixels`` 1,605,632, ``nframes`` 32: the per-frame cap is max(min(768·32² = 786,432, total_pixels / 32 · 2
    = 128000·32²·0.9 / 16 = 7,372,800), 1.05 · 200,704) = 786,432, below the asked 1,605,632; ``smart_resize(480,
    640)``: round(480/32)·32 = 480, round(640/32)·32 = 640, 307,200 px within [200,704, 786,432], kept. The
    processor resizes nothing (``do_resize=False``): t = 32 / 2 = 16, h = 480 / 16 = 30, w = 640 / 16 = 40. The
    tiny processor's own budget (≤ 16,384 px a frame: ``models/load.py`` makes it per frame) under ``direct`` gives
    each frame what one image gets: 307,200 / 16,384 → scale 1 / 4.33, 96×128 px, [16, 6, 8]."""
    model_dir = tiny_family_dirs["qwen3-vl"]
    result = run_eval(qwen3_cfg(model_dir, scannet_video_dir, tmp_path / "out", generation={"max_new_tokens": 2}))
    (line,) = (tmp_path / "out" / PREDICTIONS).read_text().splitlines()
    assert json.loads(line)["video_grid_thw"] == [[16, 30, 40]]
    settings = result.results["settings"]
    protocol = settings["input_protocol"]
    assert protocol["name"] == settings["input_protocol"]["name"] == "lmms-eval-qwen3_vl"
    assert protocol["video_element"] == {"min_pixels": 200_704, "max_pixels": 1_605_632, "nframes": 32}
    assert protocol["image_element"] == {"min_pixels": 200_704, "max_pixels": 1_605_632}
    assert (protocol["frames"], protocol["pre_resize"], protocol["image_patch_size"]) == (32, False, 16)
    assert protocol["system_prompt"] == "You are a helpful assistant." and protocol["enable_thinking"] is None
    assert protocol["source"].endswith("lmms_eval/models/simple/qwen3_vl.py")
    # the tiny checkpoint's generation_config sets no penalty: generate's default 1.0, as lmms-eval runs it
    assert (settings["frames"], settings["generation"]["repetition_penalty"]) == (32, 1.0)
    resolved = (tmp_path / "out" / "config.resolved.yaml").read_text()
    assert "input_protocol: lmms-eval-qwen3_vl" in resolved and "frames: 32" in resolved

    generator = HFGenerator(qwen3_cfg(model_dir, scannet_video_dir, tmp_path, input_protocol="direct"))
    (sample,) = get_benchmark("vsibench").load(scannet_video_dir)
    direct = VisionInputs("direct", patch_size=16, timestamps=True)
    message = build_message(sample, get_benchmark("vsibench"), "direct", 32, None, direct)
    # every protocol tells a timestamp family the file's times: 32 of 32 frames written at 24 fps
    meta = {"fps": 24.0, "frames_indices": list(range(32)), "total_num_frames": 32}
    (turn,) = message[0]  # no system turn: direct adds none
    assert turn["content"][0] == {"type": "video", "video_metadata": meta}
    assert generator.encode([message])["video_grid_thw"].tolist() == [[16, 6, 8]]
    assert predicted_grid(480, 640, 32, **TINY_BUDGET, patch_size=16) == [16, 6, 8]
    assert predicted_grid(480, 640, 32, **TINY_BUDGET, patch_size=16, resize=False) == [16, 30, 40]


def stamps(generator: HFGenerator, message: tuple[list, list, list]) -> tuple[str, list[str]]:
    """The prompt the model is given and its ``<t seconds>`` stamps."""
    import re

    ids = generator.encode([message])["input_ids"][0].tolist()
    text = generator.processor.tokenizer.decode(ids)
    return text, re.findall(r"<(\d+\.\d) seconds>", text)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two VSI-Bench questions on 64×48 videos at 20 fps: 50 frames (2.5 s) and 90 frames (4.5 s)."""
    items = [
        BenchItem("object_counting", "How many?", "2", "scene0001_00", [textured(48, 64, s) for s in range(50)]),
        BenchItem("object_counting", "How many?", "3", "scene0002_00", [textured(48, 64, s) for s in range(90)]),
    ]
    return write_vsibench(items, tmp_path_factory.mktemp("clips20fps"), fps=20)


def test_qwen3_vl_stamps_are_the_files_times(tiny_family_dirs, clip_dir: Path, tmp_path: Path):
    """8 of 50 frames at 20 fps, as qwen-vl-utils picks them for ``nframes`` 8: round(linspace(0, 49, 8)) = 0, 7,
    …, 49; one stamp per pair, mean index / 20 fps: 3.5/20 = 0.175 → 0.2, 17.5/20 = 0.875 → 0.9, 1.575 → 1.6,
    2.275 → 2.3 (a frame list without the file's metadata would be stamped at 24 fps from indices 0..7). The
    wrapper's system turn comes first; 64×48 is enlarged to ≥ 200,704 px in factor 32: 416×544, grid [4, 26, 34]."""
    spec = get_benchmark("vsibench")
    short, _ = spec.load(clip_dir)
    generator = HFGenerator(qwen3_cfg(tiny_family_dirs["qwen3-vl"], clip_dir, tmp_path))
    assert generator.inputs.protocol == "lmms-eval-qwen3_vl"
    message = build_message(short, spec, "lmms", 8, FrameCache(), generator.inputs)
    assert message[0][0] == {"role": "system", "content": "You are a helpful assistant."}
    meta = message[0][1]["content"][0]["video_metadata"]
    assert meta == {"fps": 20.0, "frames_indices": [0, 7, 14, 21, 28, 35, 42, 49], "total_num_frames": 50}
    text, found = stamps(generator, message)
    assert found == ["0.2", "0.9", "1.6", "2.3"]
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert generator.encode([message])["video_grid_thw"].tolist() == [[4, 26, 34]]


def test_qwen3_5_samples_at_2_fps_thinks_and_cuts_the_think_block(tiny_family_dirs, clip_dir: Path, tmp_path):
    """90 frames at 20 fps = 4.5 s: qwen-vl-utils' 2 fps gives 9 frames, floored to even: 8 (≤ 768), at
    round(linspace(0, 89, 8)) = 0, 13, 25, 38, 51, 64, 76, 89; stamps 6.5/20 = 0.325 → 0.3, 31.5/20 = 1.575 → 1.6,
    2.875 → 2.9, 4.125 → 4.1. The generation prompt opens the think block (``enable_thinking=True``); 64×48 is
    enlarged to ≥ 65,536 px in factor 32: 224×320, grid [4, 14, 20]; 1024 new tokens unless the config sets them."""
    spec = get_benchmark("vsibench")
    _, long = spec.load(clip_dir)
    cfg = qwen3_cfg(tiny_family_dirs["qwen3.5"], clip_dir, tmp_path, generation={})
    resolved = resolve_protocol(cfg)
    assert (resolved.input_protocol, resolved.frames, resolved.resolved_max_new_tokens()) == (
        "lmms-eval-qwen3_5",
        768,
        1024,
    )
    generator = HFGenerator(cfg)
    message = build_message(long, spec, "lmms", resolved.frames, None, generator.inputs)
    text, found = stamps(generator, message)
    assert message[0][1]["content"][0]["video_metadata"]["frames_indices"] == [0, 13, 25, 38, 51, 64, 76, 89]
    assert found == ["0.3", "1.6", "2.9", "4.1"]
    assert text.endswith("<|im_start|>assistant\n<think>\n")
    assert generator.encode([message])["video_grid_thw"].tolist() == [[4, 14, 20]]
    inputs = generator.inputs
    assert inputs.answer("the sofa is left</think>\n\nB") == "B" and inputs.answer("never closes") == ""
    assert VisionInputs("lmms-eval-qwen3_vl", patch_size=16).answer("x</think>B") == "x</think>B"


def test_protocol_follows_the_family_unless_the_config_names_one():
    """Each family's ``eval_protocol`` is a protocol the config accepts, and fills what the config leaves open;
    values the config sets are kept. lmms-eval's protocols refuse a patch-14 model."""
    from spatialladder.config.eval import EvalConfig
    from spatialladder.models.families import FAMILIES
    from spatialladder.vocab import INPUT_PROTOCOLS

    base = dict(kind="eval", bench="vsi", data_dir="d", output_dir="o", model={"name_or_path": "m"})
    pinned = {"generation": {"repetition_penalty": 1.0}}
    expected = {
        "qwen2.5-vl": ("official", 32, 1.05),
        "qwen3-vl": ("lmms-eval-qwen3_vl", 32, 1.0),
        "qwen3.5": ("lmms-eval-qwen3_5", 768, 1.0),
    }
    for name, family in FAMILIES.items():
        assert family.eval_protocol in INPUT_PROTOCOLS
        cfg = resolve_protocol(EvalConfig(**base), family) if name == "qwen2.5-vl" else None
        cfg = cfg or resolve_protocol(EvalConfig(**base, **pinned), family)
        assert (cfg.input_protocol, cfg.frames, cfg.generation.repetition_penalty) == expected[name]
        chosen = resolve_protocol(EvalConfig(**base, input_protocol="direct", frames=8), family)
        assert (chosen.input_protocol, chosen.frames, chosen.generation.repetition_penalty) == ("direct", 8, 1.05)
    with pytest.raises(ConfigError, match=r"patch-16 families .* is qwen2.5-vl \(patch 14\): use official or direct"):
        resolve_protocol(EvalConfig(**base, input_protocol="lmms-eval-qwen3_vl"), family_named("qwen2.5-vl"))


def test_qwen2_5_vl_run_key_is_unchanged():
    """The settings hashed into ``run_key`` for a Qwen2.5-VL config that leaves the protocol open equal those of
    the code before protocols followed the family (the literal is that code's key for this config), so earlier
    predictions are reused and nothing a prediction depends on moved."""
    from spatialladder.config.eval import EvalConfig
    from spatialladder.eval.predict import run_key

    cfg = EvalConfig(kind="eval", bench="vsibench", data_dir="d", output_dir="o")
    assert run_key(resolve_protocol(cfg, family_named("qwen2.5-vl"))) == QWEN2_5_VL_RUN_KEY


# --- qwen-vl-utils frame lists as the Qwen team fixed them (QwenLM/Qwen3-VL fe12058, PR #1820) ---


@pytest.mark.parametrize(("patch", "size"), [(14, (476, 840)), (16, (480, 832))])
def test_frame_list_sizes_are_the_fixed_rule(patch: int, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch):
    """A 16:9 frame pre-resized to 401,408 px is 844×475 (int(√(401408·16/9)) = 844, int(√(401408·9/16)) = 475).
    Fixed: ``fetch_image`` per frame in factor 2·patch — 28: round(475/28) = 17 → 476, round(844/28) = 30 → 840;
    32: round(475/32) = 15 → 480, round(844/32) = 26 → 832 —, then the video-level resize keeps it (≥ 128 and
    ≤ 768 tokens). The published 0.0.14 rounds the frames in factor 56 / 64: round(475/56) = 8 → 448 and
    round(475/64) = 7 → 448 rows, so [448, 840] / [448, 832] would fail here."""
    import torch
    from PIL import Image
    from qwen_vl_utils import vision_process as vp

    frame = Image.fromarray(textured(475, 844, 1))
    video = fetch_frame_list([frame, frame, frame], patch)
    assert tuple(video.shape) == (4, 3, *size)  # padded to an even count with the last frame
    # the installed fetch_video with its per-frame call made as upstream fixed it (patch size, whatever it passes)
    original = vp.fetch_image
    monkeypatch.setattr(vp, "fetch_image", lambda element, _size: original(element, patch))
    assert torch.equal(video, vp.fetch_video({"video": [frame, frame, frame]}, image_patch_size=patch))
    assert official_target_size(1920, 1080, 401_408) == (844, 475)
    prepared = VisionInputs("official", 401_408, patch_size=patch).prepare_video(np.stack([textured(180, 320, 2)] * 2))
    assert prepared.shape == (2, *size, 3)


@pytest.mark.parametrize("protocol", ["lmms-eval-qwen3_vl", "lmms-eval-qwen3_5"])
def test_lmms_frames_equal_qwen_vl_utils_own_fetch_video(clip_dir: Path, monkeypatch, protocol: str):
    """qwen-vl-utils' own ``fetch_video`` on the file, given the element lmms-eval builds and a reader that decodes
    with PyAV the indices it asks for (its decord reader, ``vision_process.py`` 306-329, with PyAV in place of
    decord: none of its readers is installed here), returns the very tensor and metadata we hand the processor."""
    import torch
    from qwen_vl_utils import vision_process as vp

    from spatialladder.eval.video import _count_packets, _decode_at

    def pyav_reader(ele: dict):
        total, fps = _count_packets(Path(ele["video"]))
        n = vp.smart_nframes(ele, total_frames=total, video_fps=fps)
        idx = torch.linspace(0, total - 1, n).round().long().tolist()
        picked, _ = _decode_at(Path(ele["video"]), idx)
        video = torch.from_numpy(np.stack([picked[i] for i in idx])).permute(0, 3, 1, 2)
        return video, {"fps": fps, "frames_indices": idx, "total_num_frames": total}, n / total * fps

    monkeypatch.setattr(vp, "get_video_reader_backend", lambda: "pyav")
    monkeypatch.setitem(vp.VIDEO_READER_BACKENDS, "pyav", pyav_reader)
    inputs = VisionInputs(protocol, patch_size=16, timestamps=True)
    spec = get_benchmark("vsibench")
    for sample in spec.load(clip_dir):
        element = {"type": "video", "video": str(sample.video), **inputs.lmms.video_element(8)}
        theirs, meta = vp.fetch_video(element, image_patch_size=16, return_video_metadata=True)
        message, _, (ours,) = build_message(sample, spec, "lmms", 8, None, inputs)
        assert torch.equal(ours, theirs) and ours.dtype == torch.float32
        assert message[-1]["content"][0]["video_metadata"] == meta
