"""``rollout: vllm`` with image and video rows, up to the engine: a stand-in vLLM engine checks what it receives.

vLLM is not installed here (and needs CUDA), so trl's real colocated ``VLLMGeneration.generate`` and
``sync_weights`` run against a stand-in ``LLM``. The stand-in does what vLLM does with a request
(``vllm/model_executor/models/qwen2_5_vl.py`` and ``qwen3_vl.py``: each ``(frames, metadata)`` video becomes
``videos`` + ``video_metadata`` for the model folder's transformers processor, called with the request's
``mm_processor_kwargs``) and expands the prompt as vLLM's ``_get_prompt_updates`` does (:func:`vllm_expands`, per
family and vLLM version), so the test compares vLLM's view of a row with the loss pass's; like vLLM it reports the
expanded prompt back (``RequestOutput.prompt_token_ids``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from spatialladder.media import vllm_video
from spatialladder.models.load import load_model_and_processor
from spatialladder.testing.tiny_records import write_tiny_records
from spatialladder.train.grpo import build_trainer
from spatialladder.train.grpo_rows import load_grpo_rows, rows_to_dataset
from spatialladder.train.trl_args import to_grpo_args
from spatialladder.train.video_grpo import ROW_VISION_KEY, VLLM_PAD_BIAS, expand_vision_pads

pytestmark = pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")

ANSWERS = "ABCD"
PIXELS = {"qwen2.5-vl": 28 * 28, "qwen3-vl": 32 * 32, "qwen3.5": 32 * 32}
"""One merged token of each family: the smallest per-frame budget it accepts."""


class StandInSamplingParams:
    """vLLM's ``SamplingParams`` as trl builds it: only the keyword arguments are kept."""

    def __init__(self, **kwargs: Any):
        self.kwargs = kwargs


def answer_ids(tokenizer: Any, k: int, max_tokens: int) -> list[int]:
    """The k-th completion of a rollout: ``<answer>X</answer><|im_end|>``, X cycling over A-D."""
    text = f"<answer>{ANSWERS[k % len(ANSWERS)]}</answer><|im_end|>"
    return tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]


class StandInLLM:
    """Records requests and weight loads; answers ``<answer>X</answer><|im_end|>`` with X cycling over the requests,
    each token at log-prob -1, as over the kept top-k tokens (``processed_logprobs``; the tiny random model's
    full-vocabulary log-probs are about -12), in vLLM's ``RequestOutput`` shape: ``prompt_token_ids`` (the prompt as
    ``expand`` expands it, as vLLM reports the processed prompt), ``outputs[0].token_ids``, ``outputs[0].logprobs``
    as one {token: Logprob(logprob, rank)} per token."""

    def __init__(self, tokenizer: Any, expand: Any = None):
        self.tokenizer = tokenizer
        self.expand = expand
        self.calls: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []
        self.loaded: list[str] = []
        model = SimpleNamespace(load_weights=lambda weights: self.loaded.extend(name for name, _ in weights))
        self.llm_engine = SimpleNamespace(
            model_executor=SimpleNamespace(driver_worker=SimpleNamespace(model_runner=SimpleNamespace(model=model)))
        )

    def reset_prefix_cache(self) -> None:
        pass

    def generate(self, prompts: list[dict[str, Any]], sampling_params: Any = None, use_tqdm: bool = False) -> list:
        self.calls.append((list(prompts), sampling_params.kwargs))
        outputs = []
        for k, request in enumerate(prompts):
            ids = answer_ids(self.tokenizer, k, sampling_params.kwargs["max_tokens"])
            lps = [{t: SimpleNamespace(logprob=-1.0, rank=1)} for t in ids]
            outputs.append(
                SimpleNamespace(
                    prompt_token_ids=self.expand(request)
                    if self.expand and "multi_modal_data" in request
                    else request["prompt_token_ids"],
                    outputs=[SimpleNamespace(token_ids=ids, logprobs=lps)],
                )
            )
        return outputs


VLLM_KEEPS_WRAPPER = {"0.22": False, "0.31": True}
"""Whether vLLM keeps a Qwen3-VL video's outer ``<|vision_start|>``/``<|vision_end|>``: 0.22-0.25 replace the whole
``<|vision_start|><|video_pad|><|vision_end|>`` (0.22.0 ``qwen3_vl.py`` L1428-1432, vllm-project/vllm#46817); from
0.26 only ``<|video_pad|>`` when the processor class overrides ``replace_video_token`` (0.31.0 L1320-1326,
L1599-1608; transformers 5.24's ``Qwen3VLProcessor`` does)."""


def vllm_stamps(metadata: dict[str, Any], temporal_patch_size: int) -> list[float]:
    """vLLM's ``Qwen3VLProcessingInfo._calculate_timestamps`` (0.31.0 L1046-1059) on the request's metadata, as
    ``_get_video_second_idx`` calls it with ``do_sample_frames`` False (L1061-1109): the metadata's indices and fps."""
    indices = list(metadata["frames_indices"])
    if len(indices) % temporal_patch_size:
        indices = indices + [indices[-1]] * (temporal_patch_size - len(indices) % temporal_patch_size)
    seconds = [i / metadata["fps"] for i in indices]
    return [
        (seconds[i] + seconds[i + temporal_patch_size - 1]) / 2 for i in range(0, len(seconds), temporal_patch_size)
    ]


def vllm_expands(
    prompt_ids: list[int], processor: Any, grids: dict[str, list], metadata: list[dict], version: str
) -> list[int]:
    """The prompt vLLM builds from a request's ids (``_get_prompt_updates``): each image's ``<|image_pad|>`` becomes
    ``grid.prod() // merge²`` pads (``get_replacement_qwen2vl`` / ``get_image_replacement_qwen3vl``); a Qwen2.5-VL
    video's ``<|video_pad|>`` likewise; a Qwen3-VL / Qwen3.5 video's target (:data:`VLLM_KEEPS_WRAPPER`) becomes,
    per temporal patch, its stamp tokenised alone + ``<|vision_start|>`` + pads + ``<|vision_end|>``
    (``get_video_repl``, 0.31.0 L1624-1680). Replacement in prompt order, one item per match
    (``_replace_video_token_placeholders``, L1276-1315)."""
    tk = processor.tokenizer
    image, video, start, end = tk.convert_tokens_to_ids(
        ["<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"]
    )
    merge = processor.image_processor.merge_size
    timestamps = type(processor).__name__ == "Qwen3VLProcessor"
    replacements: dict[tuple[int, ...], list[list[int]]] = {
        (image,): [[image] * (t * h * w // merge**2) for t, h, w in grids.get("image", [])]
    }
    videos = []
    for meta, (t, h, w) in zip(metadata, grids.get("video", []), strict=True):
        if not timestamps:
            videos.append([video] * (t * h * w // merge**2))
            continue
        stamps = vllm_stamps(meta, processor.video_processor.temporal_patch_size)
        assert len(stamps) == t
        groups = []
        for seconds in stamps:
            groups += tk.encode(f"<{seconds:.1f} seconds>", add_special_tokens=False)
            groups += [start, *[video] * (h * w // merge**2), end]
        videos.append(groups)
    wrapped = timestamps and not VLLM_KEEPS_WRAPPER[version]
    replacements[(start, video, end) if wrapped else (video,)] = videos
    out, used, i = [], dict.fromkeys(replacements, 0), 0
    while i < len(prompt_ids):
        target = next((t for t in replacements if tuple(prompt_ids[i : i + len(t)]) == t), None)
        if target is None:
            out.append(prompt_ids[i])
            i += 1
            continue
        out += replacements[target][used[target]]
        used[target] += 1
        i += len(target)
    assert all(used[t] == len(r) for t, r in replacements.items()), "placeholders and items do not match"
    return out


def as_vllm_would(model_dir: Path, request: dict[str, Any], version: str = "0.31") -> dict[str, Any]:
    """vLLM's processing of one request: the folder's processor (vLLM loads it from the model path), called on the
    request's media and ``mm_processor_kwargs`` (its own ids discarded, as vLLM 0.31 ``_call_hf_processor`` does);
    the prompt expanded by :func:`vllm_expands`."""
    from transformers import AutoProcessor
    from transformers.video_utils import VideoMetadata

    processor = AutoProcessor.from_pretrained(model_dir)
    data = request["multi_modal_data"]
    hf: dict[str, Any] = {}
    text = ""
    metadata = []
    if "image" in data:
        images = data["image"] if isinstance(data["image"], list) else [data["image"]]
        hf["images"] = images
        text += "<|vision_start|><|image_pad|><|vision_end|>" * len(images)
    if "video" in data:
        frames, meta = data["video"]
        metadata = [{k: v for k, v in meta.items() if k != "do_sample_frames"}]
        hf["videos"] = [frames]
        hf["video_metadata"] = [VideoMetadata(**{**metadata[0], "frames_indices": list(meta["frames_indices"])})]
        text += "<|vision_start|><|video_pad|><|vision_end|>"
    out = processor(text=[text], **hf, **request["mm_processor_kwargs"], return_tensors="pt")
    grids = {kind: out[f"{kind}_grid_thw"].tolist() for kind in ("image", "video") if f"{kind}_grid_thw" in out}
    out["expanded_ids"] = vllm_expands(request["prompt_token_ids"], processor, grids, metadata, version)
    return out


def vllm_cfg(grpo_cfg: Any, model_dir: Path, records: dict[str, Path], out: Path, *extra: str) -> Any:
    return grpo_cfg(
        model_dir,
        records,
        out,
        "rollout=vllm",
        "trainer.max_steps=1",
        "prompts_per_step=2",
        "model.max_pixels=6272",  # 8·28·28, below the folder's 12,544: vLLM must be told the budget
        "data.video_fps=4.0",  # second_per_grid_ts 2 / 4 = 0.5, not the default 1.0
        *extra,
    )


def vllm_trainer(cfg: Any, rows: list, reward: Any, version: str = "0.31") -> tuple[Any, Any]:
    """A trainer with the arguments ``rollout: vllm`` gives trl, built without vLLM (it cannot be imported here),
    then given trl's own colocated ``VLLMGeneration`` around the stand-in engine, as ``GRPOTrainer.__init__`` would
    with ``use_vllm``."""
    from trl.distributed import DistributedBackend
    from trl.generation.vllm_generation import VLLMGeneration

    loaded = load_model_and_processor(cfg.model, for_training=True)
    args = to_grpo_args(cfg)
    assert args.use_vllm
    args.use_vllm = False  # until the stand-in engine is in place
    trainer = build_trainer(cfg, args, loaded, rows_to_dataset(rows), [reward])
    model_dir = Path(cfg.model.name_or_path)
    engine = StandInLLM(
        loaded.processor.tokenizer, lambda request: as_vllm_would(model_dir, request, version)["expanded_ids"]
    )
    generation = VLLMGeneration.__new__(VLLMGeneration)
    generation.__dict__.update(
        model=trainer.model,
        accelerator=trainer.accelerator,
        _dist=DistributedBackend(trainer.accelerator),
        processing_class=trainer.processing_class,
        mode="colocate",
        structured_outputs_regex=None,
        tensor_parallel_size=1,
        enable_sleep_mode=False,
        _llm_weights_sleeping=False,
        repetition_penalty=1.0,
        temperature=1.0,
        top_p=1.0,
        top_k=50,
        min_p=0.0,
        max_completion_length=8,
        logprobs=0,
        generation_kwargs={},
        llm=engine,
    )
    trainer.use_vllm, trainer.vllm_generation, trainer._last_loaded_step = True, generation, -1
    return trainer, engine


def scored_batches(trainer: Any) -> list[dict[str, Any]]:
    batches: list[dict[str, Any]] = []
    score = trainer._generate_and_score_completions
    trainer._generate_and_score_completions = lambda inputs: batches.append(score(inputs)) or batches[-1]
    return batches


def test_video_and_image_rows_reach_vllm_as_the_loss_pass_sees_them(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr("trl.generation.vllm_generation.SamplingParams", StandInSamplingParams, raising=False)
    rows = load_grpo_rows([tiny_records["spatial"]], video_frames=4).rows
    video = next(r for r in rows if r["data_type"] == "video")
    image = next(r for r in rows if r["data_type"] == "single_image")
    seen: list[str] = []

    def reward(completions: list[Any], **_: Any) -> list[float]:
        seen.extend(c[0]["content"] for c in completions)
        return [float("ABCD".index(c[0]["content"][8])) for c in completions]

    trainer, engine = vllm_trainer(vllm_cfg(grpo_cfg, tiny_model_dir, tiny_records, tmp_path), [video, image], reward)
    batches = scored_batches(trainer)
    encode = trainer._encode_row
    encoded: list[int] = []
    trainer._encode_row = lambda prompt: encoded.append(1) or encode(prompt)
    calls = trainer.model.model.visual
    grad_calls: list[bool] = []
    calls.register_forward_hook(lambda module, args, out: grad_calls.append(torch.is_grad_enabled()))
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()

    # one rollout call, 2 prompts x 4 completions, trl's sampling settings plus the vision pads' logit bias
    [(requests, params)] = engine.calls
    assert len(requests) == 8 and params["n"] == 1 and params["max_tokens"] == 8 and params["top_k"] == 50
    pads = trainer.processing_class.tokenizer.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>"])
    assert params["logit_bias"] == dict.fromkeys(pads, VLLM_PAD_BIAS)
    assert engine.loaded and all(not n.startswith("base_model") for n in engine.loaded)  # weights synced first

    [batch] = batches
    loss_rows = batch[ROW_VISION_KEY]
    tokenizer = trainer.processing_class.tokenizer
    kinds = []
    for request, loss_row in zip(requests, loss_rows, strict=True):
        text = tokenizer.decode(request["prompt_token_ids"])
        vllm = as_vllm_would(tiny_model_dir, request)
        assert vllm["expanded_ids"] == loss_row["prompt_ids"][0].tolist()  # the same prompt, once vLLM expands it
        if "video" in request["multi_modal_data"]:
            kinds.append("video")
            assert text.count("<|vision_start|><|video_pad|><|vision_end|>") == 1 and "<|image_pad|>" not in text
            assert video["prompt"][0]["content"] in text
            frames, meta = request["multi_modal_data"]["video"]
            hf_frames = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in video["video"]])
            assert frames.dtype == np.uint8 and frames.shape == hf_frames.shape and frames.shape[0] == 4
            assert np.array_equal(frames, hf_frames)  # the very frames the HF path feeds the processor
            assert meta == {
                "fps": 4.0,
                "total_num_frames": 4,
                "frames_indices": [0, 1, 2, 3],
                "duration": 1.0,
                "do_sample_frames": False,
            }
            assert request["mm_processor_kwargs"] == {
                "size": {"shortest_edge": 784, "longest_edge": 6272},
                "do_sample_frames": False,
                "cap_pixels_per_frame": True,
            }
            for key in ("pixel_values_videos", "video_grid_thw"):
                assert torch.equal(vllm[key], loss_row[key]), key
            assert vllm["second_per_grid_ts"].tolist() == loss_row["second_per_grid_ts"].tolist() == [0.5]
        else:
            kinds.append("image")
            assert text.count("<|vision_start|><|image_pad|><|vision_end|>") == 1 and "<|video_pad|>" not in text
            assert request["mm_processor_kwargs"] == {"size": {"shortest_edge": 784, "longest_edge": 6272}}
            for key in ("pixel_values", "image_grid_thw"):
                assert torch.equal(vllm[key], loss_row[key]), key
    assert sorted(kinds) == ["image"] * 4 + ["video"] * 4
    # each prompt processed once: its 4 completions share the encoded tensors and the vLLM request
    assert len(encoded) == 2
    assert len({id(r) for r in loss_rows}) == 2 and len({id(r) for r in requests}) == 2

    # the engine's completions are what the rewards score and what the loss pass trains on, with the video in it
    assert seen == [f"<answer>{ANSWERS[k % 4]}</answer>" for k in range(8)]
    completion = tokenizer.decode(batch["completion_ids"][0][batch["completion_mask"][0].bool()])
    assert completion.startswith("<answer>") and completion.endswith("<|im_end|>")
    assert grad_calls.count(True) == 2  # loss forward: the image and the video through the vision tower
    assert any(not torch.equal(p, before[n]) for n, p in trainer.model.named_parameters() if "visual" in n)


def test_image_only_batches_reach_vllm_unexpanded_with_the_pixel_budget(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path, monkeypatch
) -> None:
    """trl 1.16 would hand vLLM the processor-expanded ids (one image's whole ``<|image_pad|>`` run, whose first
    token vLLM expands again: trl#6294) and no pixel budget; an image-only batch goes to vLLM as our own requests."""
    monkeypatch.setattr("trl.generation.vllm_generation.SamplingParams", StandInSamplingParams, raising=False)
    rows = [r for r in load_grpo_rows([tiny_records["spatial"]]).rows if r["data_type"] == "single_image"][:2]
    cfg = vllm_cfg(grpo_cfg, tiny_model_dir, tiny_records, tmp_path)
    trainer, engine = vllm_trainer(cfg, rows, lambda completions, **_: [0.0] * 8)
    tokenizer = trainer.processing_class.tokenizer
    pad = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    trl_ids, _, _ = trainer._tokenize_prompts([trainer._inline_vision(rows[0])["prompt"]])
    assert trl_ids[0].count(pad) > 1  # what trl would send: already expanded

    batches = scored_batches(trainer)
    trainer.train()
    [(requests, _)] = engine.calls
    [batch] = batches
    assert len(requests) == len(batch[ROW_VISION_KEY]) == 8
    for request, loss_row in zip(requests, batch[ROW_VISION_KEY], strict=True):
        assert request["prompt_token_ids"].count(pad) == 1
        assert isinstance(request["multi_modal_data"]["image"], Image.Image)
        assert request["mm_processor_kwargs"] == {"size": {"shortest_edge": 784, "longest_edge": 6272}}
        vllm = as_vllm_would(tiny_model_dir, request)
        assert vllm["expanded_ids"] == loss_row["prompt_ids"][0].tolist()
        for key in ("pixel_values", "image_grid_thw"):
            assert torch.equal(vllm[key], loss_row[key]), key
    # the folder's own budget (12,544 px) would have given vLLM a different grid than the loss pass's 6,272 px
    as_folder = as_vllm_would(tiny_model_dir, {**requests[0], "mm_processor_kwargs": {}})
    assert not torch.equal(as_folder["image_grid_thw"], batch[ROW_VISION_KEY][0]["image_grid_thw"])


@pytest.fixture(scope="module")
def timed_tiny_records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny records with capture times, as build-data writes them: each image named by its frame index in the
    scan (``<scene>/<index>.jpg``), the scan at 30 fps."""
    files = write_tiny_records(tmp_path_factory.mktemp("timed-tiny"))
    lines = [json.loads(x) for x in files["spatial"].read_text().splitlines()]
    timed = [{**r, "frame_indices": [int(Path(p).stem) for p in r["image"]], "fps": 30.0} for r in lines]
    files["spatial"].write_text("".join(json.dumps(r) + "\n" for r in timed), encoding="utf-8")
    return files


FAMILY_RUNS = [
    ("qwen2.5-vl", "0.31"),
    ("qwen3-vl", "0.31"),
    ("qwen3-vl", "0.22"),
    ("qwen3.5", "0.31"),
    ("qwen3.5", "0.22"),
]


@pytest.mark.parametrize(("family", "version"), FAMILY_RUNS)
def test_each_familys_rollout_prompt_is_the_loss_pass_prompt_once_vllm_expands_it(
    family, version, grpo_cfg, tiny_family_dirs, timed_tiny_records, tmp_path, monkeypatch
) -> None:
    """Whatever the family and whichever way the installed vLLM expands a Qwen3-VL video (keeping HF's outer
    ``<|vision_start|>``/``<|vision_end|>`` or not, vllm-project/vllm#46817), the ids vLLM builds from our request
    equal the HF processor's encoding of the same row, which the loss pass trains on; the video carries its capture
    times to vLLM, which stamps it as HF does."""
    from transformers import AutoProcessor

    from spatialladder.train import video_grpo

    monkeypatch.setattr("trl.generation.vllm_generation.SamplingParams", StandInSamplingParams, raising=False)
    keeps = VLLM_KEEPS_WRAPPER[version]
    asked: list[str] = []
    monkeypatch.setattr(
        video_grpo, "vllm_video_target", lambda p: asked.append(type(p).__name__) or ("pad" if keeps else "wrapped")
    )
    model_dir = tiny_family_dirs[family]
    rows = load_grpo_rows([timed_tiny_records["spatial"]], video_frames=4).rows
    video = next(r for r in rows if r["data_type"] == "video")
    image = next(r for r in rows if r["data_type"] == "single_image")
    assert video["frame_indices"] == [0, 20, 60, 100] and video["capture_fps"] == 30.0  # 4 of 6 frames, kept in step
    cfg = vllm_cfg(grpo_cfg, model_dir, timed_tiny_records, tmp_path, f"model.min_pixels={PIXELS[family]}")
    trainer, engine = vllm_trainer(cfg, [video, image], lambda completions, **_: [0.0] * 8, version)
    batches = scored_batches(trainer)
    trainer.train()

    [(requests, _)] = engine.calls
    [batch] = batches
    processor = AutoProcessor.from_pretrained(model_dir)
    tokenizer = processor.tokenizer
    qwen3 = family != "qwen2.5-vl"
    assert asked == (["Qwen3VLProcessor"] if qwen3 else [])  # asked once, for the first timestamped video
    for request, loss_row in zip(requests, batch[ROW_VISION_KEY], strict=True):
        vllm = as_vllm_would(model_dir, request, version)
        assert vllm["expanded_ids"] == loss_row["prompt_ids"][0].tolist()
        if "video" not in request["multi_modal_data"]:
            assert torch.equal(vllm["image_grid_thw"], loss_row["image_grid_thw"])
            continue
        # the same row through the HF processor, told the capture times by hand (Qwen2.5-VL: data.video_fps 4.0)
        frames = [Image.open(f).convert("RGB") for f in video["video"]]
        prompt = [
            {
                "role": "user",
                "content": [
                    {"type": "video", "video": frames},
                    {"type": "text", "text": video["prompt"][0]["content"]},
                ],
            }
        ]
        told = (
            {"fps": 30.0, "frames_indices": [0, 20, 60, 100], "total_num_frames": 101}
            if qwen3
            else {"fps": 4.0, "frames_indices": [0, 1, 2, 3], "total_num_frames": 4}
        )
        hf = processor.apply_chat_template(
            [prompt], add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt",
            processor_kwargs={"video_metadata": [told], "do_sample_frames": False, **request["mm_processor_kwargs"]},
        )  # fmt: skip
        assert vllm["expanded_ids"] == hf["input_ids"][0].tolist()
        for key in ("pixel_values_videos", "video_grid_thw"):
            assert torch.equal(vllm[key], hf[key]) and torch.equal(loss_row[key], hf[key]), key
        _, meta = request["multi_modal_data"]["video"]
        assert meta == {**told, "duration": told["total_num_frames"] / told["fps"], "do_sample_frames": False}
        text = tokenizer.decode(request["prompt_token_ids"])
        expanded = tokenizer.decode(vllm["expanded_ids"])
        if not qwen3:
            assert "<|vision_start|><|video_pad|><|vision_end|>" in text and "seconds>" not in expanded
            continue
        # (0 + 20) / 2 / 30 and (60 + 100) / 2 / 30: the capture times, HF's outer pair kept
        assert "<|vision_start|><0.3 seconds><|vision_start|><|video_pad|>" in expanded
        assert "<|vision_end|><2.7 seconds><|vision_start|>" in expanded and "<|vision_end|><|vision_end|>" in expanded
        wrapper = "<|vision_start|><|vision_start|><|video_pad|><|vision_end|><|vision_end|>"
        assert (wrapper in text) == (not keeps)  # the request carries one more pair where vLLM drops one


def test_a_vllm_that_expands_otherwise_than_the_request_assumed_is_refused(
    grpo_cfg, tiny_family_dirs, timed_tiny_records, tmp_path, monkeypatch
) -> None:
    """The request assumes the installed vLLM keeps the outer pair, the engine (0.22) drops it: the prompt vLLM
    reports differs from the loss pass's, and the rollout is refused rather than trained on."""
    from spatialladder.train import video_grpo

    monkeypatch.setattr("trl.generation.vllm_generation.SamplingParams", StandInSamplingParams, raising=False)
    monkeypatch.setattr(video_grpo, "vllm_video_target", lambda processor: "pad")
    rows = [
        r for r in load_grpo_rows([timed_tiny_records["spatial"]], video_frames=4).rows if r["data_type"] == "video"
    ]
    model_dir = tiny_family_dirs["qwen3-vl"]
    cfg = vllm_cfg(grpo_cfg, model_dir, timed_tiny_records, tmp_path, f"model.min_pixels={PIXELS['qwen3-vl']}")
    trainer, _ = vllm_trainer(cfg, rows[:2], lambda completions, **_: [0.0] * 8, "0.22")
    with pytest.raises(
        RuntimeError, match=r"vLLM expanded rollout prompt 0 to \d+ tokens, the loss pass has \d+ .*#46817"
    ):
        trainer.train()


def generate_as_engine(tokenizer: Any) -> Any:
    """A stand-in for HF ``generate`` that answers what :class:`StandInLLM` answers, row by row."""

    def generate(input_ids: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        ids = [answer_ids(tokenizer, k, kwargs["generation_config"].max_new_tokens) for k in range(len(input_ids))]
        width = max(map(len, ids))
        tail = torch.tensor([x + [tokenizer.pad_token_id] * (width - len(x)) for x in ids])
        return torch.cat([input_ids, tail], dim=1)

    return generate


def test_hf_and_vllm_rollouts_train_the_same_objective_on_the_same_completions(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path, monkeypatch
) -> None:
    """The paper samples with top-k 50 and has no importance-sampling correction (official §5.3, §5.5). vLLM returns
    each sampled token's log-prob over the kept top-k tokens (trl's ``logprobs_mode="processed_logprobs"``), always
    above the loss's full-vocabulary log-prob, here -1 against the tiny random model's ~-12: trl's default correction
    (``sequence_mask``, no lower bound) would scale every completion's policy term by exp(Σ log kept mass) ≈ 0
    (trl#6789). Given the same completions, ``rollout: vllm`` must hand the loss what ``rollout: hf`` does and end the
    step at the same weights."""
    from spatialladder.train.video_grpo import same_value

    monkeypatch.setattr("trl.generation.vllm_generation.SamplingParams", StandInSamplingParams, raising=False)
    rows = [r for r in load_grpo_rows([tiny_records["spatial"]], video_frames=4).rows if r["data_type"] == "video"]

    def reward(completions: list[Any], **_: Any) -> list[float]:
        return [float("ABCD".index(c[0]["content"][8])) for c in completions]

    runs = {}
    for rollout in ("hf", "vllm"):
        cfg = vllm_cfg(grpo_cfg, tiny_model_dir, tiny_records, tmp_path / rollout, f"rollout={rollout}")
        if rollout == "vllm":
            trainer, engine = vllm_trainer(cfg, rows[:2], reward)
        else:
            loaded = load_model_and_processor(cfg.model, for_training=True)
            trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows[:2]), [reward])
            monkeypatch.setattr(trainer.model, "generate", generate_as_engine(trainer.processing_class.tokenizer))
        batches = scored_batches(trainer)
        trainer.train()
        runs[rollout] = (batches[0], {n: p.detach().clone() for n, p in trainer.model.named_parameters()})
    (hf, hf_weights), (vllm, vllm_weights) = runs["hf"], runs["vllm"]

    [(_, params)] = engine.calls
    assert params["top_k"] == 50  # the paper's truncated sampling
    assert torch.equal(vllm["sampling_per_token_logps"], torch.full_like(vllm["sampling_per_token_logps"], -1.0))
    # trl's loss reads the sampling log-probs only for off_policy_mask_threshold (off): every other input agrees
    assert "importance_sampling_ratio" not in vllm and "old_per_token_logps" not in vllm
    assert set(vllm) - {"sampling_per_token_logps"} == set(hf)
    assert hf["advantages"].abs().sum() > 0  # the completions' rewards differ within each group
    for key, value in hf.items():
        assert same_value(value, vllm[key]), key
    assert all(torch.allclose(hf_weights[n], vllm_weights[n], atol=1e-6) for n in hf_weights)


def test_vllm_video_refuses_frames_of_different_sizes() -> None:
    from spatialladder.errors import DataFormatError

    frames = [Image.new("RGB", (28, 28)), Image.new("RGB", (56, 28))]
    with pytest.raises(DataFormatError, match=r"2 frames differ in size"):
        vllm_video(frames, 2.0)
    array, meta = vllm_video([Image.new("RGB", (56, 28), (1, 2, 3))] * 3, 2.0)
    assert array.shape == (3, 28, 56, 3) and array[0, 0, 0].tolist() == [1, 2, 3]
    assert meta["duration"] == 1.5 and meta["fps"] == 2.0


def test_expansion_follows_the_grids_in_order() -> None:
    ids = [1, 9, 2, 8, 3, 9]
    assert expand_vision_pads(ids, {9: [(1, 4, 4), (2, 2, 4)], 8: [(2, 4, 2)]}, 2) == [
        1,
        9,
        9,
        9,
        9,
        2,
        8,
        8,
        8,
        8,
        3,
        9,
        9,
        9,
        9,
    ]
    with pytest.raises(RuntimeError, match="do not match the items"):
        expand_vision_pads(ids, {9: [(1, 4, 4)] * 3}, 2)


def test_once_per_copies_shares_only_runs_of_equal_rows() -> None:
    from spatialladder.train.video_grpo import once_per_copies

    red, blue = Image.new("RGB", (4, 4), (255, 0, 0)), Image.new("RGB", (4, 4), (0, 0, 255))
    row = {"prompt": [{"role": "user", "content": "q"}], "images": [red], "frames": np.zeros((2, 2))}
    same = {**row, "images": [red.copy()], "frames": np.zeros((2, 2))}  # equal content, other objects
    other_image = {**row, "images": [blue]}
    other_text = {**row, "prompt": [{"role": "user", "content": "r"}]}
    calls: list[int] = []
    out = once_per_copies([row, same, other_image, other_text, row], lambda r: calls.append(1) or object())
    assert len(calls) == 4 and out[0] is out[1] and len({id(o) for o in out[1:]}) == 4
