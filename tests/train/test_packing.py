"""Padding-free SFT batches, on CPU up to the flash-attention call: the packed batch is the padded batch without its
padding (same tokens, labels, mRoPE positions and vision tensors), gives the padded batch's loss through sdpa's
block-diagonal mask, and the switch is refused where it cannot run (no flash-attention, no CUDA). Qwen2.5-VL and
Qwen3-VL; every family's packed positions against its ``get_rope_index``: ``tests/train/test_positions.py``.

Not run here (no GPU): the flash-attention varlen kernel itself; ``tests/gpu/test_sft_padding_free.py`` covers it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from spatialladder.config.load import validate_mapping
from spatialladder.config.sft import SFTStageConfig
from spatialladder.errors import ConfigError


def config(model_dir: Path, records: dict[str, Path], loss_on: str = "assistant", **top: object) -> SFTStageConfig:
    raw = {
        "kind": "sft",
        "stage": "spatial",
        "output_dir": "unused",
        "loss_on": loss_on,
        "model": {"name_or_path": str(model_dir), "max_pixels": 28 * 28 * 16, "min_pixels": 28 * 28},
        "data": {"files": [str(records["spatial"])]},
        **top,
    }
    return validate_mapping(raw, SFTStageConfig)


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    from spatialladder.config.base import ModelSettings
    from spatialladder.models.load import load_model_and_processor

    settings = ModelSettings(name_or_path=str(tiny_model_dir), dtype="float32", max_pixels=28 * 28 * 16, min_pixels=784)
    return load_model_and_processor(settings)


def padded_and_packed(loaded, tiny_model_dir, tiny_records, loss_on: str):
    """One batch of a single-image, a video, an 8-view and a second single-image row, collated both ways."""
    from spatialladder.train.collator import VisionSFTCollator, training_chat_template
    from spatialladder.train.sft import sft_rows
    from spatialladder.train.sft_rows import load_samples

    cfg = config(tiny_model_dir, tiny_records, loss_on)
    rows = sft_rows(cfg, load_samples(cfg)[0], loaded.processor, loaded.family)
    template = training_chat_template(loaded.processor, loaded.family) if loss_on == "assistant" else None
    kw = {"loss_on": loss_on, "chat_template": template, "video_fps": 2.0}
    examples = [rows.row(i) for i in (0, 2, 1, 3)]
    padded = VisionSFTCollator(loaded.processor, **kw)(examples)
    packed = VisionSFTCollator(loaded.processor, **kw, padding_free=True, model_config=loaded.model.config)(examples)
    return padded, packed


@pytest.mark.parametrize("loss_on", ["assistant", "all"])
def test_packed_batch_is_the_padded_batch_without_padding(loaded, tiny_model_dir, tiny_records, loss_on) -> None:
    padded, packed = padded_and_packed(loaded, tiny_model_dir, tiny_records, loss_on)
    mask = padded["attention_mask"].bool()
    lengths = mask.sum(dim=1).tolist()
    total = sum(lengths)
    assert min(lengths) < max(lengths)  # the padded batch has padding to drop
    assert "attention_mask" not in packed
    assert packed["input_ids"].shape == packed["labels"].shape == packed["mm_token_type_ids"].shape == (1, total)
    assert torch.equal(packed["input_ids"][0], padded["input_ids"][mask])
    assert torch.equal(packed["mm_token_type_ids"][0], padded["mm_token_type_ids"][mask])
    # position_ids (4, 1, T): text positions restart at 0 per row; rows 1-3 the model's own mRoPE positions
    position_ids = packed["position_ids"]
    assert position_ids.shape == (4, 1, total)
    assert position_ids[0, 0].tolist() == [p for n in lengths for p in range(n)]
    mrope, _ = loaded.model.model.get_rope_index(
        padded["input_ids"],
        padded["mm_token_type_ids"],
        image_grid_thw=padded["image_grid_thw"],
        video_grid_thw=padded["video_grid_thw"],
        second_per_grid_ts=padded["second_per_grid_ts"],
        attention_mask=padded["attention_mask"],
    )
    assert torch.equal(position_ids[1:, 0], mrope[:, mask])
    assert not torch.equal(position_ids[1, 0], position_ids[0, 0])  # vision tokens: 3-D, not text, positions
    # labels: the padded labels of real tokens, each row's first token unsupervised (never a target either way)
    starts = torch.tensor([0, *torch.tensor(lengths).cumsum(0)[:-1].tolist()])
    expected = padded["labels"][mask].clone()
    # assistant-only: already unsupervised; official ``all``: supervised in the padded batch but never a target there
    assert (expected[starts] == -100).all() == (loss_on == "assistant")
    expected[starts] = -100
    assert torch.equal(packed["labels"][0], expected)
    for key in ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw", "second_per_grid_ts"):
        assert torch.equal(packed[key], padded[key]), key


@pytest.mark.parametrize("loss_on", ["assistant", "all"])
def test_packed_forward_gives_the_padded_loss(loaded, tiny_model_dir, tiny_records, loss_on) -> None:
    """On CPU the packed rows go through sdpa with the block-diagonal mask transformers derives from the restarting
    text positions (no cache, as in training); with flash-attention the same positions select the varlen kernel."""
    padded, packed = padded_and_packed(loaded, tiny_model_dir, tiny_records, loss_on)
    model = loaded.model.eval()
    with torch.no_grad():
        a = model(**padded, use_cache=False)
        b = model(**packed, use_cache=False)
    assert float(b.loss) == pytest.approx(float(a.loss), rel=1e-6)
    assert torch.allclose(b.logits[0], a.logits[padded["attention_mask"].bool()], atol=1e-5)


def test_padding_free_needs_flash_attention_in_the_config(tiny_model_dir, tiny_records) -> None:
    with pytest.raises(ConfigError, match="padding_free: .*needs model.attn_implementation: flash_attention_2"):
        config(tiny_model_dir, tiny_records, padding_free=True)
    with pytest.raises(ConfigError, match="trainer.padding_free is set by spatialladder itself"):
        config(tiny_model_dir, tiny_records, trainer={"padding_free": True})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_config_validate_refuses_padding_free_without_cuda(
    tiny_model_dir, tiny_records, tmp_path, monkeypatch, capsys
) -> None:
    import sys

    import yaml

    from spatialladder.cli import main

    raw = config(tiny_model_dir, tiny_records).model_dump(mode="json")
    raw["padding_free"] = True
    raw["model"]["attn_implementation"] = "flash_attention_2"
    path = tmp_path / "pf.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setattr(sys, "argv", ["spatialladder", "config", "validate", "-c", str(path)])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "padding_free: true needs CUDA and flash-attention's varlen kernels" in lines[0]
    assert str(path) in lines[0] and "CUDA" in lines[0]


@pytest.fixture(scope="module")
def loaded_qwen3_vl(tiny_family_dirs):
    from spatialladder.config.base import ModelSettings
    from spatialladder.models.load import load_model_and_processor

    path = str(tiny_family_dirs["qwen3-vl"])
    settings = ModelSettings(name_or_path=path, dtype="float32", max_pixels=32 * 32 * 16, min_pixels=32 * 32)
    return load_model_and_processor(settings)


@pytest.mark.parametrize("loss_on", ["assistant", "all"])
def test_qwen3_vl_packed_batch_gives_the_padded_loss(loaded_qwen3_vl, tiny_family_dirs, tiny_records, loss_on) -> None:
    """Qwen3-VL packs as Qwen2.5-VL does: the collator's packed positions are ``Qwen3VLModel.get_rope_index``'s on
    the padded batch (no ``second_per_grid_ts``: its frame times are text stamps), its text model takes the same
    ``(4, 1, T)`` positions (``modeling_qwen3_vl.py`` 795-797), DeepStack adds the vision features at the packed
    vision tokens, and the loss is the padded batch's."""
    padded, packed = padded_and_packed(loaded_qwen3_vl, tiny_family_dirs["qwen3-vl"], tiny_records, loss_on)
    model = loaded_qwen3_vl.model.eval()
    mask = padded["attention_mask"].bool()
    assert "second_per_grid_ts" not in padded and "pixel_values_videos" in padded
    mrope, _ = model.model.get_rope_index(
        padded["input_ids"],
        padded["mm_token_type_ids"],
        image_grid_thw=padded["image_grid_thw"],
        video_grid_thw=padded["video_grid_thw"],
        attention_mask=padded["attention_mask"],
    )
    assert torch.equal(packed["position_ids"][1:, 0], mrope[:, mask])
    with torch.no_grad():
        a = model(**padded, use_cache=False)
        b = model(**packed, use_cache=False)
    assert float(b.loss) == pytest.approx(float(a.loss), rel=1e-6)
    assert torch.allclose(b.logits[0], a.logits[mask], atol=1e-5)
