"""The widths of a checkpoint that set its parameter count, FLOPs and memory, read from ``config.json`` without
loading any weights (the memory check before a run, the GPU acceptance run's arithmetic), for the dense models of
each family: Qwen2.5-VL, Qwen3-VL (DeepStack mergers, learned position table, no windowed attention) and Qwen3.5
(Gated DeltaNet and gated full-attention layers, head_dim 256). The counts follow transformers' modeling files
(``qwen2_5_vl``, ``qwen3_vl``, ``qwen3_5``) and equal a meta-device count of the real model class
(tests/models/test_shape.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialladder.errors import ModelLoadError
from spatialladder.models.families import ModelFamily, family_for

DENSE_MODEL_TYPES = ("qwen2_5_vl", "qwen3_vl", "qwen3_5")
"""What :class:`ModelShape` counts; the MoE variants (``qwen3_vl_moe``, ``qwen3_5_moe``) are not counted."""


@dataclass(frozen=True)
class ModelShape:
    """The widths that set parameter counts, FLOPs and memory, read from a ``config.json`` (dense models).

    The fields after ``dtype`` are zero / Qwen2.5-VL for a Qwen2.5-VL checkpoint, so its shape and arithmetic are
    what they were before the other families came.
    """

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
    family: str = "qwen2.5-vl"
    """The model family (``models/families`` name): which modeling file's layers are counted."""
    deepstack: int = 0
    """Qwen3-VL's DeepStack mergers (one per ``deepstack_visual_indexes`` entry)."""
    v_positions: int = 0
    """Rows of the Qwen3-VL / Qwen3.5 tower's learned position table (``num_position_embeddings``)."""
    linear_layers: int = 0
    """Qwen3.5's Gated DeltaNet layers (``layer_types`` ``linear_attention``); the other layers attend fully."""
    linear_key_heads: int = 0
    linear_value_heads: int = 0
    linear_key_dim: int = 0
    linear_value_dim: int = 0
    linear_conv: int = 0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        """Both layouts: the published one (text fields at the top) and transformers 5's ``text_config``. A family
        other than Qwen2.5-VL, or an MoE variant, raises ``ModelLoadError`` / ``KeyError`` when it cannot be
        counted."""
        model_type = config.get("model_type")
        family = family_for(config, "config.json")  # one-line refusal listing the families
        if model_type not in DENSE_MODEL_TYPES:
            raise ModelLoadError(f"config.json: model_type {model_type!r}: parameters counted for dense models only")
        text = {**config, **config.get("text_config", {})}
        vision = config["vision_config"]
        dtype = config.get("dtype") or config.get("torch_dtype") or text.get("dtype") or text.get("torch_dtype")
        common = dict(
            hidden=text["hidden_size"],
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
            dtype=str(dtype or "bfloat16"),
        )
        if family.name == "qwen2.5-vl":
            return cls(
                layers=text["num_hidden_layers"],
                window=vision["window_size"],
                full_blocks=tuple(vision["fullatt_block_indexes"]),
                **common,
            )
        return cls._from_qwen3_config(text, vision, family.name, common)

    @classmethod
    def _from_qwen3_config(
        cls, text: dict[str, Any], vision: dict[str, Any], family: str, common: dict[str, Any]
    ) -> ModelShape:
        """Qwen3-VL and Qwen3.5: no windowed vision attention (every block full); Qwen3.5's ``layer_types`` (or,
        without them, every ``full_attention_interval``-th layer) attend fully, the others are Gated DeltaNet."""
        layers = text["num_hidden_layers"]
        linear = 0
        if family == "qwen3.5":
            types = text.get("layer_types") or [
                "full_attention" if (i + 1) % text.get("full_attention_interval", 4) == 0 else "linear_attention"
                for i in range(layers)
            ]
            linear = sum(t == "linear_attention" for t in types)
        return cls(
            layers=layers,
            window=0,
            full_blocks=tuple(range(vision["depth"])),
            family=family,
            deepstack=len(vision.get("deepstack_visual_indexes") or []) if family == "qwen3-vl" else 0,
            v_positions=vision["num_position_embeddings"],
            linear_layers=linear,
            linear_key_heads=text.get("linear_num_key_heads", 0) if linear else 0,
            linear_value_heads=text.get("linear_num_value_heads", 0) if linear else 0,
            linear_key_dim=text.get("linear_key_head_dim", 0) if linear else 0,
            linear_value_dim=text.get("linear_value_head_dim", 0) if linear else 0,
            linear_conv=text.get("linear_conv_kernel_dim", 0) if linear else 0,
            **common,
        )

    @property
    def text_layer_params(self) -> int:
        """One decoder layer (for Qwen3.5 the larger of its two kinds: the working set gathered per layer).
        Qwen2.5-VL: q, k, v with biases, o without; gate/up/down; two RMSNorms."""
        if self.family != "qwen2.5-vl":
            return max(self.full_attention_layer_params, self.linear_attention_layer_params)
        h, kv = self.hidden, self.kv_heads * self.head_dim
        q = self.heads * self.head_dim
        return (h * q + q) + 2 * (h * kv + kv) + q * h + 3 * h * self.intermediate + 2 * h

    @property
    def full_attention_layer_params(self) -> int:
        """A Qwen3-VL / Qwen3.5 full-attention layer: q, k, v, o without biases (``attention_bias`` false), Qwen3.5's
        q projection twice as wide (query and output gate, ``Qwen3_5Attention``), RMSNorms over q and k heads
        (``q_norm``, ``k_norm``), gate/up/down, two RMSNorms."""
        h, q, kv = self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim
        q_out = 2 * q if self.family == "qwen3.5" else q
        return h * q_out + 2 * h * kv + q * h + 2 * self.head_dim + 3 * h * self.intermediate + 2 * h

    @property
    def linear_attention_layer_params(self) -> int:
        """A Qwen3.5 Gated DeltaNet layer (``Qwen3_5GatedDeltaNet``): ``in_proj_qkv`` (2 key + value widths),
        ``in_proj_z`` (value), ``in_proj_b`` / ``in_proj_a`` (one per value head), the depthwise causal ``conv1d``
        without bias, ``dt_bias`` and ``A_log`` per value head, a gated RMSNorm over one value head, ``out_proj``;
        then gate/up/down and two RMSNorms. 0 for models without such layers."""
        if not self.linear_layers:
            return 0
        h, nv = self.hidden, self.linear_value_heads
        key, value = self.linear_key_heads * self.linear_key_dim, nv * self.linear_value_dim
        conv = 2 * key + value
        mixer = h * conv + h * value + 2 * h * nv + conv * self.linear_conv + 2 * nv + self.linear_value_dim
        return mixer + value * h + 3 * h * self.intermediate + 2 * h

    @property
    def text_body_params(self) -> int:
        """The decoder layers and the final norm: what every text position passes through besides the head."""
        if self.family == "qwen2.5-vl":
            return self.layers * self.text_layer_params + self.hidden
        full = self.layers - self.linear_layers
        return (
            full * self.full_attention_layer_params
            + self.linear_layers * self.linear_attention_layer_params
            + (self.hidden)
        )

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def vision_block_params(self) -> int:
        """Qwen2.5-VL: qkv and proj with biases, gate/up/down with biases, two RMSNorms. Qwen3-VL / Qwen3.5: qkv and
        proj with biases, ``linear_fc1`` / ``linear_fc2`` with biases, two LayerNorms (weight and bias)."""
        vh, vi = self.v_hidden, self.v_intermediate
        if self.family != "qwen2.5-vl":
            return (vh * 3 * vh + 3 * vh) + (vh * vh + vh) + (vh * vi + vi) + (vi * vh + vh) + 4 * vh
        return (vh * 3 * vh + 3 * vh) + (vh * vh + vh) + 2 * (vh * vi + vi) + (vi * vh + vh) + 2 * vh

    @property
    def merger_params(self) -> int:
        """The patch merger(s) after the blocks. Qwen2.5-VL: RMSNorm, merged→merged, merged→out (biases). Qwen3-VL /
        Qwen3.5: LayerNorm over the hidden width, ``linear_fc1`` / ``linear_fc2``; plus, for Qwen3-VL, one DeepStack
        merger per tap (LayerNorm over the merged width, the same two linears)."""
        merged = self.v_hidden * self.merge**2
        mlp = (merged * merged + merged) + (merged * self.v_out + self.v_out)
        if self.family == "qwen2.5-vl":
            return self.v_hidden + mlp
        return 2 * self.v_hidden + mlp + self.deepstack * (2 * merged + mlp)

    @property
    def patch_embed_params(self) -> int:
        """The patch embedding (a Conv3d over temporal patch × patch²; with a bias in Qwen3-VL / Qwen3.5), plus those
        towers' learned position table (``pos_embed``, interpolated onto each grid and added to the patches)."""
        conv = self.v_hidden * 3 * self.temporal_patch * self.patch**2
        if self.family == "qwen2.5-vl":
            return conv
        return conv + self.v_hidden + self.v_positions * self.v_hidden

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
        """Side of a vision attention window in merged units (112 px / 14 / 2 = 4); 0 for the Qwen3-VL / Qwen3.5
        towers, which have no windowed attention (``window`` 0, every block in ``full_blocks``)."""
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


def cached_family(name_or_path: str) -> ModelFamily | None:
    """The ``ModelFamily`` of a model whose ``config.json`` is at hand (:func:`read_model_config`: nothing is
    downloaded), else None: a ladder rung's model is often an earlier rung's output, which does not exist yet when
    the configs are validated (the stage checks again once the model is loaded)."""
    config = read_model_config(name_or_path)
    if config is None:
        return None
    try:
        return family_for(config, name_or_path)
    except ModelLoadError:
        return None


def model_shape(name_or_path: str) -> ModelShape | None:
    """The shape of ``name_or_path`` when its ``config.json`` is at hand and describes a dense model of a supported
    family (Qwen2.5-VL, Qwen3-VL, Qwen3.5); None otherwise (the check that needs it is skipped and says so)."""
    config = read_model_config(name_or_path)
    if config is None or "vision_config" not in config:
        return None
    try:
        return ModelShape.from_config(config)
    except (KeyError, ModelLoadError):
        return None
