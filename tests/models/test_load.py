"""Model loading: local folders, pixel budgets, frozen vision tower, LoRA, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialladder.config.base import LoraSettings, ModelSettings
from spatialladder.errors import ModelLoadError
from spatialladder.models.load import load_model_and_processor, resolve_source


def test_missing_path_is_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"does not exist"):
        resolve_source(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match=r"does not exist"):
        resolve_source("outputs/stage1/final")


def test_folder_without_config_is_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        resolve_source(str(tmp_path))


def test_hub_id_passes_through() -> None:
    assert resolve_source("Qwen/Qwen2.5-VL-3B-Instruct") == "Qwen/Qwen2.5-VL-3B-Instruct"


def test_not_qwen25vl_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelLoadError, match=r"model_type 'gpt2' is not supported"):
        load_model_and_processor(ModelSettings(name_or_path=str(tmp_path)))


def test_pixels_freeze_and_lora(tiny_model_dir: Path) -> None:
    settings = ModelSettings(
        name_or_path=str(tiny_model_dir),
        dtype="float32",
        min_pixels=28 * 28 * 2,
        max_pixels=28 * 28 * 8,
        freeze_vision_tower=True,
        lora=LoraSettings(r=4),
    )
    loaded = load_model_and_processor(settings, for_training=True)
    for proc in (loaded.processor.image_processor, loaded.processor.video_processor):
        assert proc.size["shortest_edge"] == 28 * 28 * 2
        assert proc.size["longest_edge"] == 28 * 28 * 8
    assert not any(p.requires_grad for p in loaded.model.model.visual.parameters())
    assert any(p.requires_grad for p in loaded.model.model.language_model.parameters())
    assert loaded.peft_config is not None and loaded.peft_config.r == 4
    from peft import get_peft_model

    peft_model = get_peft_model(loaded.model, loaded.peft_config)
    names = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert names and all("language_model" in n and "lora_" in n for n in names)


def test_lora_not_built_for_inference(tiny_model_dir: Path) -> None:
    settings = ModelSettings(name_or_path=str(tiny_model_dir), lora=LoraSettings())
    assert load_model_and_processor(settings).peft_config is None


def test_flash_attention_without_cuda_is_clear_error(tiny_model_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    settings = ModelSettings(name_or_path=str(tiny_model_dir), attn_implementation="flash_attention_2")
    with pytest.raises(ModelLoadError, match="flash_attention_2 needs CUDA"):
        load_model_and_processor(settings)
