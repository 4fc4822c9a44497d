"""The published Qwen3-VL 2B/4B/8B-Instruct and Qwen3.5 0.8B/2B/4B settings, written down so real-shaped models of
the new families need no download (``make-tiny-model --like``; the Qwen2.5-VL ones are in ``qwen_published``).

Each table is the Hub file's content in the Hub's own key spelling (transformers reads the same keys from these dicts
as from the downloaded files). Where the values were read (no Hub access: public copies of the Hub files):

- ``Qwen/Qwen3-VL-4B-Instruct``: ``config.json``, ``preprocessor_config.json``, ``video_preprocessor_config.json``,
  ``tokenizer_config.json``, ``generation_config.json`` and the chat template, verbatim in ``sophgo/LLM-TPU``
  ``models/Qwen3_VL/config/`` (commit 2097a5a52ed5ae16826a4ffa02569de26a01499a; its README is the 4B-Instruct card).
  The same ``config.json`` is vendored in a Krea 2 text-encoder loader ("Vendored copy of the Qwen3-VL-4B-Instruct
  config.json"); both agree value for value.
- ``Qwen/Qwen3-VL-8B-Instruct``: ``NVIDIA/TensorRT-LLM`` ``tests/unittest/_torch/modeling/test_modeling_qwen3vl.py``
  (commit 04938813b3f573fda84cd28d499b2a539032d409, ``QWEN3_VL_8B_CONFIG``), which cuts ``num_hidden_layers`` to 4
  ("36 layers for full model", restored here) and adds ``_attn_implementation`` / ``_name_or_path`` (not Hub keys,
  left out). A HiDream-O1 test fixture and NVIDIA's Cosmos-Reason2-8B (a Qwen3-VL-8B fine-tune) carry the same widths.
- ``Qwen/Qwen3-VL-2B-Instruct``: no verbatim copy found. Widths and ids from a TensorRT bundle test quoting the Hub
  file "at 89644892e4d85e24eaac8bacfd4f463576704203" (text: 2048 hidden, 6144 intermediate, 16/8 heads, head_dim
  128, 28 layers, 262144 positions, rope_theta 5e6, vocab 151936; vision: hidden 1024, out 2048, deepstack
  [5, 11, 17], patch 16, merge 2, temporal 2) and an embedding engine's defaults "aligned with config.json" (tied
  embeddings, mrope [24, 20, 20], vision depth 24, intermediate 4096, 16 heads, 2304 positions); the keys neither
  quotes (dropout, initializer range, activations, dtype, ``transformers_version``) are the 4B file's. The vision
  tower equals the 4B's but for ``out_hidden_size`` (the text width).
- ``Qwen/Qwen3.5-0.8B``: ``config.json``, ``preprocessor_config.json``, ``video_preprocessor_config.json``,
  ``tokenizer_config.json`` and ``chat_template.jinja`` verbatim in ``sophgo/LLM-TPU`` ``models/Qwen3_5/config/``
  (commit 73fb020c87cdc3b38cae5ca33d88eeab19db0869; README = the 0.8B card); the same ``config.json`` was printed by
  ``curl https://huggingface.co/Qwen/Qwen3.5-0.8B/resolve/main/config.json`` in a public agent log. That folder
  has no ``generation_config.json``, and a HEAD request for Qwen3.5-4B's answered 404 (another public log): the
  Qwen3.5 checkpoints ship none.
- ``Qwen/Qwen3.5-2B``: the first 50 lines of the Hub ``config.json`` (``curl … | head -50`` in a public agent log:
  everything up to ``max_position_embeddings``: hidden 2048, intermediate 6144, head_dim 256, the 24 layer types,
  linear attention 16/16 heads of 128, conv 4) and the model card in the same log (8 Q / 2 KV heads, 24 layers,
  vocab 248320 padded, "LM Output: 248320 (Tied to token embedding)"). The rest follows the 0.8B file's layout.
  **Unconfirmed**: the vision tower (depth 24, hidden 1024, intermediate 4096, 16 heads, as the 4B's; its
  ``out_hidden_size`` 2048 is forced by the text width) — no copy of the 2B's ``vision_config`` was found.
- ``Qwen/Qwen3.5-4B``: a research note that read the Hub file (vision depth 24, hidden 1024, 16 heads, out 2560,
  2304 positions; text 32 layers, 3:1 linear/full, 16/4 heads, head_dim 256, linear 16 key / 32 value heads of 128,
  conv 4, intermediate 9216, vocab 248320, tied, mrope [11, 11, 10]), an implementation plan that fetched it (the
  same text fields, ``attn_output_gate`` true, eos 248044, rope_theta 1e7), and two copies of a 4B-shaped
  ``config.json`` (Chandra, a Qwen3.5-4B fine-tune, and a pinned ``vision_config``) for the vision intermediate size
  4096. The rest follows the 0.8B file's layout.

Tokenizers: Qwen3-VL's ``tokenizer_config.json`` (4B file above) has Qwen3's 26 added tokens 151643-151668 — the
first 14 special, then ``<tool_call>`` … ``</think>`` not special — so ``<think>`` and ``</think>`` are single ids
(151667, 151668), unlike Qwen2.5-VL's. Qwen3.5's (0.8B file above) has the same 26 at 248044-248069 plus seven
special audio/TTS tokens 248070-248076; ``<think>`` is 248068, ``</think>`` 248069, and ordinary BPE ids stop at
248043. Both set ``model_max_length`` 262144, eos ``<|im_end|>``, pad ``<|endoftext|>``. Chat templates: Qwen3-VL's
equals trl's ``qwen3_vl.jinja``; the 0.8B's equals trl's ``qwen3_5_nothink.jinja`` (compared byte for byte); trl's
chat_templates README states that Qwen3.5-2B and smaller ship the no-think template and 4B and larger the think one.

Processors (both families, both published folders): images ``size {longest_edge: 16777216, shortest_edge: 65536}``
(16-16,384 tokens of 32²), videos ``{longest_edge: 25165824, shortest_edge: 4096}`` (a budget over all frames),
patch 16, merge 2, temporal patch 2, mean/std 0.5; the other video settings (fps 2, ``do_sample_frames``, 4-768
frames) are ``Qwen3VLVideoProcessor``'s defaults, which the published file does not override.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

QWEN3_VL_4B_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen3VLForConditionalGeneration"],
    "image_token_id": 151655,
    "model_type": "qwen3_vl",
    "text_config": {
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "dtype": "bfloat16",
        "eos_token_id": 151645,
        "head_dim": 128,
        "hidden_act": "silu",
        "hidden_size": 2560,
        "initializer_range": 0.02,
        "intermediate_size": 9728,
        "max_position_embeddings": 262144,
        "model_type": "qwen3_vl_text",
        "num_attention_heads": 32,
        "num_hidden_layers": 36,
        "num_key_value_heads": 8,
        "rms_norm_eps": 1e-06,
        "rope_scaling": {"mrope_interleaved": True, "mrope_section": [24, 20, 20], "rope_type": "default"},
        "rope_theta": 5000000,
        "tie_word_embeddings": True,
        "use_cache": True,
        "vocab_size": 151936,
    },
    "tie_word_embeddings": True,
    "transformers_version": "4.57.0.dev0",
    "video_token_id": 151656,
    "vision_config": {
        "deepstack_visual_indexes": [5, 11, 17],
        "depth": 24,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": 1024,
        "in_channels": 3,
        "initializer_range": 0.02,
        "intermediate_size": 4096,
        "model_type": "qwen3_vl",
        "num_heads": 16,
        "num_position_embeddings": 2304,
        "out_hidden_size": 2560,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    },
    "vision_end_token_id": 151653,
    "vision_start_token_id": 151652,
}


def _derive(base: dict[str, Any], text: dict[str, Any], vision: dict[str, Any], **top: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(base)
    cfg["text_config"].update(text)
    cfg["vision_config"].update(vision)
    cfg.update(top)
    return cfg


QWEN3_VL_2B_CONFIG = _derive(
    QWEN3_VL_4B_CONFIG,
    dict(hidden_size=2048, intermediate_size=6144, num_attention_heads=16, num_key_value_heads=8, num_hidden_layers=28),
    dict(out_hidden_size=2048),
)
QWEN3_VL_8B_CONFIG = _derive(
    QWEN3_VL_4B_CONFIG,
    dict(hidden_size=4096, intermediate_size=12288, tie_word_embeddings=False),
    dict(
        deepstack_visual_indexes=[8, 16, 24], depth=27, hidden_size=1152, intermediate_size=4304, out_hidden_size=4096
    ),
    tie_word_embeddings=False,
)


def _layer_types(n: int, interval: int = 4) -> list[str]:
    return ["full_attention" if (i + 1) % interval == 0 else "linear_attention" for i in range(n)]


QWEN3_5_0_8B_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen3_5ForConditionalGeneration"],
    "image_token_id": 248056,
    "model_type": "qwen3_5",
    "text_config": {
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_output_gate": True,
        "dtype": "bfloat16",
        "eos_token_id": 248044,
        "full_attention_interval": 4,
        "head_dim": 256,
        "hidden_act": "silu",
        "hidden_size": 1024,
        "initializer_range": 0.02,
        "intermediate_size": 3584,
        "layer_types": _layer_types(24),
        "linear_conv_kernel_dim": 4,
        "linear_key_head_dim": 128,
        "linear_num_key_heads": 16,
        "linear_num_value_heads": 16,
        "linear_value_head_dim": 128,
        "max_position_embeddings": 262144,
        "mlp_only_layers": [],
        "model_type": "qwen3_5_text",
        "mtp_num_hidden_layers": 1,
        "mtp_use_dedicated_embeddings": False,
        "num_attention_heads": 8,
        "num_hidden_layers": 24,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "tie_word_embeddings": True,
        "use_cache": True,
        "vocab_size": 248320,
        "mamba_ssm_dtype": "float32",
        "rope_parameters": {
            "mrope_interleaved": True,
            "mrope_section": [11, 11, 10],
            "rope_type": "default",
            "rope_theta": 10000000,
            "partial_rotary_factor": 0.25,
        },
    },
    "tie_word_embeddings": True,
    "transformers_version": "4.57.0.dev0",
    "video_token_id": 248057,
    "vision_config": {
        "deepstack_visual_indexes": [],
        "depth": 12,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": 768,
        "in_channels": 3,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "model_type": "qwen3_5",
        "num_heads": 12,
        "num_position_embeddings": 2304,
        "out_hidden_size": 1024,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    },
    "vision_end_token_id": 248054,
    "vision_start_token_id": 248053,
}
"""The published file writes ``layer_types`` out in full: 6 × (3 × ``linear_attention``, ``full_attention``)."""

_QWEN3_5_TOWER_1024 = dict(depth=24, hidden_size=1024, intermediate_size=4096, num_heads=16)
QWEN3_5_2B_CONFIG = _derive(
    QWEN3_5_0_8B_CONFIG,
    dict(hidden_size=2048, intermediate_size=6144),
    dict(_QWEN3_5_TOWER_1024, out_hidden_size=2048),
)
QWEN3_5_4B_CONFIG = _derive(
    QWEN3_5_0_8B_CONFIG,
    dict(
        hidden_size=2560,
        intermediate_size=9216,
        num_attention_heads=16,
        num_key_value_heads=4,
        num_hidden_layers=32,
        layer_types=_layer_types(32),
        linear_num_value_heads=32,
    ),
    dict(_QWEN3_5_TOWER_1024, out_hidden_size=2560),
)

QWEN3_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
QWEN3_PLAIN_ADDED = (
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)
QWEN3_5_AUDIO_TOKENS = (
    "<|audio_start|>",
    "<|audio_end|>",
    "<tts_pad>",
    "<tts_text_bos>",
    "<tts_text_eod>",
    "<tts_text_bos_single>",
    "<|audio_pad|>",
)


def _added(first: int, specials: tuple[str, ...], plain: tuple[str, ...], tail: tuple[str, ...] = ()):
    tokens = [(t, True) for t in specials] + [(t, False) for t in plain] + [(t, True) for t in tail]
    return tuple((first + i, t, special) for i, (t, special) in enumerate(tokens))


QWEN3_VL_ADDED_TOKENS = _added(151643, QWEN3_SPECIAL_TOKENS, QWEN3_PLAIN_ADDED)
"""(id, content, special): 151643-151668, as Qwen3-VL's ``tokenizer_config.json`` ``added_tokens_decoder``."""
QWEN3_5_ADDED_TOKENS = _added(248044, QWEN3_SPECIAL_TOKENS, QWEN3_PLAIN_ADDED, QWEN3_5_AUDIO_TOKENS)
"""(id, content, special): 248044-248076, as Qwen3.5's ``tokenizer_config.json`` ``added_tokens_decoder``."""

TOKENIZER_SETTINGS: dict[str, Any] = {
    "bos_token": None,
    "eos_token": "<|im_end|>",
    "pad_token": "<|endoftext|>",
    "unk_token": None,
    "model_max_length": 262144,
    "additional_special_tokens": list(QWEN3_SPECIAL_TOKENS[1:]),
}
"""The rest of ``tokenizer_config.json`` that decides behaviour, the same in both families' files."""

QWEN3_5_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
"""Qwen3.5's ``tokenizer_config.json`` ``pretokenize_regex`` (= transformers' ``tokenization_qwen3_5.py``); Qwen3-VL
uses Qwen2's."""

PREPROCESSOR_CONFIG: dict[str, Any] = {
    "size": {"longest_edge": 16777216, "shortest_edge": 65536},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "processor_class": "Qwen3VLProcessor",
    "image_processor_type": "Qwen2VLImageProcessorFast",
}
"""``preprocessor_config.json``, identical in the Qwen3-VL-4B and Qwen3.5-0.8B folders."""
VIDEO_PREPROCESSOR_CONFIG: dict[str, Any] = {
    "size": {"longest_edge": 25165824, "shortest_edge": 4096},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "processor_class": "Qwen3VLProcessor",
    "video_processor_type": "Qwen3VLVideoProcessor",
}
"""``video_preprocessor_config.json``, identical in both folders."""

QWEN3_VL_GENERATION_CONFIG: dict[str, Any] = {
    "bos_token_id": 151643,
    "pad_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "top_k": 20,
    "top_p": 0.8,
    "repetition_penalty": 1.0,
    "temperature": 0.7,
}
"""Qwen3-VL-4B-Instruct's ``generation_config.json`` (used for 2B and 8B too: no copy of theirs was found)."""


@dataclass(frozen=True)
class Published:
    """One ``--like`` shape of the new families: the Hub checkpoint, its files and the template it ships."""

    hub_id: str
    family: str
    config: dict[str, Any]
    added_tokens: tuple[tuple[int, str, bool], ...]
    chat_template: str
    """The file (in this package) holding the chat template the checkpoint ships."""
    generation_config: dict[str, Any] | None = None
    unconfirmed: tuple[str, ...] = field(default=())
    """Config paths whose values no public copy confirmed (see the module docstring)."""

    @property
    def bpe_vocab_size(self) -> int:
        """Ordinary byte-level BPE ids sit below the first added token."""
        return self.added_tokens[0][0]


_QWEN3_5_2B_UNCONFIRMED = tuple(
    f"vision_config.{k}" for k in ("depth", "hidden_size", "intermediate_size", "num_heads")
)
QWEN3_LIKES: dict[str, Published] = {
    "qwen3-vl-2b": Published(
        "Qwen/Qwen3-VL-2B-Instruct",
        "qwen3-vl",
        QWEN3_VL_2B_CONFIG,
        QWEN3_VL_ADDED_TOKENS,
        "qwen3_vl_chat_template.jinja",
        QWEN3_VL_GENERATION_CONFIG,
    ),
    "qwen3-vl-4b": Published(
        "Qwen/Qwen3-VL-4B-Instruct",
        "qwen3-vl",
        QWEN3_VL_4B_CONFIG,
        QWEN3_VL_ADDED_TOKENS,
        "qwen3_vl_chat_template.jinja",
        QWEN3_VL_GENERATION_CONFIG,
    ),
    "qwen3-vl-8b": Published(
        "Qwen/Qwen3-VL-8B-Instruct",
        "qwen3-vl",
        QWEN3_VL_8B_CONFIG,
        QWEN3_VL_ADDED_TOKENS,
        "qwen3_vl_chat_template.jinja",
        QWEN3_VL_GENERATION_CONFIG,
    ),
    "qwen3.5-0.8b": Published(
        "Qwen/Qwen3.5-0.8B", "qwen3.5", QWEN3_5_0_8B_CONFIG, QWEN3_5_ADDED_TOKENS, "qwen3_5_nothink_chat_template.jinja"
    ),
    "qwen3.5-2b": Published(
        "Qwen/Qwen3.5-2B",
        "qwen3.5",
        QWEN3_5_2B_CONFIG,
        QWEN3_5_ADDED_TOKENS,
        "qwen3_5_nothink_chat_template.jinja",
        unconfirmed=_QWEN3_5_2B_UNCONFIRMED,
    ),
    "qwen3.5-4b": Published(
        "Qwen/Qwen3.5-4B", "qwen3.5", QWEN3_5_4B_CONFIG, QWEN3_5_ADDED_TOKENS, "qwen3_5_think_chat_template.jinja"
    ),
}
"""``--like`` name → the published checkpoint (Instruct for Qwen3-VL; Qwen3.5's post-trained releases)."""


def scaled_layer_types(layers: int, interval: int = 4) -> list[str]:
    """Qwen3.5's layer types for a text stack cut to ``layers``: the published pattern (every ``interval``-th layer
    full attention, the rest Gated DeltaNet), with the last layer made full attention when the cut keeps none, so
    any depth ≥ 2 has both kinds: 1 → [full], 2 → [linear, full], 3 → [linear, linear, full], 4 → the first 4
    published, 24 → the published 24."""
    types = _layer_types(layers, interval)
    if "full_attention" not in types:
        types[-1] = "full_attention"
    return types


def scaled_deepstack(indexes: list[int], published_depth: int, depth: int) -> list[int]:
    """DeepStack taps for a vision tower cut to ``depth`` blocks: each published tap moved to the same fraction of
    the depth, ``round((i + 1) · depth / published) - 1`` (at least 0), duplicates merged. The published depth gives
    the published taps ([5, 11, 17] of 24, [8, 16, 24] of 27); 12 of 24 gives [2, 5, 8]; 1 gives [0] (one
    merger, on the only block)."""
    return sorted({max(0, round((i + 1) * depth / published_depth) - 1) for i in indexes})


def shaped_qwen3_config(cfg: dict[str, Any], layers: int | None, vision_layers: int | None) -> dict[str, Any]:
    """``cfg`` (a deep copy of a published file) with only the two depths changed, and what follows from them."""
    text, vision = cfg["text_config"], cfg["vision_config"]
    if layers is not None:
        text["num_hidden_layers"] = layers
        if "layer_types" in text:
            text["layer_types"] = scaled_layer_types(layers, text.get("full_attention_interval", 4))
    if vision_layers is not None:
        if vision.get("deepstack_visual_indexes"):
            vision["deepstack_visual_indexes"] = scaled_deepstack(
                vision["deepstack_visual_indexes"], vision["depth"], vision_layers
            )
        vision["depth"] = vision_layers
    return cfg
