"""Random checkpoints with the published shapes, built offline (``make-tiny-model --like``): Qwen2.5-VL 3B/7B,
Qwen3-VL 2B/4B/8B and Qwen3.5 0.8B/2B/4B.

The 0.4 M-parameter tiny model hides every shape assumption: a width-64 model with a 400-token vocabulary never
allocates a 151,936-wide logits row or a 1280-wide vision block. These folders keep every published width, id and
processor setting (:mod:`spatialladder.testing.qwen_published`) and change only the two depths, so one text layer
and one vision block cost ~0.45 B parameters (3B) instead of 3.75 B, yet every tensor that scales with vocabulary,
width or pixels has its real size. Weights are random (seeded) and saved in bfloat16, the published dtype.

The tokenizer has the real length (Qwen2.5-VL 151,665; Qwen3-VL 151,669; Qwen3.5 248,077) with the added tokens at
their real ids and the real chat template; below them sit a byte-level BPE learned on our prompt words plus
unreachable filler entries up to the first added id (the real merges cannot be rebuilt without the download, and no
test depends on which ids plain words get). The new families' folders load through ``spatialladder.models.load``
like Hub checkpoints: ``AutoModelForImageTextToText``, ``Qwen3VLProcessor`` with the published pixel budgets.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

from spatialladder.testing import qwen3_published as q3
from spatialladder.testing.qwen_published import (
    ADDED_TOKENS,
    BPE_VOCAB_SIZE,
    GENERATION_CONFIG,
    PREPROCESSOR_CONFIG,
    TOKENIZER_SETTINGS,
    like_family,
    shaped_config,
)
from spatialladder.testing.tiny_qwen import chat_template, prompt_corpus

logger = logging.getLogger(__name__)

LEARNED_BPE_SIZE = 2000
"""Upper bound for the merges learned on the prompt corpus (it stops earlier: the corpus is small)."""


def _filler(index: int) -> str:
    """Vocabulary entry for an id no merge produces: byte-level text (``Ġ`` is a space) that decodes to a word."""
    return f"Ġw{index}"


def build_real_tokenizer(like: str = "qwen2.5-vl-3b") -> Any:
    """A Qwen2 tokenizer of ``like``'s real length whose added tokens have the published ids, flags and specials,
    with the chat template the checkpoint ships."""
    from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    if like in q3.QWEN3_LIKES:
        spec = q3.QWEN3_LIKES[like]
        added, bpe_size, settings = spec.added_tokens, spec.bpe_vocab_size, q3.TOKENIZER_SETTINGS
        template = resources.files("spatialladder.testing").joinpath(spec.chat_template).read_text("utf-8")
        regex = q3.QWEN3_5_PRETOKENIZE_REGEX if spec.family == "qwen3.5" else PRETOKENIZE_REGEX
    else:
        added, bpe_size, settings, template, regex = (
            ADDED_TOKENS,
            BPE_VOCAB_SIZE,
            TOKENIZER_SETTINGS,
            chat_template(),
            PRETOKENIZE_REGEX,
        )
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(regex), behavior="isolated"),
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
    for index in range(len(vocab), bpe_size):
        token = _filler(index)
        if token in vocab:
            raise RuntimeError(f"filler token {token!r} collides with a learned token")
        vocab[token] = index
    tk = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, bos_token=None, eos_token=None, pad_token=None)
    if regex is not PRETOKENIZE_REGEX:
        tk.backend_tokenizer.pre_tokenizer = bpe.pre_tokenizer
    tk.add_tokens([AddedToken(t, special=special, normalized=False) for _, t, special in added])
    tk.add_special_tokens(
        {
            "eos_token": settings["eos_token"],
            "pad_token": settings["pad_token"],
            "additional_special_tokens": list(settings["additional_special_tokens"]),
        }
    )
    tk.model_max_length = settings["model_max_length"]
    tk.chat_template = template
    wrong = [(t, i, tk.convert_tokens_to_ids(t)) for i, t, _ in added if tk.convert_tokens_to_ids(t) != i]
    if wrong or len(tk) != added[-1][0] + 1:
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


def build_qwen3_processor(tokenizer: Any) -> Any:
    """Qwen3-VL's processor (Qwen3.5's too: ``AutoProcessor`` maps ``qwen3_5`` to ``Qwen3VLProcessor``) with the
    published ``preprocessor_config.json`` and ``video_preprocessor_config.json``; every other setting is the class
    default, as in the published folders."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    def settings(published: dict[str, Any]) -> dict[str, Any]:
        keys = ("size", "patch_size", "temporal_patch_size", "merge_size", "image_mean", "image_std")
        return {k: published[k] for k in keys}

    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**settings(q3.PREPROCESSOR_CONFIG)),
        video_processor=Qwen3VLVideoProcessor(**settings(q3.VIDEO_PREPROCESSOR_CONFIG)),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )


def real_shaped_config(like: str, layers: int | None = None, vision_layers: int | None = None) -> Any:
    """transformers' config object read from the published ``config.json`` with only the depths changed."""
    from transformers import Qwen2_5_VLConfig, Qwen3_5Config, Qwen3VLConfig

    classes = {"qwen2.5-vl": Qwen2_5_VLConfig, "qwen3-vl": Qwen3VLConfig, "qwen3.5": Qwen3_5Config}
    shape = shaped_config(like, layers, vision_layers)
    return classes[like_family(like)](**shape)


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


def build_qwen3_like(
    out_dir: str | Path,
    like: str,
    layers: int | None = None,
    vision_layers: int | None = None,
    seed: int = 0,
) -> Path:
    """Write a random ``like``-shaped Qwen3-VL or Qwen3.5 (model, tokenizer, processor, generation config where the
    checkpoint ships one) to ``out_dir``; ``layers`` / ``vision_layers`` cut the two depths (None keeps them)."""
    config = real_shaped_config(like, layers, vision_layers)  # bad names and depths fail here
    import torch
    from transformers import AutoModelForImageTextToText

    spec = q3.QWEN3_LIKES[like]
    tokenizer = build_real_tokenizer(like)
    processor = build_qwen3_processor(tokenizer)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    for key, value in (spec.generation_config or {}).items():
        setattr(model.generation_config, key, value)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    if spec.generation_config is None:
        (out / "generation_config.json").unlink(missing_ok=True)  # the Qwen3.5 releases ship none
    processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info(
        "wrote random %s-shaped %s (%d text layers, %d vision blocks, %d parameters) to %s",
        like,
        spec.family,
        config.text_config.num_hidden_layers,
        config.vision_config.depth,
        n_params,
        out,
    )
    return out


def build_like(
    out_dir: str | Path,
    like: str,
    layers: int | None = None,
    vision_layers: int | None = None,
    seed: int = 0,
) -> Path:
    """``make-tiny-model --like``: the builder of ``like``'s family."""
    if like_family(like) == "qwen2.5-vl":
        return build_qwen2_5_vl_like(out_dir, like, layers=layers, vision_layers=vision_layers, seed=seed)
    return build_qwen3_like(out_dir, like, layers=layers, vision_layers=vision_layers, seed=seed)
