"""Real-shaped Qwen2.5-VL configs, tokenizer and processor equal the published ones (no weights built here: the
whole ``make-tiny-model --like`` folder, its forward and the stage steps on it are the slow tier, tests/slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from spatialladder.errors import ConfigError  # noqa: E402
from spatialladder.testing.qwen_published import (  # noqa: E402
    ADDED_TOKENS,
    PREPROCESSOR_CONFIG,
    published_config,
    scaled_fullatt_blocks,
    shaped_config,
)
from spatialladder.testing.real_shape import build_real_processor, build_real_tokenizer, real_shaped_config  # noqa: E402
from spatialladder.testing.tiny_qwen import chat_template  # noqa: E402

# Where each key of the Hub config.json lands in transformers' Qwen2_5_VLConfig: (sub-config, attribute); a
# callable reads values transformers renamed or normalised. Every published key is listed (checked below).
TEXT_KEYS = (
    "attention_dropout bos_token_id eos_token_id hidden_act hidden_size initializer_range intermediate_size "
    "max_position_embeddings max_window_layers num_attention_heads num_hidden_layers num_key_value_heads "
    "rms_norm_eps use_cache use_sliding_window vocab_size"
).split()
TOP_KEYS = "architectures image_token_id model_type tie_word_embeddings video_token_id vision_end_token_id".split()
TOP_KEYS += ["vision_start_token_id", "vision_token_id"]
VISION_KEYS = (
    "depth fullatt_block_indexes hidden_act hidden_size intermediate_size num_heads out_hidden_size patch_size "
    "spatial_merge_size temporal_patch_size tokens_per_second window_size"
).split()


def read_back(config: Any, key: str, published: dict[str, Any]) -> Any:
    """The value transformers holds for published top-level ``key`` (text fields live in ``text_config``)."""
    text = config.text_config
    special = {
        "rope_theta": lambda: text.rope_parameters["rope_theta"],
        "rope_scaling": lambda: {"type": "mrope", "mrope_section": text.rope_parameters["mrope_section"]},
        # transformers 5 drops the window size when use_sliding_window is false, for the Hub file too
        "sliding_window": lambda: published["sliding_window"] if text.sliding_window is None else text.sliding_window,
        "torch_dtype": lambda: str(config.dtype).replace("torch.", ""),
    }
    if key in special:
        return special[key]()
    if key in TEXT_KEYS:
        return getattr(text, key)
    return getattr(config, key)


def read_back_vision(vision: Any, key: str) -> Any:
    renamed = {"in_chans": "in_channels", "spatial_patch_size": "patch_size"}
    return getattr(vision, renamed.get(key, key))


@pytest.mark.parametrize("like", ["qwen2.5-vl-3b", "qwen2.5-vl-7b"])
def test_every_published_field_survives_except_the_two_depths(like: str) -> None:
    published = published_config(like)
    config = real_shaped_config(like, layers=1, vision_layers=1)
    covered = set(TEXT_KEYS) | set(TOP_KEYS) | {"rope_theta", "rope_scaling", "sliding_window", "torch_dtype"}
    assert set(published) - {"vision_config"} == covered  # no published field left unchecked
    for key in covered:
        expected = {"num_hidden_layers": 1}.get(key, published[key])
        assert read_back(config, key, published) == expected, key
    vision = published["vision_config"]
    assert set(vision) == set(VISION_KEYS) | {"in_chans", "spatial_patch_size"}
    for key, value in vision.items():
        expected = {"depth": 1, "fullatt_block_indexes": [0]}.get(key, value)
        assert read_back_vision(config.vision_config, key) == expected, key


@pytest.mark.parametrize("like", ["qwen2.5-vl-3b", "qwen2.5-vl-7b"])
def test_config_equals_transformers_reading_of_the_hub_file_but_for_depths(like: str) -> None:
    from transformers import Qwen2_5_VLConfig

    hub = Qwen2_5_VLConfig(**published_config(like)).to_dict()
    ours = real_shaped_config(like, layers=2, vision_layers=4).to_dict()
    assert ours["text_config"].pop("num_hidden_layers") == 2
    assert ours["text_config"].pop("layer_types") == ["full_attention"] * 2  # use_sliding_window: false
    assert ours["vision_config"].pop("depth") == 4
    assert ours["vision_config"].pop("fullatt_block_indexes") == [3]
    for part in ("text_config", "vision_config"):
        for key in ("num_hidden_layers", "layer_types", "depth", "fullatt_block_indexes"):
            hub[part].pop(key, None)
    assert ours == hub


def test_published_widths_of_3b_and_7b() -> None:
    c3, c7 = real_shaped_config("qwen2.5-vl-3b"), real_shaped_config("qwen2.5-vl-7b")
    t3, t7 = c3.text_config, c7.text_config
    assert (t3.hidden_size, t3.intermediate_size, t3.num_attention_heads, t3.num_key_value_heads) == (
        2048,
        11008,
        16,
        2,
    )
    assert (t7.hidden_size, t7.intermediate_size, t7.num_attention_heads, t7.num_key_value_heads) == (
        3584,
        18944,
        28,
        4,
    )
    assert t3.hidden_size // t3.num_attention_heads == t7.hidden_size // t7.num_attention_heads == 128  # head dim
    assert (t3.vocab_size, c3.tie_word_embeddings, t7.vocab_size, c7.tie_word_embeddings) == (
        151936,
        True,
        152064,
        False,
    )
    assert (t3.num_hidden_layers, t7.num_hidden_layers, c3.vision_config.depth) == (36, 28, 32)
    assert t3.rope_parameters["mrope_section"] == [16, 24, 24] and t3.rope_parameters["rope_theta"] == 1e6
    assert (c3.vision_config.out_hidden_size, c7.vision_config.out_hidden_size) == (2048, 3584)
    assert c3.vision_config.fullatt_block_indexes == [7, 15, 23, 31] == c7.vision_config.fullatt_block_indexes
    assert t3.max_position_embeddings == 128000 and t3.rms_norm_eps == 1e-6


@pytest.mark.parametrize(
    "depth, blocks",
    [(32, [7, 15, 23, 31]), (24, [7, 15, 23]), (16, [7, 15]), (12, [5, 11]), (8, [7]), (4, [3]), (2, [1]), (1, [0])],
)
def test_full_attention_blocks_scale_with_the_kept_depth(depth: int, blocks: list[int]) -> None:
    assert scaled_fullatt_blocks(depth) == blocks
    assert shaped_config("qwen2.5-vl-3b", vision_layers=depth)["vision_config"]["fullatt_block_indexes"] == blocks


def test_bad_depths_and_names_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="--vision-layers 0"):
        scaled_fullatt_blocks(0)
    with pytest.raises(ConfigError, match="--layers 0"):
        shaped_config("qwen2.5-vl-3b", layers=0)
    with pytest.raises(ConfigError, match="qwen2.5-vl-3b, qwen2.5-vl-7b"):
        published_config("qwen2.5-vl-2b")


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return build_real_tokenizer()


def test_tokenizer_has_the_real_length_and_added_token_ids(tokenizer: Any) -> None:
    assert len(tokenizer) == 151_665
    for token_id, content, special in ADDED_TOKENS:
        assert tokenizer.convert_tokens_to_ids(content) == token_id, content
        added = tokenizer.added_tokens_decoder[token_id]
        assert (added.content, added.special) == (content, special)
    assert (tokenizer.eos_token, tokenizer.eos_token_id) == ("<|im_end|>", 151645)
    assert (tokenizer.pad_token, tokenizer.pad_token_id) == ("<|endoftext|>", 151643)
    assert tokenizer.bos_token is None and tokenizer.model_max_length == 131072
    assert tokenizer.chat_template == chat_template()


def test_reasoning_tags_are_plain_text_as_in_the_real_tokenizer(tokenizer: Any) -> None:
    ids = tokenizer("<think>a</think><answer>3</answer>")["input_ids"]
    assert all(i < 151643 for i in ids)  # no added token: the real added_tokens list has none for these tags
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>a</think><answer>3</answer>"
    chat = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many?"}]}]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text)["input_ids"]
    assert [i for i in ids if i >= 151643] == [151644, 151645, 151644, 151652, 151655, 151653, 151645, 151644]


def test_processor_has_the_published_preprocessor_settings(tokenizer: Any) -> None:
    from PIL import Image

    processor = build_real_processor(tokenizer)
    for part in (processor.image_processor, processor.video_processor):
        assert (part.size["shortest_edge"], part.size["longest_edge"]) == (3136, 12845056)
        assert (part.patch_size, part.merge_size, part.temporal_patch_size) == (14, 2, 2)
        assert list(part.image_mean) == PREPROCESSOR_CONFIG["image_mean"]
        assert list(part.image_std) == PREPROCESSOR_CONFIG["image_std"]
    # 1296×968 under the published 12.8 Mpx cap: each side rounded to 28 → 1288×980 → 92×70 patches of 14 px
    out = processor.image_processor(images=[Image.new("RGB", (1296, 968))], return_tensors="pt")
    assert out["image_grid_thw"].tolist() == [[1, 70, 92]]
    assert out["pixel_values"].shape == (70 * 92, 3 * 2 * 14 * 14)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--layers", "1"], "error: --layers and --vision-layers cut a published shape: give --like"),
        (["--like", "qwen2.5-vl-2b"], "error: --like qwen2.5-vl-2b: expected one of qwen2.5-vl-3b, qwen2.5-vl-7b"),
    ],
)
def test_cli_refuses_depths_without_like_and_unknown_shapes(tmp_path, args: list[str], message: str) -> None:
    script = Path(sys.executable).with_name("spatialladder")
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [str(script), "make-tiny-model", str(tmp_path / "m"), *args], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith(message) and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "like, layers, vision_layers, expected",
    [
        ("qwen2.5-vl-3b", None, None, 3_754_622_976),  # the Hub card's "3.75B params"
        ("qwen2.5-vl-7b", None, None, 8_292_166_656),  # "8.29B params"
        ("qwen2.5-vl-3b", 1, 1, 446_160_056),
        ("qwen2.5-vl-7b", 1, 1, 1_388_838_072),  # untied: embedding and lm_head are two 152,064 × 3584 matrices
    ],
)
def test_parameter_counts_at_published_and_cut_depths(like, layers, vision_layers, expected) -> None:
    """Counted on the meta device (no memory): the full-depth configs give the published model sizes."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    with torch.device("meta"):
        model = Qwen2_5_VLForConditionalGeneration(real_shaped_config(like, layers, vision_layers))
    assert sum(p.numel() for p in model.parameters()) == expected
