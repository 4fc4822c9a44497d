"""The slow tier: the real entry points on a Qwen2.5-VL-3B-shaped model (1 text layer, 1 vision block) with frames
of ScanNet's full size and the paper's pixel budgets, on CPU. ``make test-slow``; excluded from ``make test``.

Random weights make the numbers predictable by hand: with ``initializer_range`` 0.02, tied embeddings and a final
RMSNorm, every logit is ``h·e_v`` with ``‖h‖² = 2048`` and ``e_v ~ N(0, 0.02²)``, i.e. i.i.d. N(0, σ²) with
σ² = 0.02² · 2048 = 0.8192 over V = 151,936 tokens, so the softmax entropy is ln V − σ²/2 = 11.5216 at every
position and the cross-entropy is ln V + σ²/2 = 12.3408 on average (± σ/√n over n scored tokens). Seconds and peak
RSS per step are measured; docs/benchmarks.md ("Real-shaped CPU tier") compares them with the memory arithmetic.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

GIB = 2**30
VOCAB = 151_936
SIGMA2 = 0.02**2 * 2048
ENTROPY = math.log(VOCAB) - SIGMA2 / 2  # 11.5216
CROSS_ENTROPY = math.log(VOCAB) + SIGMA2 / 2  # 12.3408
N_PARAMS_3B_L1 = 446_160_056  # checked against the widths in test_make_tiny_model_...
TRAIN_CPU = [
    "trainer.use_cpu=true",
    "trainer.max_steps=1",
    "trainer.dataloader_num_workers=0",
    "trainer.report_to=none",
    "trainer.save_strategy=no",
    "trainer.logging_steps=1",
    "trainer.disable_tqdm=true",
]
"""What the slow tier changes in the shipped GPU configs besides model, data and output: CPU, one step, no
workers/reporting/checkpoints. bf16, activation checkpointing, pixel budgets and learning rates stay as shipped."""
STAGE1 = "configs/train/stage1_localization.yaml"
STAGE2 = "configs/train/stage2_spatial.yaml"
STAGE3 = "configs/train/stage3_grpo.yaml"
VSIBENCH = "configs/eval/vsibench.yaml"


def qwen2_5_vl_params(
    h: int,
    inter: int,
    heads: int,
    kv: int,
    vocab: int,
    tied: bool,
    layers: int,
    vh: int,
    vinter: int,
    vout: int,
    vl: int,
) -> int:
    """Parameter count from the widths (q/k/v carry biases, o_proj none; vision linears all carry biases)."""
    head = h // heads
    text_layer = (h * h + h) + 2 * (h * kv * head + kv * head) + h * h + 3 * h * inter + 2 * h
    vision_block = (vh * 3 * vh + 3 * vh) + (vh * vh + vh) + 2 * (vh * vinter + vinter) + (vinter * vh + vh) + 2 * vh
    merged = vh * 4  # 2×2 merge
    merger = vh + (merged * merged + merged) + (merged * vout + vout)
    patch_embed = vh * 3 * 2 * 14 * 14
    return vocab * h * (1 if tied else 2) + layers * text_layer + h + vl * vision_block + patch_embed + merger


def changed_fraction(before: Path, after: Path, select: Any, rounded: bool = False) -> float:
    """Share of elements that differ between two safetensors files, over the tensors ``select(name)`` keeps;
    ``rounded``: ``after`` first rounded to ``before``'s dtype."""
    from safetensors import safe_open

    changed = total = 0
    with safe_open(str(before), "pt") as a, safe_open(str(after), "pt") as b:
        for name in a.keys():
            if select(name):
                x, y = a.get_tensor(name), b.get_tensor(name)
                y = y.to(x.dtype) if rounded else y
                changed += int((x != y).sum())
                total += x.numel()
    return changed / total


def last_log(result: dict[str, Any]) -> dict[str, Any]:
    return next(row for row in result["log_history"] if "loss" in row)


def test_make_tiny_model_has_the_published_3b_widths_and_runs_an_image(real_3b: Path) -> None:
    import torch
    from PIL import Image
    from transformers import AutoConfig

    from spatialladder.config.base import ModelSettings
    from spatialladder.models.load import load_model_and_processor
    from spatialladder.testing.qwen_published import ADDED_TOKENS, published_config

    published, config = published_config("qwen2.5-vl-3b"), AutoConfig.from_pretrained(real_3b)
    text, vision = config.text_config, config.vision_config
    for key in ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "vocab_size"):
        assert getattr(text, key) == published[key], key
    assert (text.num_hidden_layers, vision.depth, vision.fullatt_block_indexes) == (1, 1, [0])
    for key in ("hidden_size", "intermediate_size", "num_heads", "out_hidden_size", "window_size"):
        assert getattr(vision, key) == published["vision_config"][key], key

    loaded = load_model_and_processor(ModelSettings(name_or_path=str(real_3b)))
    model, processor = loaded.model, loaded.processor
    assert model.dtype == torch.bfloat16
    expected = qwen2_5_vl_params(2048, 11008, 16, 2, VOCAB, True, 1, 1280, 3420, 2048, 1)
    assert sum(p.numel() for p in model.parameters()) == expected == N_PARAMS_3B_L1
    assert model.lm_head.weight is model.model.language_model.embed_tokens.weight  # tied, as published
    attn = model.model.language_model.layers[0].self_attn
    assert (attn.q_proj.out_features, attn.k_proj.out_features) == (16 * 128, 2 * 128)  # 16 / 2 heads of 128
    tok = processor.tokenizer
    assert [tok.convert_tokens_to_ids(t) for _, t, _ in ADDED_TOKENS] == [i for i, _, _ in ADDED_TOKENS]
    assert (config.image_token_id, config.video_token_id) == (151655, 151656)

    chat = [{"role": "user", "content": [{"type": "image", "image": Image.new("RGB", (56, 56), (200, 30, 30))}]}]
    chat[0]["content"].append({"type": "text", "text": "What colour is it?"})
    enc = processor.apply_chat_template(chat, tokenize=True, return_dict=True, return_tensors="pt")
    assert enc["image_grid_thw"].tolist() == [[1, 4, 4]]  # 56×56 = 4×4 patches → 4 merged tokens
    assert int((enc["input_ids"] == 151655).sum()) == 4
    with torch.no_grad():
        logits = model(**enc).logits.float()
    assert logits.shape == (1, enc["input_ids"].shape[1], VOCAB)
    entropy = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)
    assert abs(entropy.mean().item() - ENTROPY) < 0.02


def test_stage1_step_at_100352_px_on_1296x968_frames(real_3b, full_size, run_probe, tmp_path) -> None:
    out = tmp_path / "stage1"
    result = run_probe(
        "sft",
        STAGE1,
        tmp_path,
        [
            f"model.name_or_path={real_3b}",
            f"data.files=[{full_size['grounding']}]",
            f"data.image_root={full_size['sft_images']}",
            f"output_dir={out}",
            "trainer.gradient_accumulation_steps=1",
            "trainer.warmup_steps=0",  # the first step at the full 1e-5 (a warmup starts at lr 0)
            *TRAIN_CPU,
        ],
        step="stage 1 SFT step (1 image 1296×968 → 100,352 px)",
    )
    assert result["global_step"] == 1
    # 1296×968 under 100,352 px: smart_resize → 252×364 → 18×26 patches, 117 merged tokens; with grad (training)
    assert [(c["grad"], c["grid_thw"]) for c in result["vision_calls"]] == [(True, [[1, 18, 26]])]
    log = last_log(result)
    assert abs(log["entropy"] - ENTROPY) < 0.01
    assert abs(log["loss"] - CROSS_ENTROPY) < 0.6  # a few σ/√n for the ~30 answer tokens scored
    assert log["learning_rate"] == pytest.approx(1e-5)
    # bf16 weights as shipped, but trained on fp32 master copies (train/sharding.py fp32_master_weights, as DeepSpeed
    # and FSDP keep): AdamW's first step moves every entry with a gradient by ~lr = 1e-5, so every matrix, RMSNorm
    # weight and bias moves in the (fp32) final folder. Rounded back to bf16, an entry keeps its move only if 1e-5
    # exceeds half its spacing, |w| < 2^-8: erf(2^-8 / (0.02·√2)) = 15.48 % of N(0, 0.02²) matrices, which is all a
    # step on bf16 weights themselves keeps; RMSNorm weights (1.0, half-spacing 2^-8) lose theirs.
    init, trained = real_3b / "model.safetensors", out / "model.safetensors"
    expected = math.erf(2**-8 / (0.02 * math.sqrt(2)))

    def matrix(n: str) -> bool:
        return n.endswith(".weight") and "norm" not in n and "embed" not in n

    assert changed_fraction(init, trained, matrix) > 0.999
    assert abs(changed_fraction(init, trained, matrix, rounded=True) - expected) < 0.003
    assert changed_fraction(init, trained, lambda n: "norm" in n and n.endswith(".weight")) == 1.0
    assert changed_fraction(init, trained, lambda n: "norm" in n and n.endswith(".weight"), rounded=True) == 0.0
    assert changed_fraction(init, trained, lambda n: n.endswith(".bias")) == 1.0
    assert result["peak_rss_bytes"] < 9 * GIB  # fp32 master weights + AdamW state: docs/benchmarks.md


def test_stage2_step_on_a_mixed_single_multi_view_video_batch(real_3b, full_size, run_probe, tmp_path) -> None:
    result = run_probe(
        "sft",
        STAGE2,
        tmp_path,
        [
            f"model.name_or_path={real_3b}",
            f"data.files=[{full_size['spatial']}]",
            f"data.image_root={full_size['sft_images']}",
            f"output_dir={tmp_path / 'stage2'}",
            "trainer.gradient_accumulation_steps=3",  # one optimizer step over the three records, batch 1 each
            *TRAIN_CPU,
        ],
        step="stage 2 SFT step (1 image + 4 views + 8-frame video, grad accumulation 3)",
    )
    assert result["global_step"] == 1
    grids = sorted((c["grid_thw"] for c in result["vision_calls"]), key=lambda g: (len(g), g))
    # single image 18×26; 8 video frames = 4 temporal patches of 2 frames; 4 views = 4 images of 18×26
    assert grids == [[[1, 18, 26]], [[4, 18, 26]], [[1, 18, 26]] * 4]
    assert all(c["grad"] for c in result["vision_calls"])
    assert abs(last_log(result)["entropy"] - ENTROPY) < 0.01
    assert result["peak_rss_bytes"] < 9.5 * GIB  # fp32 master weights + AdamW state: docs/benchmarks.md


def test_grpo_step_with_a_video_row_runs_the_vision_tower_in_the_loss(real_3b, full_size, run_probe, tmp_path) -> None:
    result = run_probe(
        "grpo",
        STAGE3,
        tmp_path,
        [
            f"model.name_or_path={real_3b}",
            f"data.files=[{full_size['grpo_video']}]",
            f"data.image_root={full_size['grpo_images']}",
            f"output_dir={tmp_path / 'stage3'}",
            "sampling.max_completion_length=8",
            *TRAIN_CPU,
        ],
        step="GRPO step (1 video row of 4 frames × 4 completions of 8 tokens, β 0.01)",
    )
    assert result["global_step"] == 1 and result["rows"] == {"single_image": 0, "multi_view": 0, "video": 1}
    video = [[2, 18, 26]] * 4  # 4 completions of one 4-frame video (2 temporal patches)
    calls = result["vision_calls"]
    with_grad = [c for c in calls if c["grad"]]
    assert [c["grid_thw"] for c in with_grad] == [video]  # the loss pass saw the video, with autograd on
    policy = with_grad[0]["model"]
    assert [c["grid_thw"] for c in calls if c["model"] == policy and not c["grad"]] == [video]  # the rollout
    assert [c["grid_thw"] for c in calls if c["model"] != policy] == [video]  # the KL reference (β = 0.01)
    log = last_log(result)
    assert log["completions/mean_length"] == 8 and abs(log["entropy"] - ENTROPY) < 0.01
    assert result["peak_rss_bytes"] < 10.5 * GIB  # fp32 master weights + AdamW state: docs/benchmarks.md


def test_eval_batch_at_32_frames_and_401408_px(real_3b, full_size, run_probe, tmp_path) -> None:
    out = tmp_path / "eval"
    result = run_probe(
        "eval",
        VSIBENCH,
        tmp_path,
        [
            f"model.name_or_path={real_3b}",
            f"data_dir={full_size['vsibench']}",
            f"output_dir={out}",
            "batch_size=2",
            "generation.max_new_tokens=8",
        ],
        step="eval batch (2 questions, 32 frames 1296×968 → 401,408 px, official input protocol)",
    )
    scores = result["results"]
    assert scores["n"] == 2 and scores["settings"]["input_protocol"]["name"] == "official"
    # official protocol: 1296×968 LANCZOS to int(√(P·ar)) × int(√(P/ar)) = 733×547, qwen-vl-utils rounds to
    # 728×560 (407,680 px > P), smart_resize under P = 401,408 → 700×532 = 50×38 patches; 32 frames → 16 × 2
    assert scores["vision_grids"]["video_grid_thw"] == {"16x38x50": 2}
    assert result["vision_calls"] and all(
        not c["grad"] and c["grid_thw"] == [[16, 38, 50]] for c in result["vision_calls"]
    )
    predictions = (out / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == 2
    assert result["peak_rss_bytes"] < 6 * GIB


NEW_FAMILIES = [("qwen3-vl-2b", "configs/train/qwen3vl_2b"), ("qwen3.5-2b", "configs/train/qwen3.5_2b")]
"""The shipped ladders of the new families (issue 19): Qwen3-VL-2B and Qwen3.5-2B, 1 text layer and 1 vision block
each (Qwen3.5's one kept layer is full attention: ``qwen_published.scaled_layer_types``)."""


@pytest.mark.parametrize(("like", "configs"), NEW_FAMILIES)
def test_new_family_stage2_step_with_a_video_at_the_familys_budget(
    like, configs, real_like, full_size, run_probe, tmp_path
) -> None:
    """Stage 2 of the family's shipped ladder: 1296×968 frames under 128·32² px per image and per frame."""
    result = run_probe(
        "sft",
        f"{configs}/stage2_spatial.yaml",
        tmp_path,
        [
            f"model.name_or_path={real_like(like)}",
            f"data.files=[{full_size['spatial']}]",
            f"data.image_root={full_size['sft_images']}",
            f"output_dir={tmp_path / 'stage2'}",
            "trainer.gradient_accumulation_steps=3",
            *TRAIN_CPU,
        ],
        step=f"{like} stage 2 SFT step (1 image + 4 views + 8-frame video at 131,072 px, grad accumulation 3)",
    )
    assert result["global_step"] == 1
    grids = sorted((c["grid_thw"] for c in result["vision_calls"]), key=lambda g: (len(g), g))
    # 1296×968 under 131,072 px: smart_resize with factor 32 → 288×416 → 18×26 patches of 16 px, per image and per
    # frame (models/load.py makes max_pixels per frame for the Qwen3 video processor); 8 frames → 4 temporal patches
    assert grids == [[[1, 18, 26]], [[4, 18, 26]], [[1, 18, 26]] * 4]
    assert all(c["grad"] for c in result["vision_calls"])
    assert result["peak_rss_bytes"] < 16 * GIB


@pytest.mark.parametrize(("like", "configs"), NEW_FAMILIES)
def test_new_family_grpo_step_with_a_video_row(like, configs, real_like, full_size, run_probe, tmp_path) -> None:
    result = run_probe(
        "grpo",
        f"{configs}/stage3_grpo.yaml",
        tmp_path,
        [
            f"model.name_or_path={real_like(like)}",
            f"data.files=[{full_size['grpo_video']}]",
            f"data.image_root={full_size['grpo_images']}",
            f"output_dir={tmp_path / 'stage3'}",
            "sampling.max_completion_length=8",
            *TRAIN_CPU,
        ],
        step=f"{like} GRPO step (1 video row of 4 frames × 4 completions of 8 tokens, β 0.01)",
    )
    assert result["global_step"] == 1 and result["rows"] == {"single_image": 0, "multi_view": 0, "video": 1}
    video = [[2, 18, 26]] * 4  # 4 completions of one 4-frame video (2 temporal patches)
    with_grad = [c for c in result["vision_calls"] if c["grad"]]
    assert [c["grid_thw"] for c in with_grad] == [video]  # the loss pass saw the video, with autograd on
    assert last_log(result)["completions/mean_length"] == 8
    assert result["peak_rss_bytes"] < 18 * GIB
