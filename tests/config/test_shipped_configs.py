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
