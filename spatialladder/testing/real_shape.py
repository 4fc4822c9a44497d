"""Random Qwen2.5-VL checkpoints with the published 3B/7B shapes, built offline (``make-tiny-model --like``).

The 0.4 M-parameter tiny model hides every shape assumption: a width-64 model with a 400-token vocabulary never
allocates a 151,936-wide logits row or a 1280-wide vision block. These folders keep every published width, id and
processor setting (:mod:`spatialladder.testing.qwen_published`) and change only the two depths, so one text layer
and one vision block cost ~0.45 B parameters (3B) instead of 3.75 B, yet every tensor that scales with vocabulary,
width or pixels has its real size. Weights are random (seeded) and saved in bfloat16, the published dtype.

The tokenizer has the real length (151,665) with the 22 added tokens at their real ids and the real chat template;
below them sit a byte-level BPE learned on our prompt words plus unreachable filler entries up to id 151,642
(the real merges cannot be rebuilt without the download, and no test depends on which ids plain words get).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from spatialladder.testing.qwen_published import (
    ADDED_TOKENS,
    BPE_VOCAB_SIZE,
    GENERATION_CONFIG,
    PREPROCESSOR_CONFIG,
    TOKENIZER_SETTINGS,
    shaped_config,
)
from spatialladder.testing.tiny_qwen import chat_template, prompt_corpus

logger = logging.getLogger(__name__)

LEARNED_BPE_SIZE = 2000
"""Upper bound for the merges learned on the prompt corpus (it stops earlier: the corpus is small)."""


def _filler(index: int) -> str:
    """Vocabulary entry for an id no merge produces: byte-level text (``Ġ`` is a space) that decodes to a word."""
    return f"Ġw{index}"


def build_real_tokenizer() -> Any:
    """A Qwen2 tokenizer of the real length whose added tokens have the published ids, flags and specials."""
    from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=LEARNED_BPE_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(prompt_corpus(), trainer)
    learned = json.loads(bpe.to_str())["model"]
    vocab: dict[str, int] = dict(learned["vocab"])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in learned["merges"]]
    for index in range(len(vocab), BPE_VOCAB_SIZE):
        token = _filler(index)
        if token in vocab:
            raise RuntimeError(f"filler token {token!r} collides with a learned token")
        vocab[token] = index
    tk = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, bos_token=None, eos_token=None, pad_token=None)
    tk.add_tokens([AddedToken(t, special=special, normalized=False) for _, t, special in ADDED_TOKENS])
    tk.add_special_tokens(
        {
            "eos_token": TOKENIZER_SETTINGS["eos_token"],
            "pad_token": TOKENIZER_SETTINGS["pad_token"],
            "additional_special_tokens": list(TOKENIZER_SETTINGS["additional_special_tokens"]),
        }
    )
    tk.model_max_length = TOKENIZER_SETTINGS["model_max_length"]
    tk.chat_template = chat_template()
    wrong = [(t, i, tk.convert_tokens_to_ids(t)) for i, t, _ in ADDED_TOKENS if tk.convert_tokens_to_ids(t) != i]
    if wrong or len(tk) != ADDED_TOKENS[-1][0] + 1:
        raise RuntimeError(f"real-shaped tokenizer: added tokens at the wrong ids {wrong[:3]} (length {len(tk)})")
    return tk


def build_real_processor(tokenizer: Any) -> Any:
    """Qwen2.5-VL processor with the published preprocessor settings, for images and videos alike (transformers
    builds the video processor of the Hub checkpoint from the same ``preprocessor_config.json``)."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    p = PREPROCESSOR_CONFIG
    common = dict(
        min_pixels=p["min_pixels"],
        max_pixels=p["max_pixels"],
        patch_size=p["patch_size"],
        temporal_patch_size=p["temporal_patch_size"],
        merge_size=p["merge_size"],
        image_mean=p["image_mean"],
        image_std=p["image_std"],
        resample=p["resample"],
    )
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**common),
        video_processor=Qwen2VLVideoProcessor(**common),
        tokenizer=tokenizer,
        chat_template=chat_template(),
    )


def real_shaped_config(like: str, layers: int | None = None, vision_layers: int | None = None) -> Any:
    """transformers' config object read from the published ``config.json`` with only the depths changed."""
    from transformers import Qwen2_5_VLConfig

    return Qwen2_5_VLConfig(**shaped_config(like, layers, vision_layers))


def build_qwen2_5_vl_like(
    out_dir: str | Path,
    like: str = "qwen2.5-vl-3b",
    layers: int | None = None,
    vision_layers: int | None = None,
    seed: int = 0,
) -> Path:
    """Write a random ``like``-shaped Qwen2.5-VL (model, tokenizer, processor, generation config) to ``out_dir``.

    ``layers`` / ``vision_layers`` cut the text and vision depths (None keeps the published 36/28 and 32).
    """
    shape = shaped_config(like, layers, vision_layers)  # bad names and depths fail here, before torch loads
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    config = Qwen2_5_VLConfig(**shape)
    tokenizer = build_real_tokenizer()
    processor = build_real_processor(tokenizer)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    for key, value in GENERATION_CONFIG.items():
        setattr(model.generation_config, key, value)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info(
        "wrote random %s-shaped Qwen2.5-VL (%d text layers, %d vision blocks, %d parameters) to %s",
        like,
        config.text_config.num_hidden_layers,
        config.vision_config.depth,
        n_params,
        out,
    )
    return out
