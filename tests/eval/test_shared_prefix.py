"""One encoding per video: questions on a video share its processor tensors, vision encoding and prompt prefix, and
the greedy predictions (with the default repetition penalty, which sees the prompt ids) equal the plain path's."""

import json
import logging
import shutil
from pathlib import Path

import pytest

from spatialladder.config.base import ModelSettings
from spatialladder.config.eval import EvalConfig
from spatialladder.eval import get_benchmark
from spatialladder.eval.base import EvalSample
from spatialladder.eval.inputs import VisionInputs
from spatialladder.eval.messages import build_message, resolve_protocol, vision_inputs
from spatialladder.eval.predict import plan_batches, predict_shard
from spatialladder.eval.sharding import PREDICTIONS, merge_predictions
from spatialladder.eval.shared_prefix import common_prefix_length, layout
from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_vsibench

from .test_runner import make_cfg

OPTS = ["A. bed", "B. tv", "C. sofa", "D. lamp"]


def interleaved_items(videos: int = 3, size: tuple[int, int] = (56, 56), frames: int = 10) -> list[BenchItem]:
    """Four questions of different kinds on each video, the videos interleaved in file order (0, 1, 2, 0, 1, …)."""
    clips = [solid_frames(frames, size=size, seed=v + 1) for v in range(videos)]
    kinds = [
        ("object_counting", "How many chair(s) are in this room?", "2", None),
        ("object_rel_distance", "Which is the closest to the bed?", "A", OPTS),
        ("room_size_estimation", "What is the size of this room (in square meters)?", "20", None),
        ("object_rel_direction_easy", "Is the tv to the left or the right of the sofa?", "B", ["A. left", "B. right"]),
    ]
    return [
        BenchItem(kind, question, answer, f"scene{v:04d}_00", clips[v], options=options)
        for kind, question, answer, options in kinds
        for v in range(videos)
    ]


@pytest.fixture(scope="module")
def interleaved_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vsibench(interleaved_items(), tmp_path_factory.mktemp("vsi_interleaved"))


@pytest.fixture(scope="module")
def long_video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 40-frame 112×112 videos: 32 frames give 16 temporal steps of 4×4 merged patches (256 video tokens)."""
    return write_vsibench(interleaved_items(2, (112, 112), 40), tmp_path_factory.mktemp("vsi_long"))


def records(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (out / PREDICTIONS).read_text().splitlines())}


def config(
    model_dir: Path, data: Path, out: Path, max_pixels: int = 28 * 28 * 4, min_pixels: int = 28 * 28, **kw
) -> EvalConfig:
    model = ModelSettings(name_or_path=str(model_dir), dtype="float32", min_pixels=min_pixels, max_pixels=max_pixels)
    return make_cfg(model_dir, data, out, model=model, **{"generation": {"max_new_tokens": 8}, **kw})


def predict(model_dir: Path, data: Path, out: Path, **kw) -> tuple[dict[str, dict], list[str], object]:
    """Predict every question into a fresh ``out``; returns records by id, the file's id order and the generator."""
    from spatialladder.eval.generation import HFGenerator

    shutil.rmtree(out, ignore_errors=True)
    cfg = config(model_dir, data, out, **kw)
    # Qwen2.5-VL's protocol default, which looks at the prompt ids
    assert resolve_protocol(cfg).generation.repetition_penalty == 1.05
    spec = get_benchmark("vsibench")
    generator = HFGenerator(cfg)
    predict_shard(cfg, spec, spec.load(data), generate=generator)
    order = [json.loads(line)["id"] for line in (out / PREDICTIONS).read_text().splitlines()]
    return records(out), order, generator


def test_common_prefix_and_layout_by_hand():
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert common_prefix_length([[1, 2, 3]]) == 3
    assert common_prefix_length([[1, 2], [1, 2, 7]]) == 2
    assert common_prefix_length([[9], [1]]) == 0
    ids, mask = layout([[1, 2, 3, 4], [1, 2, 5], [1, 2, 6, 7, 8]], [2, 2, 2], 0)
    assert ids == [[1, 2, 0, 3, 4], [1, 2, 0, 0, 5], [1, 2, 6, 7, 8]]
    assert mask == [[1, 1, 0, 1, 1], [1, 1, 0, 0, 1], [1, 1, 1, 1, 1]]
    # rows on two videos: cached prefixes of 2 and 3 ids, right-aligned; the questions after them, right-aligned
    ids, mask = layout([[1, 2, 3, 4], [7, 8, 9, 5, 6, 6]], [2, 3], 0)
    assert ids == [[0, 1, 2, 0, 3, 4], [7, 8, 9, 5, 6, 6]]
    assert mask == [[0, 1, 1, 0, 1, 1], [1, 1, 1, 1, 1, 1]]


def test_plan_batches_groups_by_video_in_first_appearance_order():
    def sample(i: int, video: str | None, images: tuple = ()) -> EvalSample:
        return EvalSample(str(i), "t", "q", "a", "numeric", video=None if video is None else Path(video), images=images)

    samples = [sample(0, "v/a.mp4"), sample(1, "v/b.mp4"), sample(2, None, ("x.png",)), sample(3, "v/a.mp4")]
    samples += [sample(4, "v/b.mp4"), sample(5, "v/a.mp4"), sample(6, "v/b.mp4", ("y.png",))]
    inputs = VisionInputs("direct")
    plan = plan_batches(samples, 2, inputs, 4, by_video=True)
    assert [[s.id for s in batch] for batch, _ in plan] == [["0", "3"], ["5", "1"], ["4"], ["2", "6"]]
    a, b = ((str(Path(f"v/{name}.mp4").resolve()), 4, inputs) for name in "ab")
    assert [keys for _, keys in plan] == [[a, a], [a, b], [b], None]  # full batches across videos
    plain = plan_batches(samples, 3, inputs, 4, by_video=False)  # the switch off: benchmark order, no keys
    assert [([s.id for s in batch], key) for batch, key in plain] == [
        (["0", "1", "2"], None),
        (["3", "4", "5"], None),
        (["6"], None),
    ]


SHARING_FAMILIES = {
    "qwen2.5-vl": {"max_pixels": 28 * 28 * 16},
    "qwen3-vl": {"min_pixels": 32 * 32, "max_pixels": 32 * 32 * 16 * 16},  # a budget over all 32 frames
}
"""The families that share a video's prefix (Qwen3.5 is refused: ``tests/train/test_positions.py``), each with a
pixel budget giving several tokens per frame."""


@pytest.mark.parametrize("family", SHARING_FAMILIES)
def test_positions_and_logits_equal_the_full_prompt(
    tiny_family_dirs: dict[str, Path], long_video_dir: Path, tmp_path: Path, family: str
):
    """The shared path's positions are the model's own for each whole prompt, and continuing a padded batch (three
    questions on one video, one on another, with cached prefixes of different lengths) from the prefilled prefixes
    gives the logits of each prompt run alone. Qwen2.5-VL: on videos whose temporal positions outrun the text
    (0.5 fps: 4 s per grid step), where a prefix's rope offset is not its prompt's. Qwen3-VL: each of the 16
    temporal patches is its own ``<t seconds><|vision_start|>…<|vision_end|>`` group inside the prompt's outer pair,
    all of it in the cached prefix, and DeepStack adds vision features in the prefill only."""
    import torch

    from spatialladder.eval.generation import HFGenerator
    from spatialladder.eval.shared_prefix import rope_positions
    from spatialladder.models.families import family_named

    model_dir = tiny_family_dirs[family]
    cfg = config(model_dir, long_video_dir, tmp_path, frames=32, video_fps=0.5, **SHARING_FAMILIES[family])
    spec = get_benchmark("vsibench")
    samples = spec.load(long_video_dir)
    chosen = [s for s in samples if s.video.stem == "scene0000_00"][:3] + [samples[1]]  # samples[1]: video 1
    keys = ["v0", "v0", "v0", "v1"]
    batch = [build_message(s, spec, "direct", 32, None, vision_inputs(cfg)) for s in chosen]
    generator = HFGenerator(cfg)
    model, shared = generator.model, generator.shared
    singles = [generator.encode([triple]) for triple in batch]
    shapes = [s["video_grid_thw"].tolist() for s in singles]
    if family == "qwen2.5-vl":
        assert shapes == [[[16, 8, 8]]] * 4
    else:  # 16 groups of several tokens, each stamped, inside one outer vision_start/vision_end pair
        assert all(g == shapes[0] and g[0][0] == 16 and g[0][1] * g[0][2] >= 16 for g in shapes)
        text = generator.processor.tokenizer.decode(singles[0]["input_ids"][0])
        assert text.count("<|vision_start|>") == text.count("<|vision_end|>") == 17 and text.count(" seconds>") == 16

    template = generator.processor.apply_chat_template
    texts = [template(m, tokenize=False, add_generation_prompt=True) for m, _, _ in batch]
    videos = {"v0": shared._video_for("v0", batch[0], texts[0]), "v1": shared._video_for("v1", batch[3], texts[3])}
    rows = [s["input_ids"][0].tolist() for s in singles]
    prefixes = [shared._shared_prefix(videos["v0"], rows[:3])] * 3 + [shared._shared_prefix(videos["v1"], rows[3:])]
    assert videos["v0"].vision_end < prefixes[0] < min(map(len, rows[:3])) and prefixes[3] == len(rows[3]) - 1
    ids, mask = layout(rows, prefixes, model.config.vision_end_token_id)
    ids, mask = torch.tensor(ids), torch.tensor(mask)
    head = max(prefixes)
    assert mask[:3, : head - prefixes[0]].sum() == 0  # the shorter cached prefixes are left-padded
    types = torch.tensor(generator.processor.create_mm_token_type_ids(ids.tolist()))
    grids = torch.cat([videos[k].tensors["video_grid_thw"] for k in keys])
    seconds = None
    if family_named(family).video_time == "mrope":
        seconds = torch.cat([videos[k].tensors["second_per_grid_ts"] for k in keys])
    else:
        assert "second_per_grid_ts" not in videos["v0"].tensors
    positions = rope_positions(model, ids, mask, types, grids, seconds)
    for row, single in enumerate(singles):
        own = model._prepare_position_ids_for_generation(single["input_ids"], dict(single))  # the plain path's
        assert torch.equal(positions[:, row, mask[row].bool()], own[:, 0])
    if family == "qwen2.5-vl":  # the case that needs full-prompt positions: the video's last temporal position
        rope_index = model.model.get_rope_index  # lies beyond the text's
        video = videos["v0"].tensors
        prefix = slice(head - prefixes[0], head)
        prefix_delta = rope_index(ids[:1, prefix], types[:1, prefix], **video)[1]
        full_delta = rope_index(singles[0]["input_ids"], singles[0]["mm_token_type_ids"], **video)[1]
        assert prefix_delta.item() != full_delta.item()

    cache = shared._batch_cache([videos[k] for k in keys], prefixes)
    with torch.inference_mode():
        ours = model(
            input_ids=ids[:, head:],
            attention_mask=mask,
            position_ids=positions[:, :, head:],
            mm_token_type_ids=types[:, head:],
            cache=cache,
            use_cache=True,
        ).logits[:, -1]
        alone = torch.cat([model(**single).logits[:, -1] for single in singles])
    assert (alone[0] - alone[3]).abs().max() > 1e-3  # the rows' logits differ: the comparison is not trivial
    torch.testing.assert_close(ours, alone, rtol=0, atol=1e-5)
    assert [videos[k].cache.get_seq_length() for k in ("v0", "v1")] == [prefixes[0], prefixes[3]]  # not written to


@pytest.mark.parametrize("protocol", ["direct", "official"])
def test_predictions_equal_the_plain_path(
    tiny_model_dir: Path, interleaved_dir: Path, tmp_path: Path, protocol: str, monkeypatch, caplog
):
    from spatialladder.eval.generation import HFGenerator

    plain, plain_order, _ = predict(
        tiny_model_dir,
        interleaved_dir,
        tmp_path / "plain1",
        input_protocol=protocol,
        batch_size=1,
        share_video_prefix=False,
    )
    assert plain_order == [str(i) for i in range(12)]  # benchmark order, video 0, 1, 2, 0, 1, 2, …
    assert len({r["prediction"] for r in plain.values()}) >= 4  # outputs depend on the question and the video
    assert all(r["video_grid_thw"] == [[2, 4, 4]] for r in plain.values())
    batched, _, _ = predict(
        tiny_model_dir,
        interleaved_dir,
        tmp_path / "plain3",
        input_protocol=protocol,
        batch_size=3,
        share_video_prefix=False,
    )
    assert batched == plain
    encodes = []
    original = HFGenerator.encode
    monkeypatch.setattr(HFGenerator, "encode", lambda self, batch: encodes.append(len(batch)) or original(self, batch))
    for batch_size in (1, 3, 8):
        encodes.clear()
        with caplog.at_level(logging.INFO, logger="spatialladder.eval"):
            shared, order, generator = predict(
                tiny_model_dir,
                interleaved_dir,
                tmp_path / f"shared{batch_size}",
                input_protocol=protocol,
                batch_size=batch_size,
            )
        assert shared == plain, batch_size  # every field: prediction, grids, run_key
        assert order == ["0", "3", "6", "9", "1", "4", "7", "10", "2", "5", "8", "11"]  # video by video
        assert encodes == [1, 1, 1]  # the processor saw each video once
        assert generator.shared.stats["videos"] == 3 and generator.shared.stats["prefills"] == 3
        assert "12 questions on 3 videos encoded once each (3 prefills)" in caplog.text


def test_qwen3_vl_decodes_every_step_as_the_plain_path(
    tiny_family_dirs: dict[str, Path], long_video_dir: Path, tmp_path: Path, monkeypatch
):
    """Qwen3-VL through the whole shared path (encode once, prefill, batched ``generate`` from the cache): the scores
    of all 8 greedy steps of each question equal those of the question generated alone. The tiny random Qwen3-VL
    writes the same text for every question, so its predictions alone would not show a difference; its scores do.
    (Qwen2.5-VL: the prediction tests above.)"""
    import torch

    from spatialladder.eval.generation import HFGenerator

    cfg = config(
        tiny_family_dirs["qwen3-vl"], long_video_dir, tmp_path, frames=32, video_fps=0.5, **SHARING_FAMILIES["qwen3-vl"]
    )
    spec = get_benchmark("vsibench")
    samples = spec.load(long_video_dir)
    chosen = [s for s in samples if s.video.stem == "scene0000_00"][:3] + [samples[1]]
    batch = [build_message(s, spec, "direct", 32, None, vision_inputs(cfg)) for s in chosen]
    generator = HFGenerator(cfg)
    generator.kwargs.update(output_scores=True, return_dict_in_generate=True)
    scores: list = []
    generate = generator.model.generate

    def scored(*args, **kwargs):
        out = generate(*args, **kwargs)
        scores.append(torch.stack(out.scores, dim=1))
        return out.sequences

    monkeypatch.setattr(generator.model, "generate", scored)
    generator.shared(batch, ["v0", "v0", "v0", "v1"])
    assert generator.shared.stats["prefills"] == 2
    shared = scores.pop()
    for triple in batch:  # the plain path, one question at a time
        generator([triple])
    alone = torch.cat(scores)
    assert shared.shape == alone.shape == (4, 8, shared.shape[-1])
    torch.testing.assert_close(shared, alone, rtol=0, atol=1e-5)
    assert (alone[0] - alone[3]).abs().max() > 1e-3


def test_long_video_predictions_equal_the_plain_path(tiny_model_dir: Path, long_video_dir: Path, tmp_path: Path):
    """32 frames, 256 video tokens, temporal positions beyond the text (0.5 fps), both batch sizes."""
    kw = {"frames": 32, "video_fps": 0.5, "max_pixels": 28 * 28 * 16}
    plain, _, _ = predict(tiny_model_dir, long_video_dir, tmp_path / "p", batch_size=1, share_video_prefix=False, **kw)
    assert all(r["video_grid_thw"] == [[16, 8, 8]] for r in plain.values())
    assert len({r["prediction"] for r in plain.values()}) >= 2
    for batch_size in (1, 3):  # 3: a batch ends one video and begins the other
        shared, _, generator = predict(
            tiny_model_dir, long_video_dir, tmp_path / f"s{batch_size}", batch_size=batch_size, **kw
        )
        assert shared == plain, batch_size
        stats = generator.shared.stats
        assert stats["videos"] == 2 and stats["questions"] == 8
        assert stats["tokens_prefilled"] < stats["prompt_tokens"] / 2  # the 256 video tokens prefilled once a video


def test_two_ranks_and_a_resume_group_by_video(tiny_model_dir: Path, interleaved_dir: Path, tmp_path: Path):
    plain, _, _ = predict(tiny_model_dir, interleaved_dir, tmp_path / "plain", batch_size=2, share_video_prefix=False)
    from spatialladder.eval.generation import HFGenerator

    out = tmp_path / "sharded"
    cfg = config(tiny_model_dir, interleaved_dir, out, batch_size=2)
    spec = get_benchmark("vsibench")
    samples = spec.load(interleaved_dir)
    generator = HFGenerator(cfg)
    # whole videos: video 0 (ids 0, 3, 6, 9) to rank 0, video 1 to rank 1, video 2 to rank 0 (4 = 4: the lower rank)
    assert predict_shard(cfg, spec, samples, rank=0, world_size=2, generate=generator) == (8, 0)
    assert predict_shard(cfg, spec, samples, rank=1, world_size=2, generate=generator) == (4, 0)
    rank0 = out / "predictions.rank0.jsonl"
    # predicted video by video
    assert [json.loads(x)["id"] for x in rank0.read_text().splitlines()] == ["0", "3", "6", "9", "2", "5", "8", "11"]
    lines = rank0.read_text().splitlines()
    rank0.write_text("\n".join(lines[:3]) + "\n" + lines[3][:12])  # killed while writing its fourth record
    assert predict_shard(cfg, spec, samples, rank=0, world_size=2, generate=generator) == (5, 3)
    assert merge_predictions(out) == plain


def test_consecutive_questions_share_one_official_video_tensor(tiny_model_dir: Path, interleaved_dir: Path, tmp_path):
    """Questions on a video get the same float tensor (no copy per question); the processor leaves it unchanged."""
    import torch

    from spatialladder.eval.generation import HFGenerator
    from spatialladder.eval.video import FrameCache

    cfg = config(tiny_model_dir, interleaved_dir, tmp_path, input_protocol="official")
    spec = get_benchmark("vsibench")
    on_video_0 = [s for s in spec.load(interleaved_dir) if s.video.stem == "scene0000_00"][:2]
    cache = FrameCache()
    batch = [build_message(s, spec, "direct", 4, cache, vision_inputs(cfg)) for s in on_video_0]
    video = batch[0][2][0]
    assert batch[1][2][0] is video and video.dtype == torch.float32
    before = video.clone()
    HFGenerator(cfg).encode(batch)
    assert torch.equal(video, before)
