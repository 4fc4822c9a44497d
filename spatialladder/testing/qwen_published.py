"""The published Qwen2.5-VL-3B/7B-Instruct settings, written down so real-shaped models need no download, and the one
list of ``--like`` names (Qwen3-VL and Qwen3.5 shapes: ``qwen3_published``).

Each table is the Hub file's content, value for value, in the Hub's own key spelling (transformers reads the same
keys from these dicts as from the downloaded files). Where the values were read:

- ``config.json`` of ``Qwen/Qwen2.5-VL-3B-Instruct`` and ``Qwen/Qwen2.5-VL-7B-Instruct`` as first published
  (``transformers_version`` 4.41.2; key order ``bos_token_id, eos_token_id, vision_start_token_id, ...``): verbatim
  copies of both files in public repositories (a 3B model-zoo note that prints the config; a 7B layer-pruning note
  that starts from the downloaded ``Qwen2.5-VL-7B-Instruct/config.json``). Widths, depths, token ids, rope and
  window values agree with later Hub re-saves: ``Qwen/Qwen2.5-VL-7B-Instruct-AWQ`` (4.49.0.dev0), a duplicate of
  the 3B with ``_name_or_path`` ``Qwen/Qwen2.5-VL-3B-Instruct`` (4.49.0.dev0) and 4.52/4.53 re-saves of both.
- ``tokenizer_config.json`` ``added_tokens_decoder`` (ids 151643-151664, 22 tokens; the first 14 special, the tool
  and fill-in-the-middle ones not) and its ``eos_token`` / ``pad_token`` / ``model_max_length``: the Qwen2-family
  file that Qwen2.5-VL ships (a printed ``Qwen2.5-VL-7B-Instruct`` processor shows ``vocab_size=151643``,
  ``model_max_length=131072`` and the same specials). There is no ``<think>`` or ``<answer>`` token in it: the
  real tokenizer reads those tags as ordinary text.
- ``preprocessor_config.json`` (min/max pixels, patch 14, merge 2, temporal patch 2, CLIP mean/std, bicubic) and
  ``generation_config.json``: the Hub files as printed by ``AutoProcessor`` and copied into several public
  projects; the SpatialLadder eval notes quote the same sampling values (top_k 1, top_p 0.001, penalty 1.05).
"""

from __future__ import annotations

import copy
from typing import Any

from spatialladder.errors import ConfigError
from spatialladder.testing.qwen3_published import QWEN3_LIKES, shaped_qwen3_config

QWEN2_5_VL_3B_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen2_5_VLForConditionalGeneration"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "vision_token_id": 151654,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 11008,
    "max_position_embeddings": 128000,
    "max_window_layers": 70,
    "model_type": "qwen2_5_vl",
    "num_attention_heads": 16,
    "num_hidden_layers": 36,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vision_config": {
        "depth": 32,
        "hidden_act": "silu",
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "in_chans": 3,
        "out_hidden_size": 2048,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "spatial_patch_size": 14,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "tokens_per_second": 2,
        "temporal_patch_size": 2,
    },
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "vocab_size": 151936,
}

QWEN2_5_VL_7B_CONFIG: dict[str, Any] = {
    **copy.deepcopy(QWEN2_5_VL_3B_CONFIG),
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "max_window_layers": 28,
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "tie_word_embeddings": False,
    "vocab_size": 152064,
}
QWEN2_5_VL_7B_CONFIG["vision_config"]["out_hidden_size"] = 3584

PUBLISHED_CONFIGS: dict[str, dict[str, Any]] = {
    "qwen2.5-vl-3b": QWEN2_5_VL_3B_CONFIG,
    "qwen2.5-vl-7b": QWEN2_5_VL_7B_CONFIG,
    **{like: p.config for like, p in QWEN3_LIKES.items()},
}
"""``--like`` name → the Hub ``config.json`` of the checkpoint (Instruct for Qwen2.5-VL and Qwen3-VL)."""


def like_family(like: str) -> str:
    """The model family (``models/families`` name) of a ``--like`` shape."""
    published_config(like)  # a one-line error for an unknown name
    return QWEN3_LIKES[like].family if like in QWEN3_LIKES else "qwen2.5-vl"


ADDED_TOKENS: tuple[tuple[int, str, bool], ...] = (
    (151643, "<|endoftext|>", True),
    (151644, "<|im_start|>", True),
    (151645, "<|im_end|>", True),
    (151646, "<|object_ref_start|>", True),
    (151647, "<|object_ref_end|>", True),
    (151648, "<|box_start|>", True),
    (151649, "<|box_end|>", True),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False),
    (151660, "<|fim_middle|>", False),
    (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False),
    (151663, "<|repo_name|>", False),
    (151664, "<|file_sep|>", False),
)
"""``tokenizer_config.json`` ``added_tokens_decoder``: (id, content, special), the same for 3B and 7B."""

BPE_VOCAB_SIZE = 151643
"""Ordinary byte-level BPE ids 0..151642 sit below the added tokens; ``len(tokenizer)`` is 151,665."""

TOKENIZER_SETTINGS: dict[str, Any] = {
    "bos_token": None,
    "eos_token": "<|im_end|>",
    "pad_token": "<|endoftext|>",
    "unk_token": None,
    "model_max_length": 131072,
    "additional_special_tokens": [t for i, t, special in ADDED_TOKENS if special and i != 151643],
}
"""The rest of ``tokenizer_config.json`` that decides behaviour (``additional_special_tokens`` lists the 13
specials after ``<|endoftext|>``)."""

PREPROCESSOR_CONFIG: dict[str, Any] = {
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2_5_VLProcessor",
}
"""``preprocessor_config.json`` (3B and 7B alike); ``resample`` 3 is PIL bicubic, the image processor's default."""

GENERATION_CONFIG: dict[str, Any] = {
    "bos_token_id": 151643,
    "pad_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "repetition_penalty": 1.05,
    "temperature": 0.1,
    "top_p": 0.001,
    "top_k": 1,
}
"""``generation_config.json`` (3B and 7B alike): sampling with top_k 1, i.e. greedy with a repetition penalty."""

FULL_ATTENTION_SHARE = 8
"""One vision block in eight attends over the whole image (7, 15, 23, 31 of 32); the rest within 112-px windows."""


def scaled_fullatt_blocks(depth: int) -> list[int]:
    """Full-attention blocks for a vision tower cut to ``depth`` blocks, keeping the published pattern.

    Rule: ``n = max(1, round(depth / 8))`` blocks keep full attention (the published one in eight, at least one), at
    the ends of ``n`` equal spans: block ``round((k + 1) * depth / n) - 1`` for ``k < n``. So the last block is
    always full attention, 32 gives the published [7, 15, 23, 31], 16 gives [7, 15], 2 gives [1] (one window block,
    then one full block) and 1 gives [0] (that single block attends fully; windowed attention needs depth ≥ 2).
    """
    if depth < 1:
        raise ConfigError(f"--vision-layers {depth}: expected at least 1 block")
    n = max(1, round(depth / FULL_ATTENTION_SHARE))
    return sorted({round((k + 1) * depth / n) - 1 for k in range(n)})


def published_config(like: str) -> dict[str, Any]:
    """A deep copy of the Hub ``config.json`` for ``like`` (one of ``PUBLISHED_CONFIGS``)."""
    if like not in PUBLISHED_CONFIGS:
        raise ConfigError(f"--like {like}: expected one of {', '.join(PUBLISHED_CONFIGS)}")
    return copy.deepcopy(PUBLISHED_CONFIGS[like])


def shaped_config(like: str, layers: int | None = None, vision_layers: int | None = None) -> dict[str, Any]:
    """The published config with only the two depths changed and what follows from them: Qwen2.5-VL's full-attention
    blocks, Qwen3-VL's DeepStack taps and Qwen3.5's layer types, each scaled to the kept depth."""
    cfg = published_config(like)
    if layers is not None and layers < 1:
        raise ConfigError(f"--layers {layers}: expected at least 1")
    if vision_layers is not None and vision_layers < 1:
        raise ConfigError(f"--vision-layers {vision_layers}: expected at least 1 block")
    if like in QWEN3_LIKES:
        return shaped_qwen3_config(cfg, layers, vision_layers)
    if layers is not None:
        cfg["num_hidden_layers"] = layers
    if vision_layers is not None:
        cfg["vision_config"]["depth"] = vision_layers
        cfg["vision_config"]["fullatt_block_indexes"] = scaled_fullatt_blocks(vision_layers)
    return cfg
