"""Every YAML under configs/ validates deeply (schema, registries, trl's own config classes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spatialladder.cli import app
from spatialladder.config.load import load_config, read_yaml

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ALL = sorted(p for p in CONFIGS.rglob("*.yaml") if "accelerate" not in p.parts)


def test_there_are_configs() -> None:
    assert ALL, f"no configs found under {CONFIGS}"


KINDS_BY_FOLDER = {"data": {"data"}, "eval": {"eval"}, "train": {"sft", "grpo"}}
TRL_CONFIG_CLASS = {"sft": "trl.SFTConfig", "grpo": "trl.GRPOConfig"}


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_validates(path: Path) -> None:
    """``config validate`` passes and ran the deep checks of the config's kind: trl's own config class for training
    configs, every rung (itself deep-checked) for a ladder; configs sit in the folder of their kind."""
    cfg = load_config(path)
    folder = path.relative_to(CONFIGS).parts[0]
    assert cfg.kind in KINDS_BY_FOLDER.get(folder, {cfg.kind}), f"{path}: a kind: {cfg.kind} config in {folder}/"
    result = CliRunner().invoke(app, ["config", "validate", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{path}: OK (schema ({cfg.kind})"), result.output
    if cfg.kind in TRL_CONFIG_CLASS:
        assert TRL_CONFIG_CLASS[cfg.kind] in result.output, result.output
    if cfg.kind == "ladder":
        stages = cfg.stage_paths()
        assert stages, f"{path}: a ladder with no rungs"
        for stage, rel in stages.items():
            rung = load_config(path.parent / rel)
            expected = f"{stage}: {path.parent / rel} [schema ({rung.kind}); {TRL_CONFIG_CLASS[rung.kind]}"
            assert expected in result.output, (expected, result.output)


@pytest.mark.parametrize("path", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_are_mappings(path: Path) -> None:
    data = read_yaml(path)
    assert "distributed_type" in data and "num_processes" in data


NEW_LADDERS = {
    # ladder → (family, base model, published --like shape of the base, GiB per rung before activations on 79.2 GiB)
    "ladder_qwen3vl_4b.yaml": ("qwen3-vl", "Qwen/Qwen3-VL-4B-Instruct", "qwen3-vl-4b", (67.6, 67.6, 67.6, 75.8)),
    "ladder_qwen3vl_2b.yaml": ("qwen3-vl", "Qwen/Qwen3-VL-2B-Instruct", "qwen3-vl-2b", (32.9, 32.9, 32.9, 36.8)),
    "ladder_qwen3.5_2b.yaml": ("qwen3.5", "Qwen/Qwen3.5-2B", "qwen3.5-2b", (34.9, 34.9, 34.9, 39.0)),
}
CHANGED_PER_RUNG = {"output_dir", "model.name_or_path", "model.min_pixels", "model.max_pixels"}


def flat(data: object, prefix: str = "") -> dict:
    if isinstance(data, dict):
        return {k: v for key, sub in data.items() for k, v in flat(sub, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): data}


@pytest.mark.parametrize("ladder", sorted(NEW_LADDERS))
def test_new_family_ladders_change_only_base_model_outputs_and_pixel_budgets(ladder: str) -> None:
    """Each rung is configs/ladder.yaml's with the base model, the output folder and the pixel budgets changed; the
    budgets are the paper's 16 and 128 tokens per image or frame in the family's factor (16·32², 128·32² px)."""
    from spatialladder.models.families import family_named

    family, base, _, _ = NEW_LADDERS[ladder]
    ours, theirs = load_config(CONFIGS / "ladder.yaml"), load_config(CONFIGS / ladder)
    assert theirs.base_model == base and ours.stage_paths().keys() == theirs.stage_paths().keys()
    tag = ladder.removeprefix("ladder_").removesuffix(".yaml")
    fam = family_named(family)
    for stage, rel in ours.stage_paths().items():
        a = flat(load_config(CONFIGS / rel).model_dump(mode="json"))
        b = flat(load_config(CONFIGS / theirs.stage_paths()[stage]).model_dump(mode="json"))
        assert {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} == CHANGED_PER_RUNG, stage
        assert (b["model.min_pixels"], b["model.max_pixels"]) == (fam.tokens_to_pixels(16), fam.tokens_to_pixels(128))
        assert (b["model.min_pixels"], b["model.max_pixels"]) == (16_384, 131_072)
        assert b["output_dir"] == a["output_dir"].replace("checkpoints/", f"checkpoints/{tag}/")
        first = stage == "localization"
        assert b["model.name_or_path"] == (
            base if first else a["model.name_or_path"].replace("checkpoints/", f"checkpoints/{tag}/")
        )


@pytest.mark.parametrize("ladder", sorted(NEW_LADDERS))
def test_memory_check_runs_for_the_new_families_and_fits_one_80gb_card(tmp_path: Path, ladder: str) -> None:
    """With the base model's published config.json at hand, ``config validate --gpu-memory-gib 79.2`` checks every
    rung (before the shapes were counted, it skipped Qwen3-VL and Qwen3.5 silently) and each fits a single 79.2 GiB
    card before activations (the Qwen3-VL-4B GRPO rung with 3.4 GiB to spare: see that ladder's header)."""
    import json

    from spatialladder.testing.qwen_published import published_config

    _, _, like, gib = NEW_LADDERS[ladder]
    (tmp_path / "config.json").write_text(json.dumps(published_config(like)))
    args = ["config", "validate", "-c", str(CONFIGS / ladder), "--set", f"base_model={tmp_path}"]
    result = CliRunner().invoke(app, [*args, "--gpu-memory-gib", "79.2"])
    assert result.exit_code == 0, result.output
    lines = [part for part in result.output.split("memory: ")[1:]]
    assert [float(line.split(" GiB")[0]) for line in lines] == list(gib)
    assert all(line.split(")")[0].endswith("of 79.2 before activations (single, train") for line in lines)
