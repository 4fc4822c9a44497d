"""Model shapes read from ``config.json`` (``spatialladder/models/shape.py``): the parameter counts the memory check
uses equal transformers' own model classes, counted on the meta device, for every family, published shape and
cut depth; and a few layers counted by hand from the modeling files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from spatialladder.models.shape import ModelShape, model_shape  # noqa: E402
from spatialladder.testing.qwen_published import PUBLISHED_CONFIGS, published_config, shaped_config  # noqa: E402
from spatialladder.train.memory import vision_params  # noqa: E402


def meta_counts(config: dict) -> tuple[int, int]:
    """(all parameters, vision tower parameters) of the real model class built on the meta device (no memory)."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    model_type = config["model_type"]
    hf_config = AutoConfig.for_model(model_type, **{k: v for k, v in config.items() if k != "model_type"})
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(hf_config)
    return sum(p.numel() for p in model.parameters()), sum(p.numel() for p in model.model.visual.parameters())


@pytest.mark.parametrize("like", sorted(PUBLISHED_CONFIGS))
@pytest.mark.parametrize("depths", [(None, None), (1, 1), (3, 5)], ids=["published", "1x1", "3x5"])
def test_parameter_counts_equal_the_model_class_on_the_meta_device(like: str, depths: tuple) -> None:
    """Text layers of both Qwen3.5 kinds, tied and untied heads, DeepStack mergers and the learned position table
    all counted: a missed or double-counted tensor changes the total."""
    config = shaped_config(like, *depths)
    shape = ModelShape.from_config(config)
    total, vision = meta_counts(config)
    assert shape.total_params == total
    assert vision_params(shape) == vision
    head = 0 if shape.tied else shape.embedding_params
    assert shape.text_body_params + shape.embedding_params + head == total - vision


def test_tiny_checkpoints_of_every_family_as_saved_by_transformers(tiny_family_dirs: dict[str, Path]) -> None:
    """The layout transformers 5 writes (text fields only under ``text_config``) reads the same way."""
    for family, folder in tiny_family_dirs.items():
        config = json.loads((folder / "config.json").read_text())
        shape = model_shape(str(folder))
        assert shape is not None and shape.family == family
        assert shape.total_params == meta_counts(config)[0], family


def test_qwen3_5_layers_counted_by_hand() -> None:
    """Qwen3.5-0.8B (hidden 1024, intermediate 3584, 8 query / 2 KV heads of 256, Gated DeltaNet 16 key and 16 value
    heads of 128, conv kernel 4), from ``modeling_qwen3_5.py``:

    full attention: q_proj 1024×(8·256·2) = 4,194,304 (query and output gate), k_proj and v_proj 1024×512 twice
    = 1,048,576, o_proj 2048×1024 = 2,097,152, q_norm + k_norm 2·256 = 512;
    linear attention: in_proj_qkv 1024×(2·2048 + 2048) = 6,291,456, in_proj_z 1024×2048 = 2,097,152, in_proj_b and
    in_proj_a 1024×16 twice = 32,768, conv1d 6144×4 = 24,576, dt_bias and A_log 2·16 = 32, gated norm 128, out_proj
    2048×1024 = 2,097,152;
    both: MLP 3·1024·3584 = 11,010,048, two RMSNorms 2·1024 = 2,048.
    """
    shape = ModelShape.from_config(published_config("qwen3.5-0.8b"))
    mlp_and_norms = 11_010_048 + 2_048
    assert shape.full_attention_layer_params == 4_194_304 + 1_048_576 + 2_097_152 + 512 + mlp_and_norms == 18_352_640
    linear = 6_291_456 + 2_097_152 + 32_768 + 24_576 + 32 + 128 + 2_097_152 + mlp_and_norms
    assert shape.linear_attention_layer_params == linear == 21_555_360
    assert (shape.layers, shape.linear_layers, shape.head_dim) == (24, 18, 256)  # 6 × (3 linear + 1 full)
    assert shape.text_body_params == 6 * 18_352_640 + 18 * 21_555_360 + 1_024
    assert shape.text_layer_params == 21_555_360  # the larger kind: the working set a sharded run gathers per layer
    assert shape.tied and shape.total_params == shape.text_body_params + 248_320 * 1_024 + vision_params(shape)


def test_qwen3_vl_tower_counted_by_hand() -> None:
    """Qwen3-VL-4B's tower (hidden 1024, intermediate 4096, 24 blocks, 2304 positions, 3 DeepStack taps), from
    ``modeling_qwen3_vl.py``: a block is qkv 1024×3072 + 3072, proj 1024² + 1024, linear_fc1 1024×4096 + 4096,
    linear_fc2 4096×1024 + 1024, two LayerNorms 4·1024 = 12,596,224; the patch embedding Conv3d 1024×3·2·16² + 1024
    and the position table 2304×1024 = 3,933,184; a merger over 4·1024 = 4096 merged widths is fc1 4096² + 4096 and
    fc2 4096×2560 + 2560 (27,269,632) after a LayerNorm over 1024 (main) or over 4096 (DeepStack)."""
    shape = ModelShape.from_config(published_config("qwen3-vl-4b"))
    assert shape.vision_block_params == 3_148_800 + 1_049_600 + 4_198_400 + 4_195_328 + 4_096 == 12_596_224
    assert shape.patch_embed_params == 1_573_888 + 2_359_296 == 3_933_184
    assert shape.merger_params == (2_048 + 27_269_632) + 3 * (8_192 + 27_269_632) == 109_105_152
    assert (shape.deepstack, shape.window, shape.window_patches, shape.full_blocks) == (3, 0, 0, tuple(range(24)))
    assert vision_params(shape) == 24 * 12_596_224 + 3_933_184 + shape.merger_params == 415_347_712


def test_qwen2_5_vl_shape_keeps_its_fields() -> None:
    """The Qwen2.5-VL shape is what it was: the new fields keep their zero defaults."""
    shape = ModelShape.from_config(published_config("qwen2.5-vl-3b"))
    assert (shape.family, shape.deepstack, shape.v_positions, shape.linear_layers) == ("qwen2.5-vl", 0, 0, 0)
    assert (shape.window, shape.full_blocks, shape.window_patches) == (112, (7, 15, 23, 31), 4)


def test_checkpoints_that_cannot_be_counted_give_no_shape(tmp_path: Path) -> None:
    """MoE variants and unknown model types: None, so the memory check says it is skipped instead of guessing."""
    moe = published_config("qwen3-vl-4b") | {"model_type": "qwen3_vl_moe"}
    other = published_config("qwen3-vl-4b") | {"model_type": "llava"}
    for name, config in {"moe": moe, "other": other}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(config))
        assert model_shape(str(tmp_path / name)) is None
