"""Real Qwen-family VLMs, tiny and random, built with no network: Qwen2.5-VL, Qwen3-VL and Qwen3.5.

Tests and the demo need the exact classes users train (``Qwen2_5_VLForConditionalGeneration``,
``Qwen3VLForConditionalGeneration``, ``Qwen3_5ForConditionalGeneration`` with their processors), but no model hub is
reachable. So we train a byte-level BPE tokenizer locally, give it Qwen's special tokens and the family's chat
template byte for byte (the released templates, as trl ships them in ``trl/chat_templates/``: trl recognises a
template only if it is identical), and build a random model a few hundred thousand parameters large with the
family's vision patch (14 or 16). The saved folder reloads with ``AutoProcessor`` / ``AutoModelForImageTextToText``
exactly like a Hub checkpoint.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
REASONING_TOKENS = ("<think>", "</think>", "<answer>", "</answer>")
"""Ordinary added tokens (not special), so decoding with ``skip_special_tokens=True`` keeps them, as in GRPO."""

TINY_MAX_PIXELS = 28 * 28 * 16
TINY_MIN_PIXELS = 28 * 28


CHAT_TEMPLATES = {
    "qwen2.5-vl": "qwen2_5_vl_chat_template.jinja",
    "qwen3-vl": "qwen3_vl_chat_template.jinja",
    "qwen3.5": "qwen3_5_nothink_chat_template.jinja",
}
"""Each family's released chat template (trl's ``qwen2_5_vl.jinja``, ``qwen3_vl.jinja`` and ``qwen3_5_nothink.jinja``,
the template Qwen3.5-0.8B/2B ship: thinking off in the generation prompt). tests/testing checks byte identity."""


def chat_template(family: str = "qwen2.5-vl") -> str:
    """The family's chat template, byte-identical to the released one (and to trl's copy)."""
    return resources.files("spatialladder.testing").joinpath(CHAT_TEMPLATES[family]).read_text("utf-8")


def prompt_corpus() -> list[str]:
    """Text the tokenizer learns merges from: the words our prompts, answers and categories use."""
    words = (
        "These are frames of a video. Answer the question using a single word or phrase. "
        "Answer with the option's letter from the given choices directly. Options: A. B. C. D. "
        "How many chair(s) are in this room? What is the length of the longest dimension (length, width, or height) "
        "of the table, measured in centimeters? What is the size of this room (in square meters)? "
        "If multiple rooms are shown, estimate the size of the combined space. Measuring from the closest point of "
        "each object, what is the direct distance between the sofa and the lamp (in meters)? Which of these objects "
        "is the closest to the bed? If I am standing by the door and facing the window, is the tv to my front-left, "
        "front-right, back-left, or back-right? left right back front What will be the first-time appearance order "
        "of the following categories in the video? Output the thinking process in <think> </think> and final answer "
        "in <answer> </answer> tags. Locate the objects in the image and output bbox_2d label json. "
        "door table chair trash bin window backpack pillow bed mirror lamp sofa refrigerator monitor radiator tv "
        "counter bookshelf towel nightstand telephone printer microwave plant keyboard clock closet fan washing "
        "machine oven mattress computer mouse guitar piano 0 1 2 3 4 5 6 7 8 9 10 25 100 1.5 3.2 [ ] { } , : . "
    )
    return [words] * 4 + [w for w in words.split()]


def build_tokenizer(vocab_size: int = 400, family: str = "qwen2.5-vl"):
    """A byte-level BPE tokenizer with Qwen2's pre-tokenizer, Qwen's special tokens and the family's chat template."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
        show_progress=False,
    )
    tok.train_from_iterator(prompt_corpus(), trainer)
    import json

    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tk = Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tk.add_special_tokens({"additional_special_tokens": list(QWEN_SPECIAL_TOKENS[1:])})
    tk.add_tokens(list(REASONING_TOKENS), special_tokens=False)
    tk.chat_template = chat_template(family)
    return tk


TINY_TEXT = dict(
    hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192
)
TINY_VISION = dict(
    depth=2, hidden_size=64, intermediate_size=128, num_heads=2, spatial_merge_size=2, temporal_patch_size=2,
    out_hidden_size=64,
)  # fmt: skip
"""The widths every tiny model shares (a few hundred thousand parameters); each family adds its own fields."""


def _token_ids(ids: dict[str, int]) -> dict[str, int]:
    return dict(bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])


def build_tiny_qwen2_5_vl(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a tiny random Qwen2.5-VL checkpoint (model + processor) to ``out_dir`` and return the path."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tk = build_tokenizer()
    size = {"shortest_edge": TINY_MIN_PIXELS, "longest_edge": TINY_MAX_PIXELS}
    common = dict(patch_size=14, temporal_patch_size=2, merge_size=2, size=size)
    image_processor = Qwen2VLImageProcessor(**common)
    video_processor = Qwen2VLVideoProcessor(fps=2.0, do_sample_frames=False, **common)
    processor = Qwen2_5_VLProcessor(
        image_processor=image_processor, tokenizer=tk, video_processor=video_processor, chat_template=chat_template()
    )
    ids = {t: tk.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    vocab_size = ((len(tk) + 63) // 64) * 64
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=vocab_size,
            num_hidden_layers=2,
            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
            **TINY_TEXT,
            **_token_ids(ids),
        ),
        vision_config=dict(
            patch_size=14, tokens_per_second=2, window_size=112, fullatt_block_indexes=[1], **TINY_VISION
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = tk.pad_token_id
    model.generation_config.bos_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out)
    processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("wrote tiny Qwen2.5-VL (%d parameters, vocab %d) to %s", n_params, len(tk), out)
    return out


def build_tiny(out_dir: str | Path, family: str = "qwen2.5-vl", seed: int = 0) -> Path:
    """A tiny random checkpoint of ``family`` (``qwen2.5-vl``, ``qwen3-vl`` or ``qwen3.5``) in ``out_dir``."""
    from spatialladder.models.families import family_named

    family_named(family)  # a one-line error for an unknown name
    builders = {"qwen2.5-vl": build_tiny_qwen2_5_vl, "qwen3-vl": build_tiny_qwen3_vl, "qwen3.5": build_tiny_qwen3_5}
    return builders[family](out_dir, seed=seed)


TINY_MIN_PIXELS_32 = 32 * 32
TINY_MAX_PIXELS_32 = 32 * 32 * 16
"""The same 1-16 merged tokens per image and per frame as the Qwen2.5-VL model, in the 32-pixel factor."""


def _qwen3_processor(tk: Any, family: str) -> Any:
    """Qwen3-VL's processor (Qwen3.5 uses the same: ``AutoProcessor`` maps ``qwen3_5`` to ``Qwen3VLProcessor``), patch
    16, frames never resampled by the processor (the records choose them)."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    size = {"shortest_edge": TINY_MIN_PIXELS_32, "longest_edge": TINY_MAX_PIXELS_32}
    common = dict(patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    image_processor = Qwen2VLImageProcessor(size=size, **common)
    video_processor = Qwen3VLVideoProcessor(size=size, fps=2.0, do_sample_frames=False, **common)
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tk,
        video_processor=video_processor,
        chat_template=chat_template(family),
    )


def _qwen3_parts(out_dir: str | Path, family: str) -> tuple[Path, Any, Any, dict[str, int]]:
    """The output folder, tokenizer, processor and special-token ids a Qwen3-family toy is built with."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tk = build_tokenizer(family=family)
    return out, tk, _qwen3_processor(tk, family), {t: tk.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}


def _save_tiny(model: Any, processor: Any, tk: Any, ids: dict[str, int], out: Path, name: str) -> Path:
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = tk.pad_token_id
    model.generation_config.bos_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out)
    processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("wrote tiny %s (%d parameters, vocab %d) to %s", name, n_params, len(tk), out)
    return out


def _vision_ids(ids: dict[str, int]) -> dict[str, int]:
    return dict(
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )


def build_tiny_qwen3_vl(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random Qwen3-VL: interleaved mRoPE, DeepStack after text layer 0, patch 16, tied head (as 2B/4B)."""
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    out, tk, processor, ids = _qwen3_parts(out_dir, "qwen3-vl")
    config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=((len(tk) + 63) // 64) * 64,
            num_hidden_layers=2,
            head_dim=16,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 5e6,
                "mrope_section": [2, 3, 3],
                "mrope_interleaved": True,
            },
            **TINY_TEXT,
            **_token_ids(ids),
        ),
        vision_config=dict(patch_size=16, num_position_embeddings=64, deepstack_visual_indexes=[0], **TINY_VISION),
        tie_word_embeddings=True,
        **_vision_ids(ids),
    )
    torch.manual_seed(seed)
    return _save_tiny(Qwen3VLForConditionalGeneration(config), processor, tk, ids, out, "Qwen3-VL")


def build_tiny_qwen3_5(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random Qwen3.5: 3 Gated DeltaNet layers then one full-attention layer (the published 3:1 pattern),
    partial rotary positions, Qwen3-VL's vision tower without DeepStack, the no-think template of the small models."""
    import torch
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration

    out, tk, processor, ids = _qwen3_parts(out_dir, "qwen3.5")
    config = Qwen3_5Config(
        text_config=dict(
            vocab_size=((len(tk) + 63) // 64) * 64,
            num_hidden_layers=4,
            head_dim=16,
            linear_key_head_dim=8,
            linear_value_head_dim=8,
            linear_num_key_heads=2,
            linear_num_value_heads=4,
            layer_types=["linear_attention"] * 3 + ["full_attention"],
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 1e7,
                "mrope_section": [1, 1, 2],
                "mrope_interleaved": True,
                "partial_rotary_factor": 0.5,
            },
            **TINY_TEXT,
            **_token_ids(ids),
        ),
        vision_config=dict(patch_size=16, num_position_embeddings=64, **TINY_VISION),
        tie_word_embeddings=True,
        **_vision_ids(ids),
    )
    torch.manual_seed(seed)
    return _save_tiny(Qwen3_5ForConditionalGeneration(config), processor, tk, ids, out, "Qwen3.5")
