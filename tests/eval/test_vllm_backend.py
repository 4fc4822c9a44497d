"""The vLLM backend fails with a clear message where it cannot run (no package, or no CUDA GPU)."""

import json
from pathlib import Path

import pytest

from spatialladder.errors import ConfigError
from spatialladder.eval.predict import make_generator
from spatialladder.eval.vllm_backend import require_vllm

from .test_runner import make_cfg


def test_missing_vllm_package_is_a_clear_error(tmp_path: Path):
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    cfg = make_cfg(tmp_path, tmp_path, tmp_path / "o", backend="vllm")
    with pytest.raises(ConfigError, match=r"needs the vllm package \(pip install vllm"):
        make_generator(cfg)


def test_missing_cuda_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible")
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / "__init__.py").write_text('"""An empty stand-in package: only the import must succeed."""\n')
    import sys

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    try:
        with pytest.raises(ConfigError, match="needs a CUDA GPU"):
            require_vllm()
    finally:  # the stand-in must not outlive this test (other tests check that vllm is absent)
        sys.modules.pop("vllm", None)


VLLM_STAND_IN = '''"""A stand-in for vLLM's offline API: records what the backend hands it, answers every prompt."""

import os

calls = []
launcher_env = []  # what vLLM's external launcher would read when each engine was built


class SamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class _Text:
    def __init__(self, text):
        self.text = text


class _Output:
    def __init__(self, text):
        self.outputs = [_Text(text)]


class LLM:
    def __init__(self, **kwargs):
        calls.append(("LLM", kwargs))
        launcher_env.append({k: os.environ.get(k) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE")})

    def generate(self, requests, params, use_tqdm=True):
        calls.append(("generate", requests))
        return [_Output("A") for _ in requests]
'''


@pytest.mark.parametrize(("protocol", "share"), [("direct", True), ("official", True), ("direct", False)])
def test_vllm_gets_prefix_caching_and_questions_video_by_video(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: str, share: bool
):
    """Up to the vLLM call (no vLLM, no GPU here): the engine flag, the order of the questions, and the very same
    frames for every question on a video, so vLLM's multimodal hash, hence its prefix cache, hits."""
    import sys

    import numpy as np
    import torch

    from spatialladder.eval import get_benchmark
    from spatialladder.eval.predict import predict_shard
    from spatialladder.testing.synthetic_benchmarks import write_vsibench

    from .test_shared_prefix import config, interleaved_items

    data = write_vsibench(interleaved_items(), tmp_path / "vsi")  # 3 videos × 4 questions, videos interleaved
    (tmp_path / "standin" / "vllm").mkdir(parents=True)
    (tmp_path / "standin" / "vllm" / "__init__.py").write_text(VLLM_STAND_IN)
    monkeypatch.syspath_prepend(str(tmp_path / "standin"))
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    cfg = config(tiny_model_dir, data, tmp_path / "out", backend="vllm", input_protocol=protocol, batch_size=3)
    cfg = cfg.model_copy(update={"share_video_prefix": share})
    spec = get_benchmark("vsibench")
    samples = spec.load(data)
    try:
        import vllm

        assert predict_shard(cfg, spec, samples) == (12, 0)
        calls = list(vllm.calls)
    finally:  # the stand-in must not outlive this test (other tests check that vllm is absent)
        sys.modules.pop("vllm", None)
    (kind, engine), *generates = calls
    assert kind == "LLM" and all(kind == "generate" for kind, _ in generates)
    assert engine.get("enable_prefix_caching") is (True if share else None)
    assert engine["seed"] == 0 and "distributed_executor_backend" not in engine  # one process: vLLM's own executor
    assert engine["limit_mm_per_prompt"] == {"image": 1, "video": 1}
    video_of = {s.id: int(s.video.stem[5:9]) for s in samples}  # scene0002_00 → 2
    ids = [[s.id for s in samples[i : i + 3]] for i in range(0, 12, 3)]  # the plain path: benchmark order
    if share:
        ids = [["0", "3", "6"], ["9", "1", "4"], ["7", "10", "2"], ["5", "8", "11"]]  # video by video
    assert [len(requests) for _, requests in generates] == [len(batch) for batch in ids]
    frames: dict[int, list[np.ndarray]] = {}
    for batch, (_, requests) in zip(ids, generates, strict=True):
        for sample_id, request in zip(batch, requests, strict=True):
            assert request["prompt"].count("<|video_pad|>") == 1  # vLLM expands the placeholder itself
            clip, meta = request["multi_modal_data"]["video"]  # vLLM 0.31's Qwen2.5-VL needs the metadata
            assert meta["fps"] == cfg.video_fps and meta["total_num_frames"] == len(clip) == cfg.frames
            assert meta["do_sample_frames"] is False  # every frame we sampled is kept, none resampled
            frames.setdefault(video_of[sample_id], []).append(clip)
    for clips in frames.values():
        # the frame cache's one array itself: no per-question conversion (or float tensor) behind it
        assert all(c is clips[0] and c.dtype == np.uint8 for c in clips)
    assert not np.array_equal(frames[0][0], frames[1][0])
    # the same pixels the hf backend's processor input holds, rounded (official: qwen-vl-utils' float frames)
    from spatialladder.eval.inputs import as_uint8_frames
    from spatialladder.eval.messages import build_message, vision_inputs

    _, _, (hf_video,) = build_message(samples[0], spec, cfg.prompt, cfg.frames, None, vision_inputs(cfg))
    assert isinstance(hf_video, torch.Tensor) == (protocol == "official")
    assert np.array_equal(as_uint8_frames(hf_video), frames[video_of[samples[0].id]][0])


@pytest.fixture
def vllm_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The stand-in importable as ``vllm``, a CUDA GPU "visible"; removed from ``sys.modules`` afterwards."""
    import sys

    import torch

    (tmp_path / "standin" / "vllm").mkdir(parents=True)
    (tmp_path / "standin" / "vllm" / "__init__.py").write_text(VLLM_STAND_IN)
    monkeypatch.syspath_prepend(str(tmp_path / "standin"))
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    import vllm

    yield vllm
    sys.modules.pop("vllm", None)  # other tests check that vllm is absent


def launch_env(monkeypatch: pytest.MonkeyPatch, rank: int, world_size: int) -> None:
    """What ``accelerate launch`` / torchrun sets for one process (one node: local rank = rank)."""
    for name, value in (("RANK", rank), ("LOCAL_RANK", rank), ("WORLD_SIZE", world_size)):
        monkeypatch.setenv(name, str(value))


def test_each_rank_of_two_gets_its_engine_on_its_own_gpu(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vllm_stand_in
):
    """Under a 2-process launch each rank's engine runs in-process on cuda:LOCAL_RANK (vLLM's external launcher, as
    trl colocates), seeded per rank, and is handed whole videos: its shard only."""
    from spatialladder.eval import get_benchmark
    from spatialladder.eval.predict import predict_shard
    from spatialladder.testing.synthetic_benchmarks import write_vsibench

    from .test_shared_prefix import config, interleaved_items

    data = write_vsibench(interleaved_items(), tmp_path / "vsi")  # 3 videos × 4 questions, videos interleaved
    cfg = config(tiny_model_dir, data, tmp_path / "out", backend="vllm", batch_size=4)
    spec = get_benchmark("vsibench")
    samples = spec.load(data)
    video_of = {s.id: s.video for s in samples}
    videos = []
    for rank in range(2):
        launch_env(monkeypatch, rank, 2)
        vllm_stand_in.calls.clear()
        n_generated, _ = predict_shard(cfg, spec, samples, rank=rank, world_size=2)
        (kind, engine), *generates = vllm_stand_in.calls
        assert kind == "LLM" and engine["distributed_executor_backend"] == "external_launcher"
        assert engine["seed"] == rank and engine["enable_prefix_caching"] is True
        assert vllm_stand_in.launcher_env[-1] == {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2"}
        prompts = sum(len(requests) for _, requests in generates)
        assert prompts == n_generated
        ids = [
            json.loads(x)["id"] for x in (tmp_path / "out" / f"predictions.rank{rank}.jsonl").read_text().splitlines()
        ]
        videos.append({video_of[i] for i in ids})
        assert len(ids) == n_generated == 4 * len(videos[-1])  # whole videos: all 4 questions of each
    assert [len(v) for v in videos] == [2, 1] and not videos[0] & videos[1]


def test_a_rank_with_nothing_left_still_starts_its_engine_while_another_rank_has_work(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vllm_stand_in
):
    """vLLM's engines start together (their start-up has collectives): a rank that skipped its engine because its
    own shard was done would leave the other ranks waiting for ever."""
    from spatialladder.eval import get_benchmark
    from spatialladder.eval.predict import predict_shard
    from spatialladder.testing.synthetic_benchmarks import write_vsibench

    from .test_shared_prefix import config, interleaved_items

    data = write_vsibench(interleaved_items(), tmp_path / "vsi")  # rank 0: videos 0 and 2, rank 1: video 1
    cfg = config(tiny_model_dir, data, tmp_path / "out", backend="vllm", batch_size=4)
    spec = get_benchmark("vsibench")
    samples = spec.load(data)
    launch_env(monkeypatch, 1, 2)
    assert predict_shard(cfg, spec, samples, rank=1, world_size=2) == (4, 0)  # rank 1's video, done
    vllm_stand_in.calls.clear()
    # rank 1 resumes with nothing of its own left while rank 0 has 8 questions: it builds its engine, generates none
    assert predict_shard(cfg, spec, samples, rank=1, world_size=2) == (0, 4)
    assert [kind for kind, _ in vllm_stand_in.calls] == ["LLM"]
    launch_env(monkeypatch, 0, 2)
    vllm_stand_in.calls.clear()
    assert predict_shard(cfg, spec, samples, rank=0, world_size=2) == (8, 0)
    # everything predicted: no rank builds an engine
    for rank in range(2):
        launch_env(monkeypatch, rank, 2)
        vllm_stand_in.calls.clear()
        assert predict_shard(cfg, spec, samples, rank=rank, world_size=2)[0] == 0
        assert vllm_stand_in.calls == []


@pytest.mark.parametrize("family", ["qwen3-vl", "qwen3.5"])
def test_vllm_gets_the_files_video_times_per_family(
    tiny_family_dirs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, family: str
):
    """Qwen3-VL / Qwen3.5 under their lmms-eval protocols: each video goes with the file's own metadata (20 fps, the
    indices qwen-vl-utils picks, the frame count), never resampled, the system turn and chat-template arguments of
    the protocol, and the engine resizes nothing more; Qwen2.5-VL's ``video_fps`` path is the test above."""
    import sys

    import torch

    from spatialladder.config.base import ModelSettings
    from spatialladder.eval import get_benchmark
    from spatialladder.eval.predict import predict_shard
    from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_vsibench

    clip = solid_frames(50, size=(48, 64), seed=1)
    data = write_vsibench(
        [BenchItem("object_counting", "How many?", "2", "scene0001_00", clip)], tmp_path / "v", fps=20
    )
    (tmp_path / "standin" / "vllm").mkdir(parents=True)
    (tmp_path / "standin" / "vllm" / "__init__.py").write_text(VLLM_STAND_IN)
    monkeypatch.syspath_prepend(str(tmp_path / "standin"))
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    model = ModelSettings(name_or_path=str(tiny_family_dirs[family]), min_pixels=1024, max_pixels=16_384)
    cfg = make_cfg(tiny_family_dirs[family], data, tmp_path / "out", backend="vllm", frames=8, model=model)
    spec = get_benchmark("vsibench")
    try:
        import vllm

        assert predict_shard(cfg, spec, spec.load(data)) == (1, 0)
        (_, engine), (_, (request,)) = vllm.calls
    finally:  # the stand-in must not outlive this test (other tests check that vllm is absent)
        sys.modules.pop("vllm", None)
    assert engine["mm_processor_kwargs"] == {"do_resize": False}
    clip, meta = request["multi_modal_data"]["video"]
    indices = {"qwen3-vl": [0, 7, 14, 21, 28, 35, 42, 49], "qwen3.5": [0, 16, 33, 49]}[family]  # 8 / 2 fps of 2.5 s
    assert meta == {
        "fps": 20.0,
        "frames_indices": indices,
        "total_num_frames": 50,
        "duration": 2.5,
        "do_sample_frames": False,
    }
    assert len(clip) == len(indices)
    assert request["prompt"].startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert request["prompt"].endswith("<think>\n" if family == "qwen3.5" else "<|im_start|>assistant\n")


def test_vllm_refuses_a_resizing_protocol_on_a_whole_video_budget_family(
    tiny_family_dirs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vllm_stand_in
):
    """Under ``direct`` a Qwen3-VL video would be resized by vLLM's processor copy with ``max_pixels`` over all its
    frames, while backend hf gives every frame ``max_pixels`` (``models/load.py``): refused in one line, before an
    engine is built; the family's own protocol (no resize by the processor) is what the backend takes."""
    from spatialladder.config.base import ModelSettings
    from spatialladder.eval import get_benchmark
    from spatialladder.eval.predict import predict_shard
    from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_vsibench

    clip = solid_frames(8, size=(48, 64), seed=1)
    data = write_vsibench([BenchItem("object_counting", "How many?", "2", "scene0001_00", clip)], tmp_path / "v")
    model = ModelSettings(name_or_path=str(tiny_family_dirs["qwen3-vl"]), min_pixels=1024, max_pixels=16_384)
    cfg = make_cfg(tiny_family_dirs["qwen3-vl"], data, tmp_path / "out", backend="vllm", frames=8, model=model)
    spec = get_benchmark("vsibench")
    with pytest.raises(ConfigError, match=r"backend vllm with input_protocol direct resizes a qwen3-vl video"):
        predict_shard(cfg.model_copy(update={"input_protocol": "direct"}), spec, spec.load(data))
    assert vllm_stand_in.calls == []


def test_blind_requests_carry_no_multimodal_data(tiny_model_dir: Path, tmp_path: Path, vllm_stand_in):
    """``--blind`` on vLLM: an engine that allows no image and no video (text only: no vision encoder), requests
    that are the prompt alone, no video placeholder in it, and predictions flagged blind with no grids."""
    from spatialladder.eval import get_benchmark
    from spatialladder.eval.predict import predict_shard
    from spatialladder.eval.sharding import BLIND_PREDICTIONS
    from spatialladder.testing.synthetic_benchmarks import write_vsibench

    from .test_shared_prefix import config, interleaved_items

    data = write_vsibench(interleaved_items(), tmp_path / "vsi")
    cfg = config(tiny_model_dir, data, tmp_path / "out", backend="vllm", batch_size=5, blind=True)
    spec = get_benchmark("vsibench")
    assert predict_shard(cfg, spec, spec.load(data)) == (12, 0)
    (kind, engine), *generates = vllm_stand_in.calls
    assert kind == "LLM" and engine["limit_mm_per_prompt"] == {"image": 0, "video": 0}
    requests = [request for _, batch in generates for request in batch]
    assert [len(batch) for _, batch in generates] == [5, 5, 2]  # benchmark order: no video to group by
    assert len(requests) == 12 and all(request.keys() == {"prompt"} for request in requests)
    assert not any("<|video_pad|>" in r["prompt"] or "<|vision_start|>" in r["prompt"] for r in requests)
    rows = [json.loads(line) for line in (tmp_path / "out" / BLIND_PREDICTIONS).read_text().splitlines()]
    assert all(row["blind"] is True and "video_grid_thw" not in row for row in rows)
