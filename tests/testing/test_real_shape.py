"""Real-shaped configs, tokenizers and processors equal the published ones: Qwen2.5-VL 3B/7B, Qwen3-VL 2B/4B/8B and
Qwen3.5 0.8B/2B/4B (no weights built in the default tier: the whole ``make-tiny-model --like`` folder, its forward and
the stage steps on it are the slow tier, tests/slow and the ``slow`` test at the end of this file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from spatialladder.errors import ConfigError  # noqa: E402
from spatialladder.testing.qwen3_published import PREPROCESSOR_CONFIG as QWEN3_PREPROCESSOR_CONFIG  # noqa: E402
from spatialladder.testing.qwen3_published import (  # noqa: E402
    QWEN3_LIKES,
    VIDEO_PREPROCESSOR_CONFIG,
    scaled_deepstack,
    scaled_layer_types,
)
from spatialladder.testing.qwen_published import (  # noqa: E402
    ADDED_TOKENS,
    PREPROCESSOR_CONFIG,
    like_family,
    published_config,
    scaled_fullatt_blocks,
    shaped_config,
)
from spatialladder.testing.real_shape import (  # noqa: E402
    build_qwen3_processor,
    build_real_processor,
    build_real_tokenizer,
    real_shaped_config,
)
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


# --- Qwen3-VL and Qwen3.5 shapes --------------------------------------------------------------------------------

NEW_LIKES = sorted(QWEN3_LIKES)
CUT_KEYS = {
    ("text_config", "num_hidden_layers"),
    ("text_config", "layer_types"),
    ("vision_config", "depth"),
    ("vision_config", "deepstack_visual_indexes"),
}
"""What a depth cut may change (Qwen3.5's layer types and Qwen3-VL's DeepStack taps follow the depths)."""


def read_back_qwen3(part: Any, key: str) -> Any:
    """The value transformers holds for a published ``text_config`` / ``vision_config`` key: it folds
    ``rope_scaling`` and ``rope_theta`` into ``rope_parameters``, makes ``dtype`` a torch dtype and renames the
    vision ``model_type`` (``configuration_qwen3_vl.py`` / ``configuration_qwen3_5.py``: old checkpoints' type)."""
    special = {
        "dtype": lambda: str(part.dtype).replace("torch.", ""),
        "rope_scaling": lambda: {k: v for k, v in part.rope_parameters.items() if k != "rope_theta"},
        "rope_theta": lambda: part.rope_parameters["rope_theta"],
        "model_type": lambda: (
            part.model_type.removesuffix("_vision").removesuffix("_text")
            + ("_text" if part.model_type.endswith("_text") else "")
        ),
    }
    return special[key]() if key in special else getattr(part, key)


@pytest.mark.parametrize("like", NEW_LIKES)
def test_new_family_published_fields_survive_except_the_depths(like: str) -> None:
    published = published_config(like)
    cut = shaped_config(like, layers=2, vision_layers=3)
    config = real_shaped_config(like, layers=2, vision_layers=3)
    assert type(config).__name__ == {"qwen3-vl": "Qwen3VLConfig", "qwen3.5": "Qwen3_5Config"}[like_family(like)]
    for key, value in published.items():
        if key not in ("text_config", "vision_config"):
            assert getattr(config, key) == value, key
    for part in ("text_config", "vision_config"):
        for key in published[part]:
            assert read_back_qwen3(getattr(config, part), key) == cut[part][key], (part, key)
    changed = {(p, k) for p in ("text_config", "vision_config") for k in published[p] if published[p][k] != cut[p][k]}
    assert {("text_config", "num_hidden_layers"), ("vision_config", "depth")} <= changed <= CUT_KEYS


WIDTHS = {
    # text: hidden, layers, heads, kv heads, head_dim, intermediate, vocab, tied;
    # vision: depth, hidden, intermediate, heads, out, DeepStack taps
    "qwen3-vl-2b": (2048, 28, 16, 8, 128, 6144, 151936, True, 24, 1024, 4096, 16, 2048, [5, 11, 17]),
    "qwen3-vl-4b": (2560, 36, 32, 8, 128, 9728, 151936, True, 24, 1024, 4096, 16, 2560, [5, 11, 17]),
    "qwen3-vl-8b": (4096, 36, 32, 8, 128, 12288, 151936, False, 27, 1152, 4304, 16, 4096, [8, 16, 24]),
    "qwen3.5-0.8b": (1024, 24, 8, 2, 256, 3584, 248320, True, 12, 768, 3072, 12, 1024, []),
    "qwen3.5-2b": (2048, 24, 8, 2, 256, 6144, 248320, True, 24, 1024, 4096, 16, 2048, []),
    "qwen3.5-4b": (2560, 32, 16, 4, 256, 9216, 248320, True, 24, 1024, 4096, 16, 2560, []),
}
"""Typed from the sources in ``qwen3_published``'s docstring (Qwen3.5-2B's vision widths unconfirmed, flagged)."""


@pytest.mark.parametrize("like", NEW_LIKES)
def test_published_widths_of_the_new_shapes(like: str) -> None:
    config = real_shaped_config(like)
    t, v = config.text_config, config.vision_config
    got = (t.hidden_size, t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads, t.head_dim)
    got += (t.intermediate_size, t.vocab_size, config.tie_word_embeddings)
    got += (v.depth, v.hidden_size, v.intermediate_size, v.num_heads, v.out_hidden_size)
    got += (list(getattr(v, "deepstack_visual_indexes", [])),)
    assert got == WIDTHS[like]
    assert (v.patch_size, v.spatial_merge_size, v.temporal_patch_size, v.num_position_embeddings) == (16, 2, 2, 2304)
    if like_family(like) == "qwen3-vl":
        assert t.rope_parameters == {
            "mrope_interleaved": True,
            "mrope_section": [24, 20, 20],
            "rope_type": "default",
            "rope_theta": 5000000,
        }
        ids = (151655, 151656, 151652, 151653)
    else:
        assert t.layer_types == ["linear_attention", "linear_attention", "linear_attention", "full_attention"] * (
            t.num_hidden_layers // 4
        )
        assert (t.linear_num_key_heads, t.linear_key_head_dim, t.linear_value_head_dim, t.linear_conv_kernel_dim) == (
            16,
            128,
            128,
            4,
        )
        assert t.linear_num_value_heads == (32 if like == "qwen3.5-4b" else 16)
        assert t.rope_parameters["mrope_section"] == [11, 11, 10] and t.rope_parameters["rope_theta"] == 10_000_000
        assert t.rope_parameters["partial_rotary_factor"] == 0.25 and t.eos_token_id == 248044
        ids = (248056, 248057, 248053, 248054)
    assert (
        config.image_token_id,
        config.video_token_id,
        config.vision_start_token_id,
        config.vision_end_token_id,
    ) == ids
    unconfirmed = {"qwen3.5-2b": ("vision_config.depth", "vision_config.hidden_size")}
    assert QWEN3_LIKES[like].unconfirmed[:2] == unconfirmed.get(like, ())


@pytest.mark.parametrize(
    "layers, types",
    [
        (1, ["full"]),
        (2, ["linear", "full"]),
        (3, ["linear", "linear", "full"]),
        (4, ["linear", "linear", "linear", "full"]),
        (6, ["linear", "linear", "linear", "full", "linear", "linear"]),  # the published first 6
    ],
)
def test_qwen3_5_layer_types_follow_the_kept_depth(layers: int, types: list[str]) -> None:
    expected = [f"{t}_attention" for t in types]
    assert scaled_layer_types(layers) == expected
    assert shaped_config("qwen3.5-2b", layers=layers)["text_config"]["layer_types"] == expected
    assert scaled_layer_types(24) == published_config("qwen3.5-2b")["text_config"]["layer_types"]


@pytest.mark.parametrize(
    "like, depth, taps",
    [
        ("qwen3-vl-4b", 24, [5, 11, 17]),
        ("qwen3-vl-4b", 12, [2, 5, 8]),
        ("qwen3-vl-4b", 2, [0, 1]),
        ("qwen3-vl-4b", 1, [0]),
        ("qwen3-vl-8b", 27, [8, 16, 24]),
        ("qwen3-vl-8b", 9, [2, 5, 7]),
    ],
)
def test_deepstack_taps_follow_the_kept_vision_depth(like: str, depth: int, taps: list[int]) -> None:
    """round((i + 1) · depth / published) - 1: 12 of 24 → round(3)-1, round(6)-1, round(9)-1 = 2, 5, 8; 9 of 27 →
    round(3)-1, round(17/3)-1, round(25/3)-1 = 2, 5, 7; 2 of 24 → 0, 0, round(1.5)-1 = 1 (duplicates merged)."""
    published = published_config(like)["vision_config"]
    assert scaled_deepstack(published["deepstack_visual_indexes"], published["depth"], depth) == taps
    assert shaped_config(like, vision_layers=depth)["vision_config"]["deepstack_visual_indexes"] == taps


@pytest.mark.parametrize(
    "like, total, vision, published",
    [
        ("qwen3-vl-2b", 2_127_532_032, 406_957_056, (2.128, 407.0)),
        ("qwen3-vl-4b", 4_437_815_808, 415_347_712, (4.438, 415.3)),
        ("qwen3-vl-8b", 8_767_123_696, 576_388_336, (8.767, 576.4)),
        ("qwen3.5-0.8b", 852_985_920, 100_592_896, None),
        ("qwen3.5-2b", 2_213_241_664, 331_416_576, None),
        ("qwen3.5-4b", 4_539_265_536, 333_514_240, None),
    ],
)
def test_new_family_parameter_counts_on_the_meta_device(like, total, vision, published) -> None:
    """Qwen3-VL: the published counts (B total, M vision tower) "calculated from the tensors stored in the upstream
    checkpoint" (OpenExplorer's cards of the three Instruct models; the same cards give Qwen2.5-VL-7B 8.292 B, our
    8,292,166,656). Qwen3.5: no exact count is published (cards: "Number of Parameters: 0.8B / 2B / 4B" for the
    language model; the checkpoints also store MTP weights transformers does not build), so ours are recorded."""
    import torch
    from transformers import AutoModelForImageTextToText

    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(real_shaped_config(like))
    assert sum(p.numel() for p in model.parameters()) == total
    assert sum(p.numel() for p in model.model.visual.parameters()) == vision
    if published is not None:
        assert (round(total / 1e9, 3), round(vision / 1e6, 1)) == published


@pytest.mark.parametrize(
    "like, length, ids",
    [
        # eos <|im_end|>, pad <|endoftext|>, <think>, </think>, <|vision_start|>, <|image_pad|>
        ("qwen3-vl-4b", 151_669, (151645, 151643, 151667, 151668, 151652, 151655)),
        ("qwen3.5-0.8b", 248_077, (248046, 248044, 248068, 248069, 248053, 248056)),
    ],
)
def test_new_family_tokenizers_have_the_real_length_and_ids(like: str, length: int, ids: tuple) -> None:
    """Unlike Qwen2.5-VL's, these tokenizers have ``<think>`` and ``</think>`` as added (not special) tokens."""
    tk = build_real_tokenizer(like)
    assert len(tk) == length
    for token_id, content, special in QWEN3_LIKES[like].added_tokens:
        added = tk.added_tokens_decoder[token_id]
        assert (added.content, added.special) == (content, special), token_id
    assert (tk.eos_token, tk.pad_token, tk.bos_token, tk.model_max_length) == (
        "<|im_end|>",
        "<|endoftext|>",
        None,
        262144,
    )
    eos, pad, think, think_end, vision_start, image = ids
    assert (tk.eos_token_id, tk.pad_token_id) == (eos, pad)
    assert tk("<think>a</think>")["input_ids"] == [think, tk.convert_tokens_to_ids("a"), think_end]
    assert tk.decode([think, think_end], skip_special_tokens=True) == "<think></think>"  # not special: kept
    chat = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many?"}]}]
    text = tk.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    first = QWEN3_LIKES[like].added_tokens[0][0]
    assert [i for i in tk(text)["input_ids"] if i >= first][:4] == [first + 1, vision_start, image, vision_start + 1]


TRL_TEMPLATES = {"qwen3-vl": "qwen3_vl.jinja", "qwen3.5-0.8b": "qwen3_5_nothink.jinja"}


@pytest.mark.parametrize("like", NEW_LIKES)
def test_new_family_chat_templates_are_the_released_ones(like: str) -> None:
    """Byte-identical to trl's copies: Qwen3-VL's; the Qwen3.5 no-think template for 0.8B and 2B, the think template
    for 4B (trl/chat_templates/README.md: "Shipped by Qwen3.5-4B and larger" / "Qwen3.5-2B and smaller")."""
    import trl

    name = "qwen3_vl.jinja" if like_family(like) == "qwen3-vl" else None
    name = name or ("qwen3_5_think.jinja" if like == "qwen3.5-4b" else "qwen3_5_nothink.jinja")
    trl_copy = Path(trl.__file__).parent / "chat_templates" / name
    assert build_real_tokenizer(like).chat_template == trl_copy.read_text(encoding="utf-8")


def test_new_family_processor_has_the_published_budgets() -> None:
    """Images: 1296×968 under the published 16.8 Mpx cap is rounded to multiples of 32 (960×1280: round(30.25),
    round(40.5) = 30, 40), a grid of 60×80 patches of 16. Videos: the published budget covers all frames, 32 × 968 ×
    1296 = 40.1 Mpx > 25,165,824, so each side shrinks by β = √(40,144,896 / 25,165,824) = 1.2630 and is floored to
    a multiple of 32: 968/β = 766 → 736, 1296/β = 1026 → 1024, grid [16, 46, 64] (16 temporal patches of 2 frames)."""
    import numpy as np
    from PIL import Image

    processor = build_qwen3_processor(build_real_tokenizer("qwen3-vl-2b"))
    for part, published in (
        (processor.image_processor, QWEN3_PREPROCESSOR_CONFIG),
        (processor.video_processor, VIDEO_PREPROCESSOR_CONFIG),
    ):
        size = published["size"]
        assert (part.size["shortest_edge"], part.size["longest_edge"]) == (size["shortest_edge"], size["longest_edge"])
        assert (part.patch_size, part.merge_size, part.temporal_patch_size) == (16, 2, 2)
        assert list(part.image_mean) == [0.5] * 3 and list(part.image_std) == [0.5] * 3
    video = processor.video_processor
    assert (video.fps, video.do_sample_frames, video.min_frames, video.max_frames) == (
        2,
        True,
        4,
        768,
    )  # class defaults
    image = processor.image_processor(images=[Image.new("RGB", (1296, 968))], return_tensors="pt")
    assert image["image_grid_thw"].tolist() == [[1, 60, 80]]
    frames = np.zeros((32, 968, 1296, 3), dtype=np.uint8)
    out = processor.video_processor(videos=[frames], do_sample_frames=False, return_tensors="pt")
    assert out["video_grid_thw"].tolist() == [[16, 46, 64]]


def test_cli_help_examples_name_real_shapes() -> None:
    """Every ``--like`` in ``make-tiny-model``'s examples is a known shape and its cut depths are valid."""
    import re

    from spatialladder.cli import make_tiny_model

    examples = [line for line in (make_tiny_model.__doc__ or "").splitlines() if "Example:" in line]
    likes = [re.search(r"--like (\S+)", line) for line in examples]
    used = [m.group(1) for m in likes if m]
    assert {"qwen2.5-vl-3b", "qwen3-vl-4b", "qwen3.5-2b"} <= set(used)
    for line in examples:
        match = re.search(r"--like (\S+)(?: --layers (\d+))?(?: --vision-layers (\d+))?", line)
        if match:
            layers, vision = (int(x) if x else None for x in match.groups()[1:])
            shaped_config(match.group(1), layers, vision)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("like, layers", [("qwen3-vl-2b", 1), ("qwen3.5-0.8b", 2)])
def test_like_folders_of_the_new_families_load_and_run(tmp_path: Path, like: str, layers: int) -> None:
    """The written folder loads through ``spatialladder.models.load`` (the families registry) with the published
    processor budgets and the ladder's, has the meta-device parameter count, and runs one image forward."""
    import json

    import torch
    from PIL import Image
    from transformers import AutoProcessor

    from spatialladder.config.base import ModelSettings
    from spatialladder.models.load import load_model_and_processor
    from spatialladder.models.shape import model_shape
    from spatialladder.testing.real_shape import build_like

    folder = build_like(tmp_path / like, like, layers=layers, vision_layers=1)
    saved = AutoProcessor.from_pretrained(folder)
    assert saved.image_processor.size["longest_edge"] == QWEN3_PREPROCESSOR_CONFIG["size"]["longest_edge"]
    assert saved.video_processor.size["longest_edge"] == VIDEO_PREPROCESSOR_CONFIG["size"]["longest_edge"]
    assert (folder / "generation_config.json").exists() == (like_family(like) == "qwen3-vl")  # Qwen3.5 ships none
    loaded = load_model_and_processor(ModelSettings(name_or_path=str(folder), min_pixels=16384, max_pixels=131072))
    assert loaded.family.name == like_family(like)
    assert loaded.processor.image_processor.size["longest_edge"] == 131072
    n = sum(p.numel() for p in loaded.model.parameters())
    assert n == model_shape(str(folder)).total_params
    assert json.loads((folder / "config.json").read_text())["text_config"]["num_hidden_layers"] == layers
    chat = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many chair(s)?"}]}]
    text = loaded.processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    inputs = loaded.processor(text=[text], images=[Image.new("RGB", (320, 256))], return_tensors="pt")
    with torch.no_grad():
        logits = loaded.model(**inputs).logits
    assert logits.shape[-1] == WIDTHS[like][6] and torch.isfinite(logits).all()
