"""The widths of a Qwen2.5-VL checkpoint that set its parameter count, FLOPs and memory, read from ``config.json``
without loading any weights (the memory check before a run, the GPU acceptance run's arithmetic)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelShape:
    """The widths that set parameter counts, FLOPs and memory, read from a Qwen2.5-VL ``config.json``."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool
    v_depth: int
    v_hidden: int
    v_intermediate: int
    v_out: int
    patch: int
    temporal_patch: int
    merge: int
    window: int
    full_blocks: tuple[int, ...]
    dtype: str = "bfloat16"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        """Both layouts: the published one (text fields at the top) and transformers 5's ``text_config``."""
        text = {**config, **config.get("text_config", {})}
        vision = config["vision_config"]
        return cls(
            hidden=text["hidden_size"],
            layers=text["num_hidden_layers"],
            heads=text["num_attention_heads"],
            kv_heads=text["num_key_value_heads"],
            head_dim=text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"],
            intermediate=text["intermediate_size"],
            vocab=text["vocab_size"],
            tied=bool(config.get("tie_word_embeddings", text.get("tie_word_embeddings", False))),
            v_depth=vision["depth"],
            v_hidden=vision["hidden_size"],
            v_intermediate=vision["intermediate_size"],
            v_out=vision["out_hidden_size"],
            patch=vision["patch_size"],
            temporal_patch=vision["temporal_patch_size"],
            merge=vision["spatial_merge_size"],
            window=vision["window_size"],
            full_blocks=tuple(vision["fullatt_block_indexes"]),
            dtype=str(config.get("dtype") or config.get("torch_dtype") or text.get("torch_dtype") or "bfloat16"),
        )

    @property
    def text_layer_params(self) -> int:
        """q, k, v with biases, o without; gate/up/down; two RMSNorms."""
        h, kv = self.hidden, self.kv_heads * self.head_dim
        q = self.heads * self.head_dim
        return (h * q + q) + 2 * (h * kv + kv) + q * h + 3 * h * self.intermediate + 2 * h

    @property
    def text_body_params(self) -> int:
        """The decoder layers and the final norm: what every text position passes through besides the head."""
        return self.layers * self.text_layer_params + self.hidden

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def vision_block_params(self) -> int:
        """qkv and proj with biases, gate/up/down with biases, two RMSNorms."""
        vh, vi = self.v_hidden, self.v_intermediate
        return (vh * 3 * vh + 3 * vh) + (vh * vh + vh) + 2 * (vh * vi + vi) + (vi * vh + vh) + 2 * vh

    @property
    def merger_params(self) -> int:
        merged = self.v_hidden * self.merge**2
        return self.v_hidden + (merged * merged + merged) + (merged * self.v_out + self.v_out)

    @property
    def patch_embed_params(self) -> int:
        return self.v_hidden * 3 * self.temporal_patch * self.patch**2

    @property
    def total_params(self) -> int:
        head = 0 if self.tied else self.embedding_params
        vision = self.v_depth * self.vision_block_params + self.patch_embed_params + self.merger_params
        return self.text_body_params + self.embedding_params + head + vision

    @property
    def n_text(self) -> int:
        """Parameters a text position multiplies through: the body and the vocabulary head (the input embedding is
        a lookup); with tied embeddings the head is the embedding matrix, counted once."""
        return self.text_body_params + self.embedding_params

    @property
    def n_vision_patch(self) -> int:
        """Parameters per vision patch: every block, the patch embedding, and the merger once per 2×2 patches."""
        return self.v_depth * self.vision_block_params + self.patch_embed_params + self.merger_params // self.merge**2

    @property
    def d_attn(self) -> int:
        return self.heads * self.head_dim

    @property
    def window_patches(self) -> int:
        """Side of a vision attention window in merged units (112 px / 14 / 2 = 4)."""
        return self.window // self.patch // self.merge


def read_model_config(name_or_path: str) -> dict[str, Any] | None:
    """``config.json`` of a local folder, or of a Hub id already in the local Hub cache; None when neither has it
    (nothing is downloaded: the check that needs it is skipped and says so)."""
    local = Path(name_or_path) / "config.json"
    if local.is_file():
        return json.loads(local.read_text(encoding="utf-8"))
    if Path(name_or_path).exists() or name_or_path.count("/") != 1:
        return None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name_or_path, "config.json")
    return json.loads(Path(cached).read_text(encoding="utf-8")) if isinstance(cached, str) else None


def model_shape(name_or_path: str) -> ModelShape | None:
    """The shape of ``name_or_path`` when its ``config.json`` is at hand and describes a Qwen2.5-VL (see above)."""
    config = read_model_config(name_or_path)
    if config is None or "vision_config" not in config:
        return None
    try:
        return ModelShape.from_config(config)
    except KeyError:
        return None
