"""Model families (``spatialladder/models/families/``): each family's facts checked against the installed
transformers code and the released chat templates, and every family loading through the one loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spatialladder.config.base import ModelSettings
from spatialladder.errors import ModelLoadError
from spatialladder.models.families import FAMILIES, family_for_model_type, family_named
from spatialladder.models.load import load_model_and_processor, vision_tower

CLASSES = {
    "qwen2.5-vl": "Qwen2_5_VLForConditionalGeneration",
    "qwen3-vl": "Qwen3VLForConditionalGeneration",
    "qwen3.5": "Qwen3_5ForConditionalGeneration",
}


def test_family_facts_match_the_installed_model_code() -> None:
    """Patch sizes, the model types each class declares and the processor AutoProcessor picks, from transformers."""
    from transformers import Qwen2_5_VLConfig, Qwen3_5Config, Qwen3_5MoeConfig, Qwen3VLConfig, Qwen3VLMoeConfig
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    configs = {
        "qwen2.5-vl": [Qwen2_5_VLConfig],
        "qwen3-vl": [Qwen3VLConfig, Qwen3VLMoeConfig],
        "qwen3.5": [Qwen3_5Config, Qwen3_5MoeConfig],
    }
    for name, classes in configs.items():
        family = FAMILIES[name]
        assert family.model_types == tuple(c.model_type for c in classes)
        for cls in classes:
            assert cls().vision_config.patch_size == family.patch_size
            assert cls().vision_config.spatial_merge_size == family.merge_size
    assert (FAMILIES["qwen2.5-vl"].pixel_factor, FAMILIES["qwen3-vl"].pixel_factor) == (28, 32)
    assert (
        FAMILIES["qwen3-vl"].tokens_to_pixels(128) == 131_072
        and FAMILIES["qwen2.5-vl"].tokens_to_pixels(128) == 100_352
    )
    assert PROCESSOR_MAPPING_NAMES["qwen3_5"] == "Qwen3VLProcessor"  # Qwen3.5's video time and patch are Qwen3-VL's


def test_unsupported_model_types_are_refused_listing_the_families(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as err:
        family_for_model_type("llava", "model x")
    message = str(err.value)
    assert "\n" not in message and "model_type 'llava' is not supported" in message
    assert "qwen2.5-vl (qwen2_5_vl); qwen3-vl (qwen3_vl, qwen3_vl_moe); qwen3.5 (qwen3_5, qwen3_5_moe)" in message
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2_vl"}))
    with pytest.raises(ModelLoadError, match=r"model_type 'qwen2_vl' is not supported; supported families"):
        load_model_and_processor(ModelSettings(name_or_path=str(tmp_path)))
    with pytest.raises(ModelLoadError, match=r"unknown model family 'qwen4'; expected one of qwen2.5-vl, qwen3-vl"):
        family_named("qwen4")


def test_tiny_templates_are_the_released_ones_byte_for_byte() -> None:
    """trl ships the released templates to recognise them (``trl/chat_templates/README.md``): ours must be equal."""
    import trl

    from spatialladder.testing.tiny_qwen import chat_template

    shipped = Path(trl.__file__).parent / "chat_templates"
    assert chat_template("qwen2.5-vl") == (shipped / "qwen2_5_vl.jinja").read_text()
    assert chat_template("qwen3-vl") == (shipped / "qwen3_vl.jinja").read_text()
    assert chat_template("qwen3.5") == (shipped / "qwen3_5_nothink.jinja").read_text()


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_loads_with_its_vision_tower_and_pixel_factor(tiny_family_dirs: dict, name: str) -> None:
    """One loader for all (``AutoModelForImageTextToText``): the family's class with its tower, the family recorded,
    the tower frozen at the family's path, and a 640×480 image resized to multiples of the family's factor."""
    from PIL import Image

    family = FAMILIES[name]
    factor = family.pixel_factor
    settings = ModelSettings(
        name_or_path=str(tiny_family_dirs[name]),
        dtype="float32",
        min_pixels=4 * factor**2,
        max_pixels=12 * factor**2,
        freeze_vision_tower=True,
    )
    loaded = load_model_and_processor(settings, for_training=True)
    assert loaded.family is family and type(loaded.model).__name__ == CLASSES[name]
    tower = vision_tower(loaded.model, family)
    assert tower is loaded.model.model.visual and not any(p.requires_grad for p in tower.parameters())
    assert any(p.requires_grad for p in loaded.model.model.language_model.parameters())
    image = Image.fromarray(np.zeros((480, 640, 3), dtype=np.uint8))
    grid = loaded.processor.image_processor(images=[image], return_tensors="pt")["image_grid_thw"][0].tolist()
    # smart_resize at ≤ 12 tokens: 4:3 → 4×3 merged tokens of factor² pixels each
    assert grid == [1, 3 * family.merge_size, 4 * family.merge_size]
    with pytest.raises(ModelLoadError, match=rf"model.min_pixels: {factor**2 - 1} px is less than one {name} vision"):
        load_model_and_processor(settings.model_copy(update={"min_pixels": factor**2 - 1}))


@pytest.mark.parametrize("name", list(FAMILIES))
def test_max_pixels_is_per_frame_for_every_familys_video_processor(tiny_family_dirs: dict, name: str) -> None:
    """``model.max_pixels`` is a per-frame budget (the paper's 128 tokens per frame) although Qwen3-VL's video
    processor reads ``longest_edge`` over all frames: each of 32 frames of a 640×480 video gets the grid one 640×480
    image gets (before the loader's translation, Qwen3-VL's frames got 1/32 of it: grid 1×2 instead of 6×8)."""
    family = FAMILIES[name]
    settings = ModelSettings(
        name_or_path=str(tiny_family_dirs[name]), min_pixels=family.token_pixels, max_pixels=12 * family.token_pixels
    )
    processor = load_model_and_processor(settings).processor
    frames = np.zeros((32, 480, 640, 3), dtype=np.uint8)
    from PIL import Image

    image = processor.image_processor(images=[Image.fromarray(frames[0])], return_tensors="pt")["image_grid_thw"]
    video = processor.video_processor(videos=[frames], do_sample_frames=False, return_tensors="pt")["video_grid_thw"]
    # 307,200 px over 12 tokens: scale 1/5 (Qwen3) or 1/5.71 (Qwen2.5) → 3 × 4 merged tokens = 6 × 8 patches
    assert image.tolist() == [[1, 6, 8]] and video.tolist() == [[16, 6, 8]]
